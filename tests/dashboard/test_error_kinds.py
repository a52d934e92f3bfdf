"""Every error kind on a real page: `st.error` with the user message, no exception, no traceback."""

from __future__ import annotations

import logging

import pytest

from core.errors import ErrorKind
from core.logging import record_fields
from tests.dashboard.conftest import AppFactory, page_text
from tests.error_kinds import INTERNAL_DETAIL, sample


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_a_lectern_error_shows_its_user_message(
    kind: ErrorKind, app: AppFactory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def failing(*args: object, **kwargs: object) -> None:
        raise sample(kind).error

    # My lessons (a teacher's first page) reads the teacher's courses first: that read fails.
    monkeypatch.setattr("dashboard.platform_db.courses", failing)
    with caplog.at_level(logging.WARNING, logger="dashboard.error_boundary"):
        at = app("teacher_a")

    assert not at.exception
    assert [e.value for e in at.error] == [sample(kind).shown]
    shown = page_text(at)
    assert "Traceback" not in shown and INTERNAL_DETAIL not in shown and "request id" not in shown

    records = [r for r in caplog.records if r.getMessage() == "dashboard.page_error"]
    assert len(records) == 1
    fields = record_fields(records[0])
    assert fields["kind"] == kind.value and fields["message"] == sample(kind).error.message
    assert not records[0].exc_info  # an expected error: no traceback in the log either
