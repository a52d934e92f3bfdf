"""Every page as every role over the test world: no raw `None`/`nan`, no `µ`, no doubled lesson numbers, no
emoji, no snapshot file names or setting names for non-admins, and every table headed in words with "—" for
missing values."""

from __future__ import annotations

import json
import re

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.navigation import pages_for
from tests.dashboard.conftest import AppFactory, page_text

ROLES = ("teacher_a", "analyst", "admin")
DOUBLED = re.compile(r"\b(\d+)\. \1\. ")
EMOJI = re.compile("[\U0001f000-\U0001ffff\u2600-\u27bf\u2b00-\u2bff\u231a-\u23ff\ufe0f]")
SETTING = re.compile(r"\b(LECTERN|MUX|S3|AWS)_[A-Z_]+")


def visible_text(at: AppTest) -> str:
    """What a reader sees, but the iframes' HTML (tested on their own); table cells are CSV, so a missing
    value is empty there and the table's placeholder is checked below."""
    return "\n".join([page_text(at).split("\n<!doctype html>")[0], *(str(m.proto.delta) for m in at.metric)])


def role_pages() -> list[tuple[str, str]]:
    role_of = {"teacher_a": "teacher", "analyst": "analyst", "admin": "admin"}
    return [(who, spec.path) for who in ROLES for specs in pages_for(role_of[who]).values() for spec in specs]


@pytest.mark.parametrize(("who", "page"), role_pages())
def test_the_page_reads_clean(app: AppFactory, who: str, page: str) -> None:
    at = app(who, page=page)
    assert not at.exception, at.exception
    text = visible_text(at)
    for bad in ("None", "nan", "NaN", "µ", "Traceback"):
        assert not re.search(rf"\b{bad}\b" if bad.isalpha() else re.escape(bad), text), (page, bad)
    assert not DOUBLED.search(text), DOUBLED.search(text)
    assert not EMOJI.search(text), EMOJI.search(text)
    if who == "teacher_a":
        assert ".duckdb" not in text, page
    if who != "admin":
        assert not SETTING.search(text), (page, SETTING.search(text))
    for frame in at.dataframe:
        if page == "pages/sql.py":
            continue  # a query's own column names
        config = json.loads(frame.proto.columns)
        shown = [c for c in frame.value.columns if config.get(str(c), {}).get("hidden") is not True]
        headers = [config.get(str(c), {}).get("label") for c in shown]
        assert all(h and "_" not in h for h in headers), (page, headers)
        assert frame.proto.placeholder == "—", page
