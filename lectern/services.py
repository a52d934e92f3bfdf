"""Clients built from settings, for the CLI and the long-running processes it starts."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from core.settings import Settings


def s3_client(settings: Settings) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=str(settings.s3_endpoint_url).rstrip("/") if settings.s3_endpoint_url else None,
        aws_access_key_id=settings.aws_access_key_id or None,
        aws_secret_access_key=settings.aws_secret_access_key.get_secret_value() or None,
        region_name=settings.aws_region,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
