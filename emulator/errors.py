"""Mux-shaped errors.

REST API (`/video/v1`, `/system/v1`, `/data/v1`): `{"error": {"type": ..., "messages": [...]}}`, except
429 which Mux answers with `{"errors": ["Too many requests, retry later."]}`.
Stream and image hosts: `{"code": <grpc-ish code>, "message": ...}` as documented for image.mux.com.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

NOT_FOUND_MESSAGE = "The requested resource either doesn't exist or you don't have access to it."
TOO_MANY_REQUESTS_MESSAGE = "Too many requests, retry later."

API_PREFIXES: tuple[str, ...] = ("/video/v1", "/system/v1", "/data/v1")


def is_api_path(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in API_PREFIXES)


class MuxError(Exception):
    """An error answered in Mux's REST shape."""

    def __init__(self, status: int, error_type: str, messages: list[str] | str) -> None:
        self.status = status
        self.error_type = error_type
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        super().__init__(f"{status} {error_type}: {'; '.join(self.messages)}")

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        return mux_error_response(self.status, self.error_type, self.messages, headers)


def mux_error_response(
    status: int, error_type: str, messages: list[str], headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": {"type": error_type, "messages": messages}}, status_code=status, headers=headers)


def invalid(*messages: str) -> MuxError:
    return MuxError(400, "invalid_parameters", list(messages))


def not_found() -> MuxError:
    return MuxError(404, "not_found", NOT_FOUND_MESSAGE)


def unauthorized() -> MuxError:
    return MuxError(401, "unauthorized", "Unauthorized request")


def forbidden(message: str) -> MuxError:
    return MuxError(403, "forbidden", message)


def too_many_requests_response(retry_after: int | None, headers: dict[str, str] | None = None) -> JSONResponse:
    all_headers = {**(headers or {})}
    if retry_after is not None:
        all_headers["Retry-After"] = str(retry_after)
    return JSONResponse({"errors": [TOO_MANY_REQUESTS_MESSAGE]}, status_code=429, headers=all_headers)


# gRPC-style codes used by Mux's delivery hosts (3 = invalid argument, 5 = not found, ...).
HOST_CODES: dict[int, int] = {400: 3, 403: 7, 404: 5, 412: 9, 429: 8, 500: 13, 503: 14}


class HostError(Exception):
    """An error answered by the stream/image hosts."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(f"{status}: {message}")

    def body(self) -> dict[str, Any]:
        return {"code": HOST_CODES.get(self.status, 2), "message": self.message}
