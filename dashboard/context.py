"""Per-process resources for the dashboard, built once from settings (`st.cache_resource`).

The same core services the API builds (api/services.py), built here because the dashboard never imports
the API: the platform DB, Mux, S3, playback and the lesson video use cases.
"""

from __future__ import annotations

from typing import Any

import streamlit as st
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.db.engine import make_engine, make_session_factory
from core.lessons import LessonVideoService
from core.mux.service import MuxService
from core.playback import PlaybackService, PlaybackSigner
from core.settings import Settings, load_settings
from core.storage import StorageService, build_s3_client


@st.cache_resource
def settings() -> Settings:
    return load_settings()


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


def dashboard_base_url() -> str:
    """Where browsers reach this dashboard: the origin Mux accepts direct uploads from (LECTERN_CORS_ORIGIN).

    Web component scripts and media in `components.html` need absolute URLs (the frame is about:srcdoc).
    """
    return settings().cors_origin.rstrip("/")
