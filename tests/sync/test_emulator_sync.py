"""Sync against the Mux emulator through core's MuxService: backfill, incremental, faults, kill -9, readers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from sqlalchemy import create_engine, select

from core.db.models import Alert, Lesson
from core.settings import Settings, load_settings
from emulator.testing import EmulatorServer
from lectern.sample_data import SamplePlatform
from sync.runner import SyncContext, run_jobs
from tests.sync.emulator_world import ORPHAN, World, build_world, detail_calls, overall, quiet_end, simulate
from tests.warehouse.factories import PSEUDONYM_SECRET
from warehouse.reader import WarehouseReader, open_analyst_connection
from warehouse.schema import duplicate_keys
from warehouse.store import WarehouseNotReady

ROOT = Path(__file__).resolve().parents[2]
VIEWS = 500
FAULTS = {"seed": 3, "routes": {"*": {"p429": 0.1, "p503": 0.1, "retry_after": 0}}}


@pytest.fixture
def world(tmp_path: Path, sample_platform: SamplePlatform) -> World:
    return build_world(tmp_path, sample_platform)


@pytest.fixture
def emu(world: World, tmp_path: Path) -> Iterator[EmulatorServer]:
    with EmulatorServer(state_file=world.state_file, data_dir=tmp_path / "media", log_level="warning") as server:
        yield server


@pytest.fixture
def sim_end(emu: EmulatorServer, world: World) -> datetime:
    """90 days of views ending about an hour ago (see quiet_end); returns when they end."""
    end = quiet_end()
    simulate(emu, world, days=90, views=VIEWS, seed=5, end=end.timestamp())
    return end


def exported_days(emu: EmulatorServer, now: datetime) -> list[str]:
    """The days the emulator lists exports for that are over by the sync's clock."""
    listing = emu.http.get("/data/v1/exports/views", auth=(emu.token_id, emu.token_secret)).json()["data"]
    return [item["export_date"] for item in listing if item["export_date"] < now.date().isoformat()]


def sync_env(world: World, emu: EmulatorServer, warehouse: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": world.db_url,
        "LECTERN_WAREHOUSE_PATH": str(warehouse),
        "MUX_API_URL": emu.url,
        "MUX_TOKEN_ID": emu.token_id,
        "MUX_TOKEN_SECRET": emu.token_secret,
        "LECTERN_PSEUDONYM_KEY": PSEUDONYM_SECRET.decode(),
        # The same policy as production, with waits short enough for a test.
        "LECTERN_SYNC_RETRY_BASE_S": "0.01",
        "LECTERN_SYNC_RETRY_ATTEMPTS": "10",
    }


def make_settings(world: World, emu: EmulatorServer, warehouse: Path) -> Settings:
    return load_settings(**sync_env(world, emu, warehouse))


def sync(settings: Settings, now: datetime, jobs: tuple[str, ...] | None = None) -> dict[str, Any]:
    ctx = SyncContext.from_settings(settings)
    ctx.clock = lambda: now
    try:
        results = run_jobs(ctx, jobs) if jobs else run_jobs(ctx)
    finally:
        ctx.close()
    assert [r.status for r in results] == ["ok"] * len(results), [r.error for r in results]
    return {r.job: r for r in results}


def fingerprint(warehouse: Path) -> dict[str, Any]:
    con = open_analyst_connection(warehouse)
    try:
        q = {
            "views": "SELECT count(*), sum(watch_time_ms), sum(playing_time_ms), sum(max_playhead_ms), "
            "sum(startup_time_ms), count(DISTINCT viewer_user_id) FROM mux_views",
            "rollups": "SELECT (SELECT sum(views) FROM lesson_daily), (SELECT count(*) FROM viewer_lesson_daily), "
            "(SELECT sum(views) FROM lesson_retention_daily)",
            "usage": "SELECT count(*), round(sum(delivered_seconds), 3), min(window_start), max(window_end) "
            "FROM delivery_usage",
            "assets": "SELECT count(*), count(lesson_id) FROM assets",
            "platform": "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM lesson_progress)",
            "watermarks": "SELECT list(watermark ORDER BY job) FROM sync_state "
            "WHERE job IN ('views', 'delivery_usage')",
        }
        out = {name: con.execute(sql).fetchall()[0] for name, sql in q.items()}
        out["duplicates"] = duplicate_keys(con)
        return out
    finally:
        con.close()


class ReaderLoop(threading.Thread):
    """Queries the published warehouse non-stop on its own read-only connection, checking consistency."""

    def __init__(self, warehouse: Path) -> None:
        super().__init__(daemon=True)
        self.reader = WarehouseReader(warehouse)
        self.stop = threading.Event()
        self.errors: list[str] = []
        self.checks = 0
        self.counts: list[int] = []

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                with self.reader.connect() as con:
                    raw, rolled, days = con.execute(
                        "SELECT (SELECT count(*) FROM mux_views), (SELECT coalesce(sum(views), 0) FROM lesson_daily), "
                        "(SELECT count(*) FROM (SELECT view_day FROM mux_views "
                        "EXCEPT SELECT view_day FROM lesson_daily))"
                    ).fetchall()[0]
                if raw != rolled or days:
                    self.errors.append(f"partial state: {raw} views but rollups count {rolled}")
                self.counts.append(raw)
                self.checks += 1
                self.stop.wait(0.002)  # a dashboard's pace, not a busy loop fighting the sync for the GIL
            except WarehouseNotReady:
                self.stop.wait(0.01)
            except Exception as exc:  # every failure is a finding here
                self.errors.append(f"{type(exc).__name__}: {exc}")
        self.reader.close()


