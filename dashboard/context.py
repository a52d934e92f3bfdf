"""Per-process resources for the dashboard, built once from settings (`st.cache_resource`).

The same core services the API builds (api/services.py), built here because the dashboard never imports
the API: the platform DB, Mux, S3, playback and the lesson video use cases.
"""

from __future__ import annotations

import logging
from typing import Any

import streamlit as st
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.client_address import Network, parse_networks
from core.dashboard_session import SessionLimits
from core.db.engine import make_engine, make_session_factory
from core.lessons import LessonVideoService
from core.logging import configure_logging, settings_secrets
from core.mux.service import MuxService
from core.passwords import HashingSlots
from core.playback import PlaybackService, PlaybackSigner
from core.settings import Settings, load_settings
from core.signin_throttle import SignInThrottle, ThrottleLimits
from core.storage import StorageService, build_s3_client


@st.cache_resource
def settings() -> Settings:
    return load_settings()


@st.cache_resource
def configure_process_logging() -> None:
    """Lectern's log handler (JSON lines, secrets masked) unless the host already has one (pytest does)."""
    if not logging.getLogger().handlers:
        current = settings()
        configure_logging(current.log_level, secrets=settings_secrets(current))


@st.cache_resource
def s3_client() -> Any:
    return build_s3_client(settings())


@st.cache_resource
def engine() -> Engine:
    return make_engine(settings().database_url)


@st.cache_resource
def session_factory() -> sessionmaker[Session]:
    return make_session_factory(engine())


@st.cache_resource
def mux() -> MuxService | None:
    current = settings()
    return MuxService(current) if current.mux_configured else None


@st.cache_resource
def playback() -> PlaybackService:
    current = settings()
    storage = StorageService(current, s3_client(), mux=mux())
    return PlaybackService(current, storage=storage, signer=PlaybackSigner.from_settings(current))


@st.cache_resource
def lessons() -> LessonVideoService:
    return LessonVideoService(session_factory(), mux=mux(), playback=playback())


@st.cache_resource
def signin_throttle() -> SignInThrottle:
    return SignInThrottle(session_factory(), ThrottleLimits.from_settings(settings()))


@st.cache_resource
def hashing_slots() -> HashingSlots:
    """One per process: every session's sign-ins share the cap on concurrent password checks."""
    current = settings()
    return HashingSlots(current.signin_max_concurrent_hashes, current.signin_hash_wait_s)


@st.cache_resource
def trusted_proxies() -> list[Network]:
    return parse_networks(settings().trusted_proxies)


def session_limits() -> SessionLimits:
    return SessionLimits.from_settings(settings())


def dashboard_base_url() -> str:
    """Where browsers reach this dashboard: the origin Mux accepts direct uploads from (LECTERN_CORS_ORIGIN).

    Web component scripts and media in `components.html` need absolute URLs (the frame is about:srcdoc).
    """
    return settings().cors_origin.rstrip("/")
