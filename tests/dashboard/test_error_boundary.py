"""A page that fails shows a short message with a request id, never a traceback; the log has both."""

from __future__ import annotations

import logging
import re
import tomllib
from pathlib import Path

import pytest

from core.logging import record_fields
from tests.dashboard.conftest import AppFactory, page_text

SECRET_PATH = "/srv/lectern/secret-internal/path.py"
CONFIG = Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml"


def test_streamlit_config_hides_error_details_and_third_party_links() -> None:
    client = tomllib.loads(CONFIG.read_text())["client"]
    assert client["showErrorDetails"] == "none"
    assert client["showErrorLinks"] is False


def test_a_failing_page_shows_a_request_id_and_logs_the_traceback(
    app: AppFactory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"could not open {SECRET_PATH}")

    # AppTest runs the script in this process: the page's import of platform_db finds the patched function.
    monkeypatch.setattr("dashboard.platform_db.courses", broken)
    with caplog.at_level(logging.ERROR, logger="dashboard.error_boundary"):
        at = app("teacher_a")

    assert not at.exception  # nothing reached Streamlit's own error display
    errors = [e.value for e in at.error]
    assert len(errors) == 1
    found = re.fullmatch(r"Something went wrong on this page \(request id ([0-9a-f]{12})\)\..*", errors[0])
    assert found is not None, errors
    shown = page_text(at)
    assert SECRET_PATH not in shown and "Traceback" not in shown and "RuntimeError" not in shown

    records = [r for r in caplog.records if r.getMessage() == "dashboard.page_failed"]
    assert len(records) == 1
    record = records[0]
    fields = record_fields(record)
    assert fields["request_id"] == found.group(1)
    assert fields["error"] == "RuntimeError" and fields["page"] and fields["user_id"]
    assert record.exc_info is not None and SECRET_PATH in str(record.exc_info[1])
    assert "broken" in logging.Formatter().formatException(record.exc_info)  # the traceback is in the log


def test_st_stop_passes_through_the_boundary(app: AppFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # My lessons calls st.stop() when the teacher has no course: that ends the page, it is no failure.
    # (st.rerun passing through is covered by signing in: the sign-in page reruns the app.)
    monkeypatch.setattr("dashboard.platform_db.courses", lambda *args, **kwargs: [])
    at = app("teacher_a")
    assert [t.value for t in at.title] == ["My lessons"]
    assert [i.value for i in at.info][-1].startswith("No courses yet")
    assert not at.error and not at.exception
