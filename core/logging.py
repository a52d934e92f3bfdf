"""Structured logs: one event name plus fields, secrets masked before a record exists.

    log = get_logger(__name__)
    log.info("webhook.applied", event_id=..., lesson_id=..., outcome="applied")

Masking happens when the record is created (so pytest's caplog, third-party handlers and our own
formatter all see the masked version):
- a field whose NAME looks secret (token, secret, password, signature, authorization, private_key, ...)
  is replaced by `********`;
- any value (field or message) containing a registered secret value (`register_secrets`, done by
  `configure_logging` from Settings) has it replaced;
- JWTs and PEM / base64-PEM blobs are replaced wherever they appear, so a token pasted into an error
  message does not leak either.
`configure_logging` installs one handler on the root logger that writes JSON lines (or `key=value`
text) and applies the same redaction to records from other libraries (uvicorn access lines carry URLs).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import IO, Any

MASK = "********"
FIELDS_ATTR = "lectern_fields"
EVENT_ATTR = "lectern_event"

_SECRET_NAME = re.compile(
    r"(secret|token|passw|signature|authorization|private_key|api_key|apikey|credential|cookie)", re.IGNORECASE
)
# JWTs (three base64url segments starting with a JSON header), PEM blocks and base64-encoded PEMs.
_SECRET_SHAPES = (
    re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"),
    re.compile(r"-----BEGIN [A-Z ]+-----.*?-----END [A-Z ]+-----", re.DOTALL),
    re.compile(r"LS0tLS1CRUdJT[A-Za-z0-9+/=]{20,}"),
    # Lectern's own tickets (core/tickets.py), wherever they appear.
    re.compile(r"lt1\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{43}"),
    # Query parameters that make a URL a credential: playback tokens, tickets, Mux upload URL and S3/GCS
    # signatures. (Last: `_mask_match` keeps its parameter name.)
    re.compile(
        r"(?i)(access_token|token|ticket|signature|x-amz-signature|x-amz-credential|x-amz-security-token)=[^&\s\"']+"
    ),
)
_registered: set[str] = set()


def register_secrets(values: Iterable[str]) -> None:
    """Remember secret values so they are masked in any log line; short values are skipped (too common)."""
    _registered.update(v for v in values if v and len(v) >= 6)


def clear_registered_secrets() -> None:
    _registered.clear()


def redact_text(text: str) -> str:
    for value in _registered:
        if value in text:
            text = text.replace(value, MASK)
    for pattern in _SECRET_SHAPES:
        text = pattern.sub(lambda m: _mask_match(m), text)
    return text


def _mask_match(match: re.Match[str]) -> str:
    # Keep the parameter name of `token=...` so the line still says what was there.
    if match.re is _SECRET_SHAPES[-1]:
        return f"{match.group(1)}={MASK}"
    return MASK


def mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return mask_fields(value)
    if isinstance(value, list | tuple):
        return [mask_value(v) for v in value]
    return value


def mask_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The processor: mask secret-named fields and secret-looking values (pure, no I/O)."""
    return {
        key: (MASK if value is not None and _SECRET_NAME.search(key) else mask_value(value))
        for key, value in fields.items()
    }


class EventLogger:
    """A thin wrapper over a stdlib logger that logs `event` with masked `fields`."""

    def __init__(self, name: str) -> None:
        self._logger = logging.getLogger(name)

    def _log(self, level: int, event: str, fields: dict[str, Any], exc_info: bool = False) -> None:
        if not self._logger.isEnabledFor(level):
            return
        masked = mask_fields(fields)
        self._logger.log(level, event, exc_info=exc_info, extra={EVENT_ATTR: event, FIELDS_ATTR: masked}, stacklevel=3)

    def debug(self, event: str, **fields: Any) -> None:
        self._log(logging.DEBUG, event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._log(logging.INFO, event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._log(logging.WARNING, event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._log(logging.ERROR, event, fields)

    def exception(self, event: str, **fields: Any) -> None:
        self._log(logging.ERROR, event, fields, exc_info=True)


def get_logger(name: str) -> EventLogger:
    return EventLogger(name)


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    return dict(getattr(record, FIELDS_ATTR, {}) or {})


class StructuredFormatter(logging.Formatter):
    """JSON lines (`json_lines=True`) or `ts level event key=value ...` text."""

    def __init__(self, json_lines: bool = True) -> None:
        super().__init__()
        self.json_lines = json_lines

    def format(self, record: logging.LogRecord) -> str:
        event = getattr(record, EVENT_ATTR, None) or redact_text(record.getMessage())
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": event,
            **record_fields(record),
        }
        if record.exc_info:
            payload["exc"] = redact_text(self.formatException(record.exc_info))
        if self.json_lines:
            return json.dumps(payload, default=str)
        head = f"{payload.pop('ts')} {payload.pop('level'):<7} {payload.pop('event')}"
        payload.pop("logger")
        return " ".join([head, *(f"{k}={v}" for k, v in payload.items())])


class RedactingFilter(logging.Filter):
    """Redacts other libraries' records (formatted message) on the way out of our handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, EVENT_ATTR):
            record.msg = redact_text(record.getMessage())
            record.args = None
        return True


def configure_logging(
    level: str = "INFO", *, secrets: Iterable[str] = (), json_lines: bool = True, stream: IO[str] | None = None
) -> None:
    """Install Lectern's handler on the root logger (idempotent: replaces a previous Lectern handler)."""
    register_secrets(secrets)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_lectern", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(StructuredFormatter(json_lines=json_lines))
    handler.addFilter(RedactingFilter())
    handler._lectern = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)


def settings_secrets(settings: Any) -> list[str]:
    """Every secret value in a Settings object (for `register_secrets`)."""
    from pydantic import SecretStr

    out: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr) and value.get_secret_value():
            out.append(value.get_secret_value())
    return out
