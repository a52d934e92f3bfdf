"""`lectern webhooks list|show|replay` on the platform DB (SQLite and PostgreSQL), as a `cli:<user>` operator."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from core.db.engine import transaction
from core.db.models import Lesson, OperatorAction
from core.webhooks import WebhookProcessor, parse_event
from lectern.cli import app
from tests.core.mux_events import T0, asset_event, body, upload_event
from tests.factories import make_lesson

runner = CliRunner()


@pytest.fixture
def env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in [n for n in os.environ if n.startswith(("MUX_", "LECTERN_", "S3_", "AWS_"))]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return {"DATABASE_URL": db_url, "COLUMNS": "250"}


def test_list_show_and_replay(env: dict[str, str], session_factory: sessionmaker[Session]) -> None:
    p = WebhookProcessor(session_factory)
    created = upload_event("video.upload.asset_created", "U1", lesson_id=None, asset_id="A1")
    created["data"]["url"] = "https://storage.example/U1?Signature=abc&Expires=1"
    ready = asset_event("video.asset.ready", "A1", lesson_id=None, upload_id="U1", seconds=2, duration=2.0,
                        playback_ids=[{"id": "P1", "policy": "public"}])  # fmt: skip
    for doc in (created, ready):
        assert p.handle(parse_event(body(doc))).outcome == "unmatched"

    listed = runner.invoke(app, ["webhooks", "list", "--upload", "U1", "--format", "json", "--limit", "1"], env=env)
    assert listed.exit_code == 0, listed.output
    page = json.loads(listed.output)
    assert [r["id"] for r in page["data"]] == [ready["id"]] and page["next_cursor"]
    rest = runner.invoke(app, ["webhooks", "list", "--upload", "U1", "--cursor", page["next_cursor"]], env=env)
    assert rest.exit_code == 0 and created["id"] in rest.output and ready["id"] not in rest.output

    shown = runner.invoke(app, ["webhooks", "show", created["id"]], env=env)
    assert shown.exit_code == 0 and "abc" not in shown.output
    assert json.loads(shown.output)["redacted"] == ["data.url"]
    assert runner.invoke(app, ["webhooks", "show", "nope"], env=env).exit_code == 66  # not found

    with transaction(session_factory) as s:  # the lesson appears, waiting for that upload
        lesson_id = make_lesson(s, mux_upload_id="U1", video_status="waiting_upload", video_status_at=T0).id
    refused = runner.invoke(app, ["webhooks", "replay", "--upload", "U1"], env=env, input="n\n")
    assert refused.exit_code == 1 and "Aborted" in refused.output
    one = runner.invoke(app, ["webhooks", "replay", created["id"]], env=env)
    assert one.exit_code == 0 and "unmatched" in one.output and "applied" in one.output
    rest = runner.invoke(app, ["webhooks", "replay", "--upload", "U1", "--outcome", "unmatched", "--yes"], env=env)
    assert rest.exit_code == 0, rest.output
    assert "1 replayed (unmatched -> applied: 1)" in rest.output
    assert runner.invoke(app, ["webhooks", "replay", "--outcome", "nope", "--yes"], env=env).exit_code == 65
    with session_factory() as s:
        lesson = s.get(Lesson, lesson_id)
        assert lesson is not None and (lesson.video_status, lesson.mux_asset_id) == ("ready", "A1")
        actors = set(s.execute(select(OperatorAction.actor)).scalars())
    assert len(actors) == 1 and actors.pop().startswith("cli:")
