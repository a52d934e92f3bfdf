"""No secret on any rendered dashboard page, for every role; signed tokens only in a player's media URLs.

Every page is run (Streamlit AppTest) as an admin, a teacher and an analyst with every secret configured,
and everything the page holds is collected: each element's protobuf (markdown, text, captions, alerts,
metrics, JSON, widget labels and options, iframes' HTML) and each dataframe as CSV.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tests.core.signing import signing_key
from tests.dashboard.conftest import AppFactory
from tests.dashboard.world import PASSWORD, World
from tests.secret_scan import find_leaks

PAGES = sorted(
    p.name for p in (Path(__file__).parents[2] / "dashboard" / "pages").glob("*.py") if p.name != "signin.py"
)
ROLES = ("admin", "teacher_a", "analyst")
SECRETS = {
    "MUX_TOKEN_SECRET": "mux-token-secret-for-page-scan-0123",
    "MUX_WEBHOOK_SECRET": "mux-webhook-secret-for-page-scan-0123",
    "LECTERN_PLATFORM_JWT_SECRET": "platform-jwt-secret-for-page-scan-0123456789",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-access-key-for-page-scan-0123",
    "LECTERN_PSEUDONYM_KEY": "pseudonym-key-for-page-scan-0123",
}
# A player's media attributes and thumbnail URLs are where signed tokens belong.
PLAYER_MEDIA = re.compile(r'\b(src|poster|storyboard-src|playback-token|thumbnail-token|storyboard-token)="[^"]*"')
THUMBNAIL_URL = re.compile(r"https?://[^\s\"',]+/thumbnail\.(?:jpg|png|webp)\?token=[A-Za-z0-9._-]+")


def _walk(node: Any) -> Iterator[Any]:
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _walk(child)


def page_content(at: AppTest) -> str:
    parts = []
    for node in _walk(at._tree):
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(str(proto))
    parts += [frame.value.to_csv() for frame in at.dataframe]
    return "\n".join(parts)


@pytest.fixture
def secrets_env(dashboard_env: World, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    key = signing_key()
    values = SECRETS | {"MUX_SIGNING_KEY_ID": key.key_id, "MUX_SIGNING_PRIVATE_KEY": key.private_key_b64}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return [*SECRETS.values(), key.private_key_b64, PASSWORD]


@pytest.mark.parametrize("who", ROLES)
def test_no_page_shows_a_secret_or_a_token_outside_the_player(
    app: AppFactory, world: World, secrets_env: list[str], who: str
) -> None:
    shown = 0
    everything = []
    for page in PAGES:
        at = app(who, page=f"pages/{page}", lesson=world.lessons["a_mux"])
        assert not at.exception, (who, page, at.exception)
        content = page_content(at)
        shown += len(content)
        everything.append(content)
        secrets = [leak for leak in find_leaks(content, secrets_env) if leak.startswith("secret")]
        assert secrets == [], (who, page, secrets)
        # Signed tokens: only in the player's media attributes and in thumbnail URLs.
        outside = THUMBNAIL_URL.sub("", PLAYER_MEDIA.sub("", content.replace('\\"', '"')))
        assert find_leaks(outside, []) == [], (who, page, find_leaks(outside, []))
    assert shown > 10_000  # the pages rendered something to scan
    assert "Alpha Mux lesson" in "".join(everything)  # ... and the collector sees what they show
