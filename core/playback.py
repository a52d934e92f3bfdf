"""Which provider plays a lesson, the URLs to play it, and Mux signed-playback tokens.

Provider detection: a Mux playback id wins (the lesson was uploaded to or migrated to Mux), else the
legacy S3 key in `video_url`, else nothing is playable yet.

Signed lessons get one RS256 JWT per audience (`v` video, `t` thumbnail, `s` storyboard): header `kid` =
MUX_SIGNING_KEY_ID, claims `sub` = playback id, `aud`, `exp`, and `viewer_id` (Mux ignores extra claims;
it ties a leaked URL to the viewer in our logs). Tokens are cached per (playback id, audience, viewer,
expiry bucket): time is cut into buckets of `bucket_s` and a token minted in bucket b expires at
(b + 1) * bucket_s + ttl, so a cached token always has MORE than `ttl` seconds left when handed out and
at most ttl + bucket_s. Repeated requests in one bucket reuse the token instead of re-signing.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import jwt
from cryptography.hazmat.primitives import serialization

from core.db.models import PlaybackPolicy, VideoProvider
from core.db.records import LessonLike
from core.errors import Conflict, NotConfigured, PermanentError
from core.settings import Settings

Provider = Literal["mux", "s3"]
Clock = Callable[[], float]
AUDIENCES: dict[str, str] = {"video": "v", "thumbnail": "t", "storyboard": "s"}


def detect_provider(lesson: LessonLike) -> Provider | None:
    if lesson.mux_playback_id:
        return VideoProvider.mux.value
    if lesson.video_url:
        return VideoProvider.s3.value
    return None


@dataclass(frozen=True)
class PlaybackUrls:
    hls: str | None = None
    mp4: str | None = None
    thumbnail: str | None = None
    storyboard: str | None = None
    storyboard_image: str | None = None
    poster: str | None = None


@dataclass(frozen=True)
class PlaybackInfo:
    lesson_id: int
    provider: Provider
    policy: str
    urls: PlaybackUrls
    tokens: dict[str, str] = field(default_factory=dict)
    duration_s: float | None = None
    expires_at: datetime | None = None
    playback_id: str | None = None
    # What the player must send Mux Data as viewer_user_id: the viewer's student key (core/privacy.py).
    viewer_user_id: str | None = None


@dataclass(frozen=True)
class SignedToken:
    token: str
    exp: int


def decode_private_key(value: str) -> Any:
    """The RSA key from MUX_SIGNING_PRIVATE_KEY: base64 of a PEM (as Mux returns it) or a raw PEM."""
    text = value.strip()
    if not text.startswith("-----BEGIN"):
        try:
            text = base64.b64decode(text + "=" * (-len(text) % 4), validate=False).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise PermanentError("MUX_SIGNING_PRIVATE_KEY is neither a PEM nor base64 of a PEM") from exc
    try:
        return serialization.load_pem_private_key(text.encode(), password=None)
    except ValueError as exc:
        raise PermanentError(f"MUX_SIGNING_PRIVATE_KEY is not a readable private key: {exc}") from exc


class PlaybackSigner:
    def __init__(
        self,
        key_id: str,
        private_key: str,
        *,
        ttl_s: int = 3600,
        bucket_s: int = 300,
        cache_size: int = 10_000,
        clock: Clock = time.time,
    ) -> None:
        self.key_id = key_id
        self._key = decode_private_key(private_key)
        self.ttl_s = ttl_s
        self.bucket_s = max(1, bucket_s)
        self.cache_size = cache_size
        self.clock = clock
        self._cache: OrderedDict[tuple[str, str, str, int], SignedToken] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock = time.time) -> PlaybackSigner | None:
        if not settings.signing_configured:
            return None
        return cls(
            settings.mux_signing_key_id,
            settings.mux_signing_private_key.get_secret_value(),
            ttl_s=settings.playback_token_ttl_s,
            bucket_s=settings.playback_token_bucket_s,
            cache_size=settings.playback_token_cache_size,
            clock=clock,
        )

    def sign(self, playback_id: str, audience: str, viewer_id: str, exp: int) -> str:
        claims = {"sub": playback_id, "aud": audience, "exp": exp, "viewer_id": viewer_id}
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.key_id})

    def token(self, playback_id: str, audience: str, viewer_id: str) -> SignedToken:
        bucket = int(self.clock() // self.bucket_s)
        key = (playback_id, audience, viewer_id, bucket)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                self.hits += 1
                return cached
        exp = (bucket + 1) * self.bucket_s + self.ttl_s
        signed = SignedToken(self.sign(playback_id, audience, viewer_id, exp), exp)
        with self._lock:
            self.misses += 1
            if self.cache_size > 0:
                self._cache[key] = signed
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return signed

    def tokens(self, playback_id: str, viewer_id: str) -> dict[str, SignedToken]:
        return {name: self.token(playback_id, aud, viewer_id) for name, aud in AUDIENCES.items()}


def _with_token(url: str, token: str | None) -> str:
    return f"{url}?token={token}" if token else url


def mux_urls(stream_base: str, image_base: str, playback_id: str, tokens: dict[str, str] | None = None) -> PlaybackUrls:
    tokens = tokens or {}
    stream, image = stream_base.rstrip("/"), image_base.rstrip("/")
    thumb = _with_token(f"{image}/{playback_id}/thumbnail.jpg", tokens.get("thumbnail"))
    return PlaybackUrls(
        hls=_with_token(f"{stream}/{playback_id}.m3u8", tokens.get("video")),
        thumbnail=thumb,
        storyboard=_with_token(f"{image}/{playback_id}/storyboard.vtt", tokens.get("storyboard")),
        storyboard_image=_with_token(f"{image}/{playback_id}/storyboard.jpg", tokens.get("storyboard")),
        poster=thumb,
    )


class PresignGet(Protocol):
    """What playback needs from storage (StorageService satisfies it)."""

    def presign_get(self, key_or_url: str, *, ttl_s: int | None = None) -> str: ...


class PlaybackService:
    def __init__(
        self,
        settings: Settings,
        *,
        storage: PresignGet | None = None,
        signer: PlaybackSigner | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.signer = signer
        self.clock = clock
        self.stream_base = str(settings.mux_stream_base_url).rstrip("/")
        self.image_base = str(settings.mux_image_base_url).rstrip("/")

    def playback_for(self, lesson: LessonLike, viewer_id: str) -> PlaybackInfo:
        """Playback for a viewer, or `Conflict` (with the lesson's status) when nothing is playable."""
        provider = detect_provider(lesson)
        if provider == "mux":
            return replace(self._mux(lesson, viewer_id), viewer_user_id=viewer_id)
        if provider == "s3":
            return replace(self._s3(lesson), viewer_user_id=viewer_id)
        raise Conflict(
            f"lesson {lesson.id} has no playable video yet (status {lesson.video_status})",
            context={"lesson_id": lesson.id, "status": lesson.video_status, "error": lesson.video_error},
        )

    def _mux(self, lesson: LessonLike, viewer_id: str) -> PlaybackInfo:
        playback_id = lesson.mux_playback_id or ""
        duration = lesson.video_duration_s if lesson.video_duration_s is not None else lesson.duration_s
        if lesson.playback_policy != PlaybackPolicy.signed:
            return PlaybackInfo(
                lesson_id=lesson.id,
                provider="mux",
                policy=lesson.playback_policy,
                playback_id=playback_id,
                urls=mux_urls(self.stream_base, self.image_base, playback_id),
                duration_s=duration,
            )
        if self.signer is None:
            raise NotConfigured(
                "signed lesson but no signing key: set MUX_SIGNING_KEY_ID and MUX_SIGNING_PRIVATE_KEY "
                "(`lectern mux signing-key create`)"
            )
        signed = self.signer.tokens(playback_id, viewer_id)
        tokens = {name: t.token for name, t in signed.items()}
        return PlaybackInfo(
            lesson_id=lesson.id,
            provider="mux",
            policy=lesson.playback_policy,
            playback_id=playback_id,
            urls=mux_urls(self.stream_base, self.image_base, playback_id, tokens),
            tokens=tokens,
            duration_s=duration,
            expires_at=datetime.fromtimestamp(min(t.exp for t in signed.values()), UTC),
        )

    def _s3(self, lesson: LessonLike) -> PlaybackInfo:
        if self.storage is None:
            raise NotConfigured("legacy S3 lesson but no storage configured (S3_ENDPOINT_URL / AWS_*)")
        ttl = self.settings.s3_presign_ttl_s
        now = self.clock()
        url = self.storage.presign_get(lesson.video_url or "", ttl_s=ttl)
        duration = lesson.duration_s if lesson.duration_s is not None else lesson.video_duration_s
        return PlaybackInfo(
            lesson_id=lesson.id,
            provider="s3",
            policy="presigned",
            urls=PlaybackUrls(mp4=url),
            duration_s=duration,
            expires_at=datetime.fromtimestamp(int(now) + ttl, UTC),
        )
