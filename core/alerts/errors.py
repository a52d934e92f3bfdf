"""Alert errors, under Lectern's one hierarchy (`core.errors`).

```
PermanentError
├── AlertConfigInvalid   LECTERN_ALERT_RULES or LECTERN_ALERT_WEBHOOK_URLS is malformed (misconfigured)
├── AlertInputInvalid    a silence duration or state filter that does not parse (invalid)
├── AlertNotFound        no alert with that id (not_found)
└── AlertConflict        the alert is resolved: nothing to acknowledge or silence (conflict)
```
"""

from __future__ import annotations

from core.errors import Conflict, ErrorKind, NotFound, PermanentError


class AlertConfigInvalid(PermanentError):
    """A rule override or receiver entry is malformed; the message names the rule or entry, never a URL."""

    kind = ErrorKind.MISCONFIGURED


class AlertInputInvalid(PermanentError):
    kind = ErrorKind.INVALID


class AlertNotFound(NotFound):
    pass


class AlertConflict(Conflict):
    pass
