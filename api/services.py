"""The API's services: the container (core/container.py) plus what only the API has, its metrics."""

from __future__ import annotations

from typing import Any

from api.metrics import ApiMetrics
from core.container import WEBHOOK_THREADS, Lectern

__all__ = ["WEBHOOK_THREADS", "Services"]


class Services(Lectern):
    """Built per app with `Services.from_settings(settings, kind="api", ...)`; `start()` builds what requests use."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.metrics = ApiMetrics()  # per app: two apps in one process keep separate registries

    def start(self) -> None:
        """Everything requests use, built now: a bad setting (say, the signing key) fails at start-up, and no
        two requests race to build a pool."""
        for _ in (self.tokens, self.lessons, self.webhooks, self.session_factory, self.tickets, self.progress):
            pass
