"""The preview page's view model: the caption under the player and the chapter list."""

from __future__ import annotations

from datetime import UTC, datetime

from core.playback import PlaybackInfo, PlaybackUrls
from dashboard.views.preview import chapters_inside, chapters_line, playback_caption


def test_mux_caption_has_the_policy_length_and_expiry() -> None:
    info = PlaybackInfo(
        lesson_id=1,
        provider="mux",
        policy="signed",
        urls=PlaybackUrls(hls="https://stream.test/p.m3u8"),
        duration_s=125.0,
        expires_at=datetime(2026, 6, 30, 14, 5, tzinfo=UTC),
    )
    assert playback_caption(info) == "Mux HLS, signed · 2:05 · links valid until 14:05 UTC"


def test_s3_caption_has_no_policy_and_unknown_length_is_a_dash() -> None:
    info = PlaybackInfo(lesson_id=1, provider="s3", policy="public", urls=PlaybackUrls(mp4="https://s3.test/a.mp4"))
    assert playback_caption(info) == "S3 MP4 (presigned) · —"


def test_chapters_are_listed_with_their_start() -> None:
    assert chapters_line([{"start_s": 0, "title": "Intro"}, {"start_s": 75, "title": "Loops"}]) == (
        "**Chapters:** 0:00 Intro · 1:15 Loops"
    )
    assert chapters_line(None) is None and chapters_line([]) is None


def test_only_chapters_inside_the_video_are_kept_in_order() -> None:
    chapters = [{"start_s": 480, "title": "Late"}, {"start_s": 0, "title": "Intro"}, {"start_s": 5, "title": "Body"}]
    assert [c["title"] for c in chapters_inside(chapters, 10.0)] == ["Intro", "Body"]  # 8:00 in a 10 s clip: gone
    assert [c["title"] for c in chapters_inside(chapters, None)] == ["Intro", "Body", "Late"]  # length unknown
    assert chapters_inside([{"title": "no start"}, {"start_s": -1, "title": "before"}], 60.0) == []
    assert chapters_inside(None, 60.0) == []
