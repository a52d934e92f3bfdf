"""Fault injection and Mux-like rate limits, configured at runtime through /_emulator/faults.

Every random decision comes from a `random.Random` seeded by (seed, route) so a run is repeatable:
the same seed and the same sequence of requests give the same sequence of faults.
"""

from __future__ import annotations

import math
import random
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

_PARAM = re.compile(r"\{[^}]*\}")


def route_key(method: str, template: str) -> str:
    """`GET /video/v1/assets/{ASSET_ID}` and `GET /video/v1/assets/{asset_id}` are the same route."""
    return f"{method.upper()} {_PARAM.sub('{}', template)}"


@dataclass
class RouteFault:
    p429: float = 0.0
    p500: float = 0.0
    p503: float = 0.0
    latency_ms: float = 0.0
    # Seconds for the Retry-After header; None omits it. Mux's captured 429s had no Retry-After, and
    # mux-python's urllib3 pool silently retries (and sleeps) GET 429/503 answers that carry one.
    retry_after: int | None = 1


@dataclass
class RateLimitConfig:
    enabled: bool = False
    read_per_second: float = 5.0
    read_burst: int = 10
    write_per_second: float = 1.0
    write_burst: int = 3
    retry_after_header: bool = True


@dataclass
class WebhookFaultConfig:
    fail_rate: float = 0.0
    duplicate_rate: float = 0.0
    out_of_order_rate: float = 0.0
    out_of_order_delay: float = 1.0


