"""Find configured secrets and signed tokens in text (log lines, rendered pages). Used by tests/conftest.py's
session-wide log scan, tests/api/test_no_secrets.py and tests/dashboard/test_no_secrets.py.

A *secret* is a configured value (Mux token secret, webhook secret, signing key, JWT secret, AWS secret,
pseudonym key, users' passwords) found verbatim. A *signed token* is a credential by its shape: a JWT, or a
URL parameter that carries one (`token=`, `signature=`, `X-Amz-Signature=`, `X-Amz-Credential=`) with a
value other than Lectern's mask.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable, Iterable

from core.logging import MASK, RedactingFilter, StructuredFormatter

JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}")
TICKET = re.compile(r"lt1\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{43}")
SIGNED_PARAM = re.compile(
    r"(?i)\b(access_token|token|ticket|signature|x-amz-signature|x-amz-credential|x-amz-security-token)=(?!"
    + re.escape(MASK)
    + r")[^&\s\"'<>]+"
)
MIN_SECRET_LEN = 8  # shorter values ("testing") are ordinary words: they would match everywhere


def find_leaks(text: str, secrets: Iterable[str]) -> list[str]:
    """What in `text` is a secret or a signed token (each named, never quoted in full)."""
    found = [f"secret {s[:3]}…({len(s)} chars)" for s in secrets if len(s) >= MIN_SECRET_LEN and s in text]
    found += [f"JWT {m.group(0)[:12]}…" for m in JWT.finditer(text)]
    found += [f"ticket {m.group(0)[:8]}…" for m in TICKET.finditer(text)]
    found += [f"signed URL parameter {m.group(1)}=" for m in SIGNED_PARAM.finditer(text)]
    return found


class LeakScanner(logging.Handler):
    """A root-logger handler that renders each record as Lectern's own handler would, then scans the line.

    The record is copied first: the redacting filter rewrites third-party records, and other handlers
    (pytest's caplog) must still see the original.
    """

    def __init__(self, secrets: Callable[[], Iterable[str]], *, keep: int = 50) -> None:
        super().__init__(level=logging.DEBUG)
        self.secrets = secrets
        self.keep = keep
        self.lines = 0
        self.leaks: list[str] = []
        self.formatter_ = StructuredFormatter(json_lines=True)
        self.redact = RedactingFilter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            rendered = copy.copy(record)
            self.redact.filter(rendered)
            line = self.formatter_.format(rendered)
        except Exception as exc:  # a record our formatter cannot render is a finding too, not a crash
            line = f"<unformattable record {record.name}: {type(exc).__name__}>"
        self.lines += 1
        leaks = find_leaks(line, self.secrets())
        if leaks and len(self.leaks) < self.keep:
            self.leaks.append(f"{record.name} {record.levelname}: {', '.join(leaks)} in {line[:240]!r}")
