"""Cost errors, under Lectern's one hierarchy (`core.errors`): all permanent, fix the input and retry.

```
PermanentError
└── CostError                 base of everything `core.costs` raises on purpose (kind: invalid)
    ├── PriceBookInvalid      the price book file or an override value is malformed
    │   └── UnknownPriceKey   an override names a price that does not exist (.key, .suggestions)
    └── CostInputInvalid      a report/what-if parameter or an input frame is malformed (HTTP 400)
```
"""

from __future__ import annotations

from core.errors import ErrorKind, PermanentError


class CostError(PermanentError):
    """Base class of cost errors."""

    kind = ErrorKind.INVALID


class PriceBookInvalid(CostError):
    pass


class UnknownPriceKey(PriceBookInvalid):
    def __init__(self, key: str, suggestions: list[str]) -> None:
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(
            f"unknown price key {key!r}{hint} Keys look like delivery.plus.1080p or storage.cold_discount; "
            "`lectern costs prices` lists them all."
        )
        self.key = key
        self.suggestions = suggestions


class CostInputInvalid(CostError):
    pass
