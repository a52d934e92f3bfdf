"""The mux-python ApiClient built from settings, and the one place SDK calls are made.

`build_api_client` points the SDK at `settings.mux_api_url`, so the emulator and the real Mux differ only
in configuration. `MuxBase._call` wraps every SDK call: it adds the request timeout, turns SDK and
urllib3 exceptions into `core.errors` classes (keeping Mux's own messages), and retries transient ones
under the policy from `core/retry.py`.

Reads that sync jobs depend on (every list walk, get asset, get upload, video views) take Mux's raw JSON
(`_raw_json`, the SDK call with `_preload_content=False`) rather than SDK models: the models raise
`ValueError` on an enum value Mux added after mux-python 5.1.0 (a new asset status, say) and drop fields
they do not know, while Lectern must keep both and carry on (core/mux/unknown.py logs them once). The SDK
still builds the request: auth, query encoding and the host. `_walk` runs a list walk through the one
paginator (core/mux/pagination.py).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator, Mapping
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx
import mux_python
import urllib3
from mux_python.rest import ApiException

from core.errors import (
    MuxAuthError,
    MuxError,
    MuxInvalidRequest,
    MuxNotFound,
    MuxRateLimited,
    MuxResponseInvalid,
    MuxUnavailable,
    TransientError,
)
from core.logging import get_logger
from core.mux.pagination import ListPage, Paginator, paginate
from core.retry import DEFAULT_POLICY, Retrier, RetryPolicy
from core.settings import Settings

T = TypeVar("T")
log = get_logger(__name__)


def build_api_client(settings: Settings) -> mux_python.ApiClient:
    cfg = mux_python.Configuration(
        host=str(settings.mux_api_url).rstrip("/"),
        username=settings.mux_token_id or None,
        password=settings.mux_token_secret.get_secret_value() or None,
    )
    # Our Retrier is the only retry layer: urllib3's own retries would hide failures from it and double
    # the attempts. False also makes urllib3 raise the underlying error instead of MaxRetryError.
    cfg.retries = False
    cfg.connection_pool_maxsize = 16
    return mux_python.ApiClient(cfg)


def parse_error_body(body: bytes | str | None) -> tuple[str | None, tuple[str, ...]]:
    """Mux's error type and messages from `{"error": {...}}` or the 429 shape `{"errors": [...]}`."""
    if not body:
        return None, ()
    try:
        doc = json.loads(body)
    except (ValueError, TypeError):
        text = body.decode(errors="replace") if isinstance(body, bytes) else body
        return None, (text[:500],)
    if not isinstance(doc, dict):
        return None, ()
    error = doc.get("error")
    if isinstance(error, dict):
        messages = error.get("messages") or ([error["message"]] if error.get("message") else [])
        return error.get("type"), tuple(str(m) for m in messages)
    errors = doc.get("errors")
    if isinstance(errors, list):
        return None, tuple(str(m) for m in errors)
    return None, ()


def parse_retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not headers:
        return None
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        # "inf", "1e999" and "nan" parse as floats but are no delay at all: unreadable, like "soon".
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def translate_api_exception(exc: ApiException, operation: str) -> MuxError:
    status = int(exc.status or 0)
    err_type, messages = parse_error_body(exc.body)
    detail = "; ".join(messages) or (exc.reason or "no message")
    text = f"Mux {operation} failed ({status}): {detail}"
    kwargs: dict[str, Any] = {"status": status, "type": err_type, "messages": messages}
    if status == 429:
        return MuxRateLimited(
            f"{text} — rate limited; retry later", retry_after=parse_retry_after(exc.headers), **kwargs
        )
    if status in (401, 403):
        return MuxAuthError(f"{text} — check MUX_TOKEN_ID/MUX_TOKEN_SECRET and the token's permissions", **kwargs)
    if status == 404:
        return MuxNotFound(text, **kwargs)
    if status == 408 or status >= 500:
        return MuxUnavailable(text, **kwargs)
    if status == 0:
        if (exc.reason or "").startswith("Failed to parse"):
            return MuxResponseInvalid(text, **kwargs)
        return MuxUnavailable(text, **kwargs)
    return MuxInvalidRequest(text, **kwargs)


