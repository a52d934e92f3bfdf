"""HTML for Mux's web components, rendered in `st.iframe` (pure functions: strings in, HTML out).

Both load the standalone bundles vendored by scripts/install_web_components.sh and served by Streamlit's
static serving. Inside the iframe the document is `about:srcdoc`, so every script and media URL is
absolute (built from the dashboard's base URL). `st.components.v1.html` is deprecated in favour of
`st.iframe`, which embeds an HTML string the same way (srcdoc, scripts allowed, same origin).

Player: Mux lessons on the real Mux (stream.mux.com or a `stream.<custom domain>`) get `playback-id` and
per-audience tokens, which also lets Mux Data find the environment from the playback id; anywhere else
(the emulator) the player gets `src`/`poster`/`storyboard-src` directly, because `playback-id` always
builds an https://stream.<domain> URL. Legacy S3 lessons play their presigned MP4 in the same element.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from core.playback import PlaybackInfo

PLAYER_BUNDLE = "vendor/mux-player.mjs"
UPLOADER_BUNDLE = "vendor/mux-uploader.mjs"
PLAYBACK_RATES = "0.5 0.75 1 1.25 1.5 1.75 2"
# The player's only request to the outside world; a placeholder tag with this exact src makes it skip the load.
CAST_SENDER = "https://www.gstatic.com/cv/js/sender/v1/cast_sender.js?loadCastFramework=1"
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".wmv", ".mpg", ".mpeg", ".ts", ".3gp", ".ogv")
# Checked in the browser before any byte is sent, so a wrong file fails in a second, not after an hour.
DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024**3
UPLOAD_CHUNK_UNIT = 256 * 1024
# No upload progress for this long while the browser is online: report a dropped connection, offer Resume.
UPLOAD_STALL_S = 15
# Inlined into the frame (one request fewer, and no second file to keep in step with the bundle).
_UPLOADER_JS = (Path(__file__).parent / "js" / "uploader.js").read_text()


def script_json(value: Any) -> str:
    """JSON safe inside a <script> element: a lesson title containing "</script>" cannot end it."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def static_url(base_url: str, name: str) -> str:
    return f"{base_url.rstrip('/')}/app/static/{name}"


def _attrs(values: dict[str, Any]) -> str:
    parts = []
    for name, value in values.items():
        if value is None or value is False:
            continue
        parts.append(escape(name) if value is True else f'{escape(name)}="{escape(str(value), quote=True)}"')
    return " ".join(parts)


def mux_hosted_domain(stream_base_url: str) -> str | None:
    """The domain for `custom-domain` when streams come from real Mux ("mux.com" or a custom domain), else None."""
    parsed = urlparse(stream_base_url)
    host = parsed.hostname or ""
    if parsed.scheme != "https" or not host.startswith("stream.") or parsed.port not in (None, 443):
        return None
    return host.removeprefix("stream.")


@dataclass(frozen=True)
class PlayerViewer:
    viewer_user_id: str  # the viewer's student key (core/privacy.py), never the platform user id
    lesson_title: str
    course_title: str
    chapters: list[dict[str, Any]] | None = None


def player_attributes(info: PlaybackInfo, viewer: PlayerViewer, stream_base_url: str) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "id": "player",
        "stream-type": "on-demand",
        "playbackrates": PLAYBACK_RATES,
        "accent-color": "#fa50b5",
        "crossorigin": "anonymous",
        # Mux Data: video_id is the lesson id, which is how synced views join back to lessons.
        "metadata-video-id": str(info.lesson_id),
        "metadata-video-title": viewer.lesson_title,
        "metadata-viewer-user-id": viewer.viewer_user_id,
        "metadata-video-series": viewer.course_title,
        "metadata-player-name": "lectern-dashboard-preview",
        "title": viewer.lesson_title,
    }
    if info.provider == "s3":
        attrs["src"] = info.urls.mp4
        attrs["metadata-video-stream-type"] = "on-demand"
        return attrs
    domain = mux_hosted_domain(stream_base_url)
    if domain is not None and info.playback_id:
        attrs["playback-id"] = info.playback_id
        if domain != "mux.com":
            attrs["custom-domain"] = domain
        attrs["playback-token"] = info.tokens.get("video")
        attrs["thumbnail-token"] = info.tokens.get("thumbnail")
        attrs["storyboard-token"] = info.tokens.get("storyboard")
        return attrs
    attrs["src"] = info.urls.hls
    attrs["poster"] = info.urls.poster
    attrs["storyboard-src"] = info.urls.storyboard
    return attrs


