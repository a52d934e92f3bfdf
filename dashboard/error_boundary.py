"""Run a page so that a failure shows a short message with a request id, never a traceback.

Streamlit would print the exception (server paths, source lines) into the page; .streamlit/config.toml
also hides those details (`client.showErrorDetails = "none"`), and this catches what a page raises, logs it
with its traceback and a request id, and shows the id so a user's report can be matched to the log line.
Streamlit's own control flow (st.stop, st.rerun, st.switch_page) raises BaseException, not Exception,
and passes through.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import streamlit as st

from core.logging import get_logger

log = get_logger(__name__)
MESSAGE = "Something went wrong on this page (request id {request_id}). Try again, or report the request id."


def new_request_id() -> str:
    return uuid.uuid4().hex[:12]


def run_guarded(run: Callable[[], object], *, page: str, user_id: int | None) -> str | None:
    """Run `run`; when it raises, log and show the failure and return its request id (else None)."""
    try:
        run()
    except Exception as exc:
        request_id = new_request_id()
        log.exception(
            "dashboard.page_failed", request_id=request_id, page=page, user_id=user_id, error=type(exc).__name__
        )
        st.error(MESSAGE.format(request_id=request_id), icon=":material/error:")
        return request_id
    return None