class MuxBase:
    """Holds the SDK client and runs calls through translation + retry. Feature mixins build on it."""

    def __init__(
        self,
        settings: Settings,
        api_client: mux_python.ApiClient | None = None,
        *,
        retry_policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.api_client = api_client or build_api_client(settings)
        self.retrier = Retrier(policy=retry_policy, sleep=sleep, on_retry=self._log_retry)
        self.timeout_s = settings.mux_request_timeout_s
        self.max_pages = settings.mux_list_max_pages
        self.assets_api = mux_python.AssetsApi(self.api_client)
        self.uploads_api = mux_python.DirectUploadsApi(self.api_client)
        self.playback_ids_api = mux_python.PlaybackIDApi(self.api_client)
        self.views_api = mux_python.VideoViewsApi(self.api_client)
        self.delivery_usage_api = mux_python.DeliveryUsageApi(self.api_client)
        self.exports_api = mux_python.ExportsApi(self.api_client)
        self.signing_keys_api = mux_python.SigningKeysApi(self.api_client)
        self._files_http: httpx.Client | None = None

    def files_http(self) -> httpx.Client:
        """A plain HTTP client for the signed file URLs Mux hands out (no Mux credentials on it)."""
        if self._files_http is None:
            self._files_http = httpx.Client(timeout=httpx.Timeout(self.timeout_s), follow_redirects=True)
        return self._files_http

    def close(self) -> None:
        self.api_client.close()
        if self._files_http is not None:
            self._files_http.close()

    @staticmethod
    def _log_retry(error: TransientError, retry_number: int, delay: float) -> None:
        log.warning("mux.retry", retry=retry_number, delay_s=round(delay, 3), error=error.message)

    def _call(self, operation: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        kwargs.setdefault("_request_timeout", self.timeout_s)

        def attempt() -> T:
            try:
                return fn(*args, **kwargs)
            except ApiException as exc:
                raise translate_api_exception(exc, operation) from exc
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise MuxUnavailable(f"Mux {operation} failed: {type(exc).__name__}: {exc}", status=0) from exc
            except ValueError as exc:
                # The SDK validates enums/ranges while building response models (see mux-api.md §0).
                raise MuxResponseInvalid(f"Mux {operation}: unreadable response: {exc}") from exc

        return self.retrier.call(attempt)

    def _raw_json(self, operation: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        """An SDK call's answer as Mux's JSON object, without building (and validating) SDK models."""

        def fetch(*call_args: Any, **call_kwargs: Any) -> dict[str, Any]:
            # The body is read inside the retried call, so a connection dropped mid-body is retried too.
            # A body that is not a JSON object raises ValueError, which `_call` reports as MuxResponseInvalid.
            return json_body(fn(*call_args, _preload_content=False, **call_kwargs))

        return self._call(operation, fetch, *args, **kwargs)

    def _raw_data(self, operation: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The `data` object of a single-object answer (`{"data": {...}}`)."""
        data = self._raw_json(operation, fn, *args, **kwargs).get("data")
        if not isinstance(data, dict):
            raise MuxResponseInvalid(f"Mux {operation}: the answer has no data object")
        return data

    def _walk(
        self, operation: str, fn: Callable[..., Any], paginator: Paginator, **kwargs: Any
    ) -> Iterator[list[dict[str, Any]]]:
        """Every page of a list endpoint as lists of JSON rows, walked by `paginator` (page numbers or cursors)."""

        def fetch(params: dict[str, Any]) -> ListPage:
            page = ListPage.from_json(self._raw_json(operation, fn, **kwargs, **params), operation)
            return ListPage(
                items=[item for item in page.items if isinstance(item, dict)],
                total_row_count=page.total_row_count,
                next_cursor=page.next_cursor,
            )

        return paginate(fetch, paginator, operation=operation, max_pages=self.max_pages)


def json_body(response: Any) -> dict[str, Any]:
    """The body of an SDK call made with `_preload_content=False`, as a JSON object."""
    if response is None:
        raise ValueError("no response body")
    try:
        body = response.data
    finally:
        response.release_conn()
    doc = json.loads(body)
    if not isinstance(doc, dict):
        raise ValueError("Mux answered a non-object JSON body")
    return doc


def require(value: T | None, operation: str) -> T:
    """mux-python returns None when the status code is not the one it maps (e.g. 200 on a create)."""
    if value is None:
        raise MuxResponseInvalid(f"Mux {operation}: empty or unexpected response (check the status code)")
    return value
