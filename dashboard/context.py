"""Per-process resources for the dashboard: settings and the one service container (`st.cache_resource`).

Services come from `lectern()` (core/container.py, the same container the API and the sync use); the
functions below it only read from it, so pages keep their short names.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import streamlit as st
from sqlalchemy.orm import Session, sessionmaker

from core.client_address import Network
from core.container import Lectern
from core.dashboard_session import SessionLimits
from core.lessons import LessonVideoService
from core.logging import configure_logging, settings_secrets
from core.mux.service import MuxService
from core.passwords import HashingSlots
from core.playback import PlaybackService
from core.settings import Settings, load_settings
from core.signin_throttle import SignInThrottle


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
def lectern() -> Lectern:
    """One per process: every session shares its pools, clients, sign-in throttle and hashing slots."""
    return Lectern.from_settings(settings(), kind="dashboard")


def s3_client() -> Any:
    return lectern().s3


def session_factory() -> sessionmaker[Session]:
    return lectern().session_factory


def mux() -> MuxService | None:
    return lectern().mux


def playback() -> PlaybackService:
    return lectern().playback


def lessons() -> LessonVideoService:
    return lectern().lessons


def signin_throttle() -> SignInThrottle:
    return lectern().signin_throttle


def hashing_slots() -> HashingSlots:
    return lectern().hashing_slots


def trusted_proxies() -> list[Network]:
    return settings().trusted_proxies


def session_limits() -> SessionLimits:
    return SessionLimits.from_settings(settings())


def page_origin() -> str | None:
    """The origin the browser opened this page at (scheme://host:port, from st.context.url), if it says."""
    parts = urlsplit(st.context.url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else None


def dashboard_base_url() -> str:
    """Where this browser reaches the dashboard: the page's own origin, else the first of LECTERN_CORS_ORIGIN's.

    Web component scripts and media in `components.html` need absolute URLs (the frame is about:srcdoc); from
    another origin (localhost vs 127.0.0.1) the browser would refuse the module scripts without CORS headers.
    """
    return page_origin() or settings().cors_origins[0]
