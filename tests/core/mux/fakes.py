"""Small fakes at MuxService's own seam (the SDK API objects), for unit tests without HTTP."""

from __future__ import annotations

import json
from typing import Any


class RawResponse:
    """What an SDK call made with `_preload_content=False` returns: urllib3's response (body + release_conn)."""

    def __init__(self, doc: Any) -> None:
        self.data = json.dumps(doc).encode()
        self.released = False

    def release_conn(self) -> None:
        self.released = True
