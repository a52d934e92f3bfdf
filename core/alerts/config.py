"""A deployment's alerting: its rules (defaults + `LECTERN_ALERT_RULES`) and its notification receivers.

Receivers come from `LECTERN_ALERT_WEBHOOK_URLS`, comma-separated, each `name=https://...` or a bare URL
(named after its host: `hooks.slack.com`, then `hooks.slack.com-2` ...). The name is what the database, the
logs and the pages show; the URL is a secret (a Slack incoming-webhook URL is the credential) and is only
ever used to send.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pydantic import SecretStr

from core.alerts.errors import AlertConfigInvalid
from core.alerts.rules import Rule, resolve_rules

if TYPE_CHECKING:
    from core.settings import Settings

_NAMED = re.compile(r"^([A-Za-z0-9_.-]{1,64})=(.+)$", re.DOTALL)


@dataclass(frozen=True)
class Receiver:
    name: str
    url: SecretStr = field(repr=False)


def parse_receivers(entries: Iterable[SecretStr | str]) -> tuple[Receiver, ...]:
    out: list[Receiver] = []
    names: set[str] = set()
    for number, entry in enumerate(entries, start=1):
        text = (entry.get_secret_value() if isinstance(entry, SecretStr) else entry).strip()
        if not text:
            continue
        named = _NAMED.match(text) if not text.lower().startswith(("http://", "https://")) else None
        name, url = (named.group(1), named.group(2).strip()) if named else (None, text)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise AlertConfigInvalid(f"receiver {number} is not name=URL or an http(s) URL")
        base = name or parts.hostname[:60]
        unique, n = base, 1
        while unique in names:
            n += 1
            unique = f"{base}-{n}"
        if name and unique != name:
            raise AlertConfigInvalid(f"receiver name {name!r} is given twice")
        names.add(unique)
        out.append(Receiver(unique, SecretStr(url)))
    return tuple(out)


@dataclass(frozen=True)
class AlertConfig:
    rules: dict[str, Rule]
    receivers: tuple[Receiver, ...] = ()
    budget_usd: float | None = None

    @property
    def receiver_names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.receivers)

    @classmethod
    def from_settings(cls, settings: Settings) -> AlertConfig:
        return cls(
            rules=resolve_rules(settings.alert_rules),
            receivers=parse_receivers(settings.alert_webhook_urls),
            budget_usd=settings.monthly_budget_usd,
        )
