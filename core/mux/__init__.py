"""Mux through mux-python: `MuxService` plus Lectern's small views of Mux objects."""

from core.mux.client import build_api_client
from core.mux.models import Asset, PlaybackId, SigningKey, Upload
from core.mux.service import MuxService

__all__ = ["Asset", "MuxService", "PlaybackId", "SigningKey", "Upload", "build_api_client"]
