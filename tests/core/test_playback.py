from __future__ import annotations

import base64
from datetime import UTC, datetime

import jwt
import pytest

from core.db.models import Lesson
from core.errors import Conflict, NotConfigured, PermanentError
from core.playback import PlaybackService, PlaybackSigner, decode_private_key, detect_provider, mux_urls
from core.settings import load_settings
from tests.core.signing import signing_key

NOW = 1_800_000_123.0


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def signer(clock: Clock, **kwargs: int) -> PlaybackSigner:
    key = signing_key()
    return PlaybackSigner(key.key_id, key.private_key_b64, clock=clock, **kwargs)  # type: ignore[arg-type]


def lesson(**fields: object) -> Lesson:
    base: dict[str, object] = {"id": 5, "title": "L", "playback_policy": "public", "video_status": "none"}
    return Lesson(**{**base, **fields})


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"mux_playback_id": "p1", "video_url": "legacy/a.mp4"}, "mux"),
        ({"video_url": "legacy/a.mp4"}, "s3"),
        ({"mux_asset_id": "a1", "video_status": "processing"}, None),
        ({}, None),
    ],
)
def test_provider_detection_prefers_mux_then_s3(fields: dict[str, object], expected: str | None) -> None:
    assert detect_provider(lesson(**fields)) == expected


def test_token_claims_and_header_verify_with_the_public_key() -> None:
    key = signing_key()
    token = signer(Clock(), ttl_s=600, bucket_s=60).token("play123", "v", "viewer-9")
    header = jwt.get_unverified_header(token.token)
    assert header["kid"] == "test-kid"
    assert header["alg"] == "RS256"
    claims = jwt.decode(token.token, key.public_key, algorithms=["RS256"], audience="v", options={"verify_exp": False})
    assert claims["sub"] == "play123"
    assert claims["aud"] == "v"
    assert claims["viewer_id"] == "viewer-9"
    assert claims["exp"] == token.exp
    # Minted in the bucket [NOW // 60 * 60, +60): exp is the bucket's end plus the ttl.
    assert token.exp == (int(NOW) // 60 + 1) * 60 + 600
    assert NOW + 600 < token.exp <= NOW + 600 + 60


def test_tokens_are_cached_per_playback_id_audience_viewer_and_bucket() -> None:
    clock = Clock()
    s = signer(clock, ttl_s=600, bucket_s=60)
    first = s.token("p", "v", "u1")
    assert s.token("p", "v", "u1") is first
    assert s.token("p", "t", "u1") is not first
    assert s.token("p", "v", "u2") is not first
    assert (s.hits, s.misses) == (1, 3)
    clock.now = (int(NOW) // 60 + 1) * 60  # next bucket: a fresh token with a later exp
    later = s.token("p", "v", "u1")
    assert later.exp == first.exp + 60
    # Whenever a cached token is handed out it still has more than the ttl to live.
    for offset in range(60):
        clock.now = (int(NOW) // 60 + 1) * 60 + offset
        assert s.token("p", "v", "u1").exp - clock.now > 600


def test_cache_is_bounded_lru() -> None:
    s = signer(Clock(), cache_size=2)
    a = s.token("a", "v", "u")
    s.token("b", "v", "u")
    assert s.token("a", "v", "u") is a  # a becomes most recent
    s.token("c", "v", "u")  # evicts b
    assert len(s._cache) == 2
    misses = s.misses
    s.token("b", "v", "u")
    assert s.misses == misses + 1


def test_private_key_accepts_base64_pem_and_raw_pem_and_rejects_junk() -> None:
    key = signing_key()
    assert decode_private_key(key.private_key_b64) is not None
    assert decode_private_key(base64.b64decode(key.private_key_b64).decode()) is not None
    with pytest.raises(PermanentError):
        decode_private_key("bm90IGEga2V5")


def test_signed_lesson_gets_a_token_per_audience_in_its_urls() -> None:
    settings = load_settings(mux_stream_base_url="http://emu/stream", mux_image_base_url="http://emu/image")
    svc = PlaybackService(settings, signer=signer(Clock(), ttl_s=600, bucket_s=60), clock=Clock())
    info = svc.playback_for(lesson(mux_playback_id="p1", playback_policy="signed", video_duration_s=3.5), "7")
    assert info.provider == "mux"
    assert set(info.tokens) == {"video", "thumbnail", "storyboard"}
    assert info.urls.hls == f"http://emu/stream/p1.m3u8?token={info.tokens['video']}"
    assert info.urls.thumbnail == f"http://emu/image/p1/thumbnail.jpg?token={info.tokens['thumbnail']}"
    assert info.urls.storyboard == f"http://emu/image/p1/storyboard.vtt?token={info.tokens['storyboard']}"
    assert info.urls.poster == info.urls.thumbnail
    assert info.duration_s == 3.5
    assert info.expires_at is not None and info.expires_at.timestamp() > NOW + 600
    auds = {name: jwt.decode(t, options={"verify_signature": False})["aud"] for name, t in info.tokens.items()}
    assert auds == {"video": "v", "thumbnail": "t", "storyboard": "s"}


def test_public_lesson_has_plain_urls_and_no_expiry() -> None:
    info = PlaybackService(load_settings()).playback_for(lesson(mux_playback_id="p2"), "7")
    assert info.urls == mux_urls("https://stream.mux.com", "https://image.mux.com", "p2")
    assert info.urls.hls == "https://stream.mux.com/p2.m3u8"
    assert info.tokens == {}
    assert info.expires_at is None


class FakeStorage:
    def presign_get(self, key_or_url: str, *, ttl_s: int | None = None) -> str:
        return f"https://s3.test/{key_or_url}?ttl={ttl_s}"


def test_legacy_lesson_gets_a_presigned_url_with_its_expiry() -> None:
    settings = load_settings(s3_presign_ttl_s=900)
    info = PlaybackService(settings, storage=FakeStorage(), clock=Clock()).playback_for(
        lesson(video_url="legacy/a.mp4", duration_s=61.0), "7"
    )
    assert info.provider == "s3"
    assert info.urls.mp4 == "https://s3.test/legacy/a.mp4?ttl=900"
    assert info.expires_at == datetime.fromtimestamp(int(NOW) + 900, UTC)
    assert info.duration_s == 61.0


def test_nothing_playable_is_a_conflict_with_the_status() -> None:
    with pytest.raises(Conflict) as caught:
        PlaybackService(load_settings()).playback_for(lesson(video_status="processing"), "7")
    assert caught.value.context["status"] == "processing"


def test_signed_lesson_without_a_signing_key_says_what_to_set() -> None:
    with pytest.raises(NotConfigured, match="MUX_SIGNING_KEY_ID"):
        PlaybackService(load_settings()).playback_for(lesson(mux_playback_id="p", playback_policy="signed"), "7")
