"""Run a page so that a failure shows a short message, never a traceback.

A `LecternError` is something Lectern expected could go wrong (no warehouse yet, Mux down, S3 credentials
expired): the page shows its `user_message` with `st.error` and the log has the internal message. Anything
else is a bug: the page shows a generic message with a request id, and the log has the traceback under the
same id, so a user's report can be matched to the log line. `.streamlit/config.toml` also hides
Streamlit's own error details (`client.showErrorDetails = "none"`). Streamlit's control flow (st.stop,
st.rerun, st.switch_page) raises BaseException, not Exception, and passes through.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import streamlit as st

from core.errors import LecternError
from core.logging import get_logger

log = get_logger(__name__)
MESSAGE = "Something went wrong on this page (request id {request_id}). Try again, or report the request id."


def new_request_id() -> str:
    return uuid.uuid4().hex[:12]


def run_guarded(run: Callable[[], object], *, page: str, user_id: int | None) -> str | None:
    """Run `run`; when it raises, log and show the failure and return its request id (else None)."""
    try:
        run()
    except LecternError as exc:
        request_id = new_request_id()
        log.warning(
            "dashboard.page_error",
            request_id=request_id,
            page=page,
            user_id=user_id,
            error=type(exc).__name__,
            kind=exc.kind.value,
            message=exc.message,
        )
        st.error(exc.user_message, icon=":material/error:")
        return request_id
    except Exception as exc:
        request_id = new_request_id()
        log.exception(
            "dashboard.page_failed", request_id=request_id, page=page, user_id=user_id, error=type(exc).__name__
        )
        st.error(MESSAGE.format(request_id=request_id), icon=":material/error:")
        return request_id
    return None
