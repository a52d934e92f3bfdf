"""Per-process resources for the dashboard, built once (settings, clients)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.settings import Settings, load_settings
from core.storage import build_s3_client


@st.cache_resource
def settings() -> Settings:
    return load_settings()


@st.cache_resource
def s3_client() -> Any:
    return build_s3_client(settings())