@dataclass
class FaultConfig:
    seed: int = 0
    routes: dict[str, RouteFault] = field(default_factory=dict)
    rate_limits: RateLimitConfig = field(default_factory=RateLimitConfig)
    webhooks: WebhookFaultConfig = field(default_factory=WebhookFaultConfig)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _probability(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a number between 0 and 1")
    return float(value)


def _non_negative(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{name} must be a non-negative number")
    return float(value)


def _object(value: Any, name: str, allowed: set[str]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be an object")
    unknown = set(value) - allowed
    if unknown:
        raise ValueError(f"{name} has unknown keys: {', '.join(sorted(unknown))}")
    return value


def parse_fault_config(body: Any, default_seed: int) -> FaultConfig:
    """Validate a PUT /_emulator/faults body; raises ValueError with a readable message."""
    body = _object(body, "faults", {"seed", "routes", "rate_limits", "webhooks"})
    seed = body.get("seed", default_seed)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError("seed must be an integer")
    routes: dict[str, RouteFault] = {}
    raw_routes = _object(body.get("routes"), "routes", set(body.get("routes") or {}))
    for key, spec in raw_routes.items():
        spec = _object(spec, f"routes[{key!r}]", {"p429", "p500", "p503", "latency_ms", "retry_after"})
        if key != "*" and not re.fullmatch(r"[A-Za-z]+ /\S*", key):
            raise ValueError(f"route {key!r} must be '*' or 'METHOD /path/template'")
        fault = RouteFault(
            p429=_probability(spec.get("p429", 0.0), f"{key}.p429"),
            p500=_probability(spec.get("p500", 0.0), f"{key}.p500"),
            p503=_probability(spec.get("p503", 0.0), f"{key}.p503"),
            latency_ms=_non_negative(spec.get("latency_ms", 0.0), f"{key}.latency_ms"),
            retry_after=None
            if spec.get("retry_after", 1) is None
            else int(_non_negative(spec.get("retry_after", 1), f"{key}.retry_after")),
        )
        if fault.p429 + fault.p500 + fault.p503 > 1.0:
            raise ValueError(f"{key}: p429 + p500 + p503 must not exceed 1")
        routes["*" if key == "*" else route_key(*key.split(" ", 1))] = fault
    limits = _object(body.get("rate_limits"), "rate_limits", set(RateLimitConfig.__dataclass_fields__))
    rate_limits = RateLimitConfig(
        enabled=bool(limits.get("enabled", False)),
        read_per_second=_non_negative(limits.get("read_per_second", 5.0), "read_per_second"),
        read_burst=max(1, int(_non_negative(limits.get("read_burst", 10), "read_burst"))),
        write_per_second=_non_negative(limits.get("write_per_second", 1.0), "write_per_second"),
        write_burst=max(1, int(_non_negative(limits.get("write_burst", 3), "write_burst"))),
        retry_after_header=bool(limits.get("retry_after_header", True)),
    )
    hooks = _object(body.get("webhooks"), "webhooks", set(WebhookFaultConfig.__dataclass_fields__))
    webhooks = WebhookFaultConfig(
        fail_rate=_probability(hooks.get("fail_rate", 0.0), "webhooks.fail_rate"),
        duplicate_rate=_probability(hooks.get("duplicate_rate", 0.0), "webhooks.duplicate_rate"),
        out_of_order_rate=_probability(hooks.get("out_of_order_rate", 0.0), "webhooks.out_of_order_rate"),
        out_of_order_delay=_non_negative(hooks.get("out_of_order_delay", 1.0), "webhooks.out_of_order_delay"),
    )
    return FaultConfig(seed=seed, routes=routes, rate_limits=rate_limits, webhooks=webhooks)


@dataclass
class Decision:
    status: int | None  # 429, 500, 503 or None (let the request through)
    latency_ms: float
    retry_after: int | None


@dataclass
class WebhookDecision:
    fail_first: bool
    duplicate: bool
    delay: float


class TokenBucket:
    def __init__(self, rate: float, capacity: int) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = float(capacity)
        self.updated = time.monotonic()

    def take(self) -> tuple[bool, int, int]:
        """(allowed, remaining, seconds until a token is back)."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True, int(self.tokens), 0
        wait = (1.0 - self.tokens) / self.rate if self.rate > 0 else 60.0
        return False, 0, max(1, math.ceil(wait))


class Faults:
    def __init__(self, seed: int = 0, rate_limits: bool = False) -> None:
        self._lock = threading.Lock()
        self._default_seed = seed
        self._rate_limits_default = rate_limits
        self.set(FaultConfig(seed=seed, rate_limits=RateLimitConfig(enabled=rate_limits)))

    @property
    def config(self) -> FaultConfig:
        return self._config

    def set(self, config: FaultConfig) -> None:
        with self._lock:
            self._config = config
            self._rngs: dict[str, random.Random] = {}
            self._webhook_rng = random.Random(f"{config.seed}|webhooks")
            limits = config.rate_limits
            self._buckets = {
                "read": TokenBucket(limits.read_per_second, limits.read_burst),
                "write": TokenBucket(limits.write_per_second, limits.write_burst),
            }

    def clear(self) -> None:
        self.set(FaultConfig(seed=self._default_seed, rate_limits=RateLimitConfig(enabled=self._rate_limits_default)))

    def decide(self, key: str) -> Decision | None:
        with self._lock:
            rule_key = key if key in self._config.routes else "*"
            rule = self._config.routes.get(rule_key)
            if rule is None:
                return None
            rng = self._rngs.get(rule_key)
            if rng is None:
                rng = self._rngs[rule_key] = random.Random(f"{self._config.seed}|{rule_key}")
            draw = rng.random()
        status: int | None = None
        if draw < rule.p429:
            status = 429
        elif draw < rule.p429 + rule.p500:
            status = 500
        elif draw < rule.p429 + rule.p500 + rule.p503:
            status = 503
        return Decision(status=status, latency_ms=rule.latency_ms, retry_after=rule.retry_after)

    def rate_limit(self, method: str) -> tuple[bool, dict[str, str], int | None]:
        """(allowed, X-RateLimit headers, Retry-After seconds or None) — always allowed when off."""
        with self._lock:
            if not self._config.rate_limits.enabled:
                return True, {}, 0
            bucket = self._buckets["read" if method in ("GET", "HEAD") else "write"]
            allowed, remaining, wait = bucket.take()
        headers = {"X-RateLimit-Limit": str(bucket.capacity), "X-RateLimit-Remaining": str(remaining)}
        return allowed, headers, wait if self._config.rate_limits.retry_after_header else None

    def webhook_decision(self) -> WebhookDecision:
        with self._lock:
            spec = self._config.webhooks
            rng = self._webhook_rng
            # Always draw three numbers so one rate's setting never shifts another's sequence.
            fail, duplicate, late = rng.random(), rng.random(), rng.random()
        return WebhookDecision(
            fail_first=fail < spec.fail_rate,
            duplicate=duplicate < spec.duplicate_rate,
            delay=spec.out_of_order_delay if late < spec.out_of_order_rate else 0.0,
        )