def player_html(info: PlaybackInfo, viewer: PlayerViewer, *, base_url: str, stream_base_url: str) -> str:
    chapters = [
        {"startTime": float(c.get("start_s", 0)), "value": str(c.get("title", ""))}
        for c in (viewer.chapters or [])
        if isinstance(c, dict)
    ]
    return f"""<!doctype html>
<html><head><meta charset="utf-8">
<script type="text/plain" src="{escape(CAST_SENDER)}"></script>
<script type="module" src="{escape(static_url(base_url, PLAYER_BUNDLE))}"></script>
<style>
  html, body {{ margin: 0; background: transparent; font-family: sans-serif; }}
  mux-player {{ display: block; width: 100%; aspect-ratio: 16 / 9; }}
  #state {{ font-size: 12px; color: #666; padding: 4px 0; }}
</style></head>
<body>
<mux-player {_attrs(player_attributes(info, viewer, stream_base_url))}></mux-player>
<div id="state" data-provider="{escape(info.provider)}">{escape(info.provider.upper())} · loading</div>
<script type="module">
  const player = document.getElementById("player");
  const state = document.getElementById("state");
  const chapters = {script_json(chapters)};
  await customElements.whenDefined("mux-player");
  player.addEventListener("loadedmetadata", () => {{
    if (chapters.length && player.addChapters) player.addChapters(chapters);
    state.textContent = state.dataset.provider.toUpperCase() + " · ready";
  }});
  player.addEventListener("error", () => {{
    const err = player.error;
    state.textContent = "Playback failed: " + ((err && err.message) || "the video could not be loaded");
    state.dataset.failed = "1";
  }});
</script>
</body></html>"""


@dataclass(frozen=True)
class UploaderConfig:
    endpoint: str
    lesson_id: int
    max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    chunk_bytes: int = 8 * 1024 * 1024
    stall_s: int = UPLOAD_STALL_S

    @property
    def chunk_kb(self) -> int:
        # UpChunk wants KB in multiples of 256 (GCS resumable uploads take 256 KiB multiples).
        units = max(1, self.chunk_bytes // UPLOAD_CHUNK_UNIT)
        return units * 256


def uploader_html(cfg: UploaderConfig, *, base_url: str) -> str:
    """`<mux-uploader>` plus what it lacks: type/size checks, clear messages, and a resume that continues.

    The resume asks the upload URL how much it already holds (`Content-Range: bytes */size`, answered 308
    with `Range`) and PUTs only the rest, so a retry after a network drop (or after reloading the page and
    picking the same file) continues instead of starting over.
    """
    js_cfg = {
        "endpoint": cfg.endpoint,
        "maxBytes": cfg.max_bytes,
        "chunkBytes": cfg.chunk_kb * 1024,
        "exts": list(VIDEO_EXTENSIONS),
        "lessonId": cfg.lesson_id,
        "stallSeconds": cfg.stall_s,
    }
    attrs = _attrs({"id": "uploader", "endpoint": cfg.endpoint, "chunk-size": cfg.chunk_kb, "no-retry": True})
    return f"""<!doctype html>
<html><head><meta charset="utf-8">
<script type="module" src="{escape(static_url(base_url, UPLOADER_BUNDLE))}"></script>
<style>
  html, body {{ margin: 0; font-family: sans-serif; }}
  mux-uploader {{ --progress-bar-fill-color: #fa50b5; }}
  #msg {{ margin: 8px 0; font-size: 14px; min-height: 1.2em; }}
  #msg.error {{ color: #b00020; }} #msg.ok {{ color: #1b5e20; }}
  #resume {{ padding: 6px 14px; font-size: 14px; cursor: pointer; }}
  progress {{ width: 100%; }}
</style></head>
<body data-state="idle">
<mux-uploader {attrs}></mux-uploader>
<progress id="bar" max="1" value="0" hidden></progress>
<div id="msg" role="status" aria-live="polite"></div>
<button id="resume" hidden>Resume upload</button>
<script type="module">
{_UPLOADER_JS.replace("__CFG__", script_json(js_cfg))}
</script>
</body></html>"""
