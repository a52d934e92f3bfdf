"""The HTML for Mux's web components (pure string builders)."""

from __future__ import annotations

import re

from core.playback import PlaybackInfo, PlaybackUrls, mux_urls
from dashboard.components import (
    CAST_SENDER,
    PlayerViewer,
    UploaderConfig,
    mux_hosted_domain,
    player_attributes,
    player_html,
    script_json,
    static_url,
    uploader_html,
)

VIEWER = PlayerViewer(viewer_user_id="7", lesson_title='Loops & "lists"', course_title="Python", chapters=None)


def mux_info(policy: str = "public", tokens: dict[str, str] | None = None) -> PlaybackInfo:
    urls = mux_urls("http://127.0.0.1:9/stream", "http://127.0.0.1:9/image", "pb123", tokens)
    return PlaybackInfo(42, provider="mux", policy=policy, urls=urls, tokens=tokens or {}, playback_id="pb123")


def test_static_urls_are_absolute_from_the_dashboard_base() -> None:
    assert (
        static_url("http://host:8501/", "vendor/mux-player.mjs") == "http://host:8501/app/static/vendor/mux-player.mjs"
    )


def test_only_https_stream_hosts_count_as_real_mux() -> None:
    assert mux_hosted_domain("https://stream.mux.com") == "mux.com"
    assert mux_hosted_domain("https://stream.videos.example.org") == "videos.example.org"
    assert mux_hosted_domain("http://127.0.0.1:4000/stream") is None
    assert mux_hosted_domain("https://cdn.example.org/stream") is None


def test_emulator_lessons_get_src_poster_and_storyboard_directly() -> None:
    attrs = player_attributes(mux_info(), VIEWER, "http://127.0.0.1:9/stream")
    assert attrs["src"] == "http://127.0.0.1:9/stream/pb123.m3u8"
    assert attrs["poster"] == "http://127.0.0.1:9/image/pb123/thumbnail.jpg"
    assert attrs["storyboard-src"].endswith("/image/pb123/storyboard.vtt")
    assert "playback-id" not in attrs


def test_real_mux_lessons_use_playback_id_and_one_token_per_audience() -> None:
    tokens = {"video": "tv", "thumbnail": "tt", "storyboard": "ts"}
    attrs = player_attributes(mux_info("signed", tokens), VIEWER, "https://stream.videos.example.org")
    assert (attrs["playback-id"], attrs["custom-domain"]) == ("pb123", "videos.example.org")
    assert (attrs["playback-token"], attrs["thumbnail-token"], attrs["storyboard-token"]) == ("tv", "tt", "ts")
    assert "src" not in attrs
    assert "custom-domain" not in player_attributes(mux_info(), VIEWER, "https://stream.mux.com")


def test_mux_data_metadata_names_the_lesson_viewer_and_title() -> None:
    attrs = player_attributes(mux_info(), VIEWER, "http://127.0.0.1:9/stream")
    assert attrs["metadata-video-id"] == "42"
    assert attrs["metadata-viewer-user-id"] == "7"
    assert attrs["metadata-video-title"] == 'Loops & "lists"'
    assert attrs["playbackrates"].split() == ["0.5", "0.75", "1", "1.25", "1.5", "1.75", "2"]


def test_s3_lessons_play_the_presigned_mp4_in_the_same_player() -> None:
    info = PlaybackInfo(lesson_id=5, provider="s3", policy="presigned", urls=PlaybackUrls(mp4="http://s3/x.mp4?sig=1"))
    html = player_html(info, VIEWER, base_url="http://dash:8501", stream_base_url="https://stream.mux.com")
    assert 'src="http://s3/x.mp4?sig=1"' in html
    assert "<mux-player " in html and 'src="http://dash:8501/app/static/vendor/mux-player.mjs"' in html
    # The cast placeholder comes before the player bundle, so the player never fetches Google's script.
    assert html.index(CAST_SENDER) < html.index("mux-player.mjs")


def test_attribute_values_and_chapter_json_are_escaped() -> None:
    hostile = PlayerViewer("7", 'x" onload="alert(1)', "c", chapters=[{"start_s": 1, "title": "</script><b>"}])
    html = player_html(mux_info(), hostile, base_url="http://d", stream_base_url="http://e/stream")
    assert 'onload="alert(1)"' not in html
    assert "</script><b>" not in html
    assert script_json({"t": "</script>"}) == '{"t": "\\u003c/script\\u003e"}'


def test_uploader_posts_to_the_upload_url_in_256_kib_chunks() -> None:
    cfg = UploaderConfig(endpoint="http://emu/_upload/u1?signature=abc&x=1", lesson_id=3, chunk_bytes=1_000_000)
    html = uploader_html(cfg, base_url="http://dash:8501")
    assert 'endpoint="http://emu/_upload/u1?signature=abc&amp;x=1"' in html
    chunk_kb = int(re.search(r'chunk-size="(\d+)"', html).group(1))  # type: ignore[union-attr]
    assert chunk_kb % 256 == 0 and chunk_kb * 1024 <= 1_000_000
    assert 'src="http://dash:8501/app/static/vendor/mux-uploader.mjs"' in html
    assert '"endpoint": "http://emu/_upload/u1?signature=abc\\u0026x=1"' in html
    # Type/size checks and the resume path ship with the page.
    assert "is not a video" in html and "bytes */" in html and '"maxBytes": ' in html
