"""The uploader in Chromium when the upload URL refuses the page's origin (the dashboard opened at localhost,
the upload made for 127.0.0.1): the message says it is a CORS/origin refusal and names LECTERN_CORS_ORIGIN,
instead of blaming the connection; a server that does not answer at all is still "the connection dropped".
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from dashboard.components import UploaderConfig, uploader_html
from emulator.testing import EmulatorServer
from tests.conftest import free_port
from tests.dashboard.test_browser import CHROMIUM_ARGS

pytestmark = pytest.mark.browser

STATIC = Path(__file__).resolve().parents[2] / "dashboard" / "static"
CLIP = b"\x00\x00\x00\x18ftypmp42" + bytes(300 * 1024)  # any bytes: the first request already fails


class _Page(SimpleHTTPRequestHandler):
    """`/` is the uploader page; `/app/static/...` the dashboard's static files (the vendored bundle)."""

    html = ""

    def do_GET(self) -> None:
        if self.path == "/":
            body = self.html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.path = self.path.removeprefix("/app/static")
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(port: int, endpoint: str) -> ThreadingHTTPServer:
    """The uploader for `endpoint` at http://localhost:PORT (its scripts from the same origin, as in the dashboard)."""
    html = uploader_html(UploaderConfig(endpoint=endpoint, lesson_id=1), base_url=f"http://localhost:{port}")
    handler = type("Page", (_Page,), {"html": html})
    server = ThreadingHTTPServer(("127.0.0.1", port), partial(handler, directory=str(STATIC)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorServer]:
    with EmulatorServer() as server:
        yield server


@pytest.fixture(scope="module")
def chromium(chromium_path: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def upload_message(chromium: Any, endpoint: str, port: int) -> str:
    """Open the uploader at http://localhost:PORT, pick a file and return the message it ends with."""
    server = serve(port, endpoint)
    page = chromium.new_page()
    try:
        page.goto(f"http://localhost:{port}/")
        page.locator("mux-uploader input[type=file]").set_input_files(
            {"name": "lesson.mp4", "mimeType": "video/mp4", "buffer": CLIP}
        )
        page.wait_for_function("document.body.dataset.state === 'error'", timeout=30_000)
        return str(page.locator("#msg").inner_text())
    finally:
        page.close()
        server.shutdown()


def test_an_upload_url_for_another_origin_is_reported_as_cors(chromium: Any, emu: EmulatorServer) -> None:
    port = free_port()
    created = emu.http.post(
        "/video/v1/uploads",
        json={"cors_origin": f"http://127.0.0.1:{port}", "new_asset_settings": {"playback_policies": ["public"]}},
        auth=(emu.token_id, emu.token_secret),
    )
    message = upload_message(chromium, created.json()["data"]["url"], port)
    assert "CORS" in message and "LECTERN_CORS_ORIGIN" in message, message
    assert f"http://localhost:{port}" in message  # the address to add
    assert "connection" not in message.replace("not your connection", ""), message


def test_an_upload_url_that_does_not_answer_is_a_dropped_connection(chromium: Any) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}/_upload/gone?signature=x"  # nothing listens there
    message = upload_message(chromium, endpoint, free_port())
    assert "the connection dropped" in message and "Check your connection" in message, message
    assert "CORS" not in message