def test_backfill_incremental_and_idempotent_match_the_emulator(
    world: World, emu: EmulatorServer, sim_end: datetime, tmp_path: Path
) -> None:
    warehouse = tmp_path / "var" / "warehouse.duckdb"
    settings = make_settings(world, emu, warehouse)
    reader = ReaderLoop(warehouse)
    reader.start()
    try:
        now = sim_end + timedelta(minutes=30)
        first = sync(settings, now)
        views = first["views"]
        start = views.details["start"]
        assert views.new_rows > 0 and views.watermark == now
        # The whole days Mux still exports (seven; six when the emulator's clock is past midnight and the
        # sync's is not) came as export files; the rest of the 90 days by list+get.
        exported = exported_days(emu, now)
        assert len(exported) >= 6 and views.details["exports_loaded"] == len(exported)
        con = open_analyst_connection(warehouse)
        count, watch, playing = con.execute(
            "SELECT count(*), sum(watch_time_ms), sum(playing_time_ms) FROM mux_views"
        ).fetchall()[0]
        expected = overall(emu, "views", start.timestamp(), now.timestamp())
        assert (count, watch, playing) == (
            expected["total_views"],
            expected["total_watch_time"],
            expected["total_playing_time"],
        )
        # Delivery usage, one day at a time, adds up to the emulator's answer for the whole range.
        lo, hi = con.execute("SELECT min(window_start), max(window_end) FROM delivery_usage").fetchall()[0]
        total = con.execute("SELECT sum(delivered_seconds) FROM delivery_usage").fetchall()[0][0]
        usage = emu.http.get(
            "/video/v1/delivery-usage",
            params={"timeframe[]": [str(int(lo.timestamp())), str(int(hi.timestamp()))], "limit": 100},
            auth=(emu.token_id, emu.token_secret),
        ).json()
        assert total == pytest.approx(sum(r["delivered_seconds"] for r in usage["data"]), rel=1e-9)
        con.close()

        # Reconciliation healed the lesson whose webhooks were missed and flagged the orphan once.
        engine = create_engine(world.db_url)
        with engine.connect() as conn:
            healed = conn.execute(select(Lesson.video_status, Lesson.mux_asset_id).where(Lesson.id == world.missed))
            assert healed.one() == ("ready", f"lectAsset{world.missed:05d}" + "x" * 30)
            assert conn.execute(select(Alert.key)).scalars().all() == [f"mux_orphan_asset:{ORPHAN}"]
        engine.dispose()

        # New views arrive (ending before the watermark, inside the overlap): only they are fetched in full.
        simulate(emu, world, days=0.01, views=50, seed=9, end=(now - timedelta(minutes=1)).timestamp(), replace=False)
        later = now + timedelta(minutes=10)
        added = overall(emu, "views", start.timestamp(), later.timestamp())["total_views"] - count
        assert added > 40  # a few long views end after `later`: the next run gets those
        calls = detail_calls(emu)
        second = sync(settings, later, ("views",))["views"]
        assert second.new_rows == added
        assert detail_calls(emu) - calls == added
        assert fingerprint(warehouse)["views"][0] == count + added

        before = fingerprint(warehouse)
        calls = detail_calls(emu)
        # The same runs again (each at the time it last ran): nothing is fetched in full, nothing changes.
        again = sync(settings, later, ("views",))["views"]
        assert (again.new_rows, again.details["exports_unchanged"]) == (0, len(exported))
        assert sync(settings, now, ("delivery_usage",))["delivery_usage"].new_rows == 0
        assert detail_calls(emu) == calls
        assert fingerprint(warehouse) == before
    finally:
        reader.stop.set()
        reader.join(timeout=30)
    assert reader.errors == []
    assert reader.checks > 0 and reader.counts[-1] == count + added


KILLABLE = """
import json, sys
from datetime import UTC, datetime
from core.settings import load_settings
from sync.runner import SyncContext, run_jobs
ctx = SyncContext.from_settings(load_settings())
now = datetime.fromtimestamp(float(sys.argv[1]), UTC)
ctx.clock = lambda: now
run_jobs(ctx, progress=lambda job, done, total, rows: print(json.dumps([job, done, total, rows]), flush=True))
"""


def test_faults_and_kill_9_converge_to_the_clean_result(
    world: World, emu: EmulatorServer, sim_end: datetime, tmp_path: Path
) -> None:
    now = sim_end + timedelta(minutes=30)
    clean = tmp_path / "clean" / "warehouse.duckdb"
    sync(make_settings(world, emu, clean), now)
    expected = fingerprint(clean)

    emu.set_faults(FAULTS)
    try:
        faulty = tmp_path / "faulty" / "warehouse.duckdb"
        env = {**os.environ, **sync_env(world, emu, faulty)}
        proc = subprocess.Popen(
            [sys.executable, "-c", KILLABLE, str(now.timestamp())],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        killed_at = None
        for line in proc.stdout:
            job, done, total, _rows = json.loads(line)
            if job == "views" and done >= total // 3:
                killed_at = done
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait(timeout=60)
        assert killed_at is not None, proc.stderr.read() if proc.stderr else ""
        assert proc.returncode == -signal.SIGKILL

        # The killed run published nothing; the next run (faults still on) resumes and converges.
        resumed = sync(make_settings(world, emu, faulty), now)
        assert resumed["views"].details["start"] > now - timedelta(days=90)  # it did not start over
        requests = emu.stats()["requests"]
        failed = sum(v["by_status"].get("429", 0) + v["by_status"].get("503", 0) for v in requests.values())
        assert failed > 0
    finally:
        emu.clear_faults()
    assert fingerprint(faulty) == expected
    con = duckdb.connect(str(faulty.parent / "warehouse" / "work.duckdb"), read_only=True)
    assert con.execute("SELECT status FROM sync_state WHERE job = 'views'").fetchall() == [("ok",)]
    con.close()
