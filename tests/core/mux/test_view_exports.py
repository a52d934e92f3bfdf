"""MuxService's view exports and raw view pages, over real HTTP to the emulator."""

from __future__ import annotations

import csv
import gzip
import io
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.errors import MuxAuthError, MuxNotFound
from core.mux import MuxService
from core.mux.data import _Gunzip
from core.retry import RetryPolicy
from core.settings import load_settings
from emulator.testing import EmulatorServer


def service(emu: EmulatorServer, sleeps: list[float] | None = None) -> MuxService:
    settings = load_settings(mux_api_url=emu.url, mux_token_id=emu.token_id, mux_token_secret=emu.token_secret)
    sleep = sleeps.append if sleeps is not None else time.sleep
    return MuxService(settings, retry_policy=RetryPolicy(attempts=4, base_s=0.01, jitter=0.0), sleep=sleep)


def requests(emu: EmulatorServer, route: str) -> dict[str, int]:
    by_route = {re.sub(r"\{[^}]*\}", "{}", k): v for k, v in emu.stats()["requests"].items()}
    return dict(by_route.get(route, {}).get("by_status", {}))


def test_list_and_download_with_etag(emu: EmulatorServer, tmp_path: Path) -> None:
    mux = service(emu)
    exports = mux.list_view_exports()
    today = datetime.now(UTC).date()
    assert [e.export_date for e in exports] == [today - timedelta(days=k) for k in range(1, 8)]
    newest = exports[0].newest_csv()
    assert newest is not None and newest.version == 14 and newest.url.startswith(emu.url)

    dest = tmp_path / "day.csv"
    first = mux.download_view_export(newest.url, dest)
    assert not first.not_modified and first.etag and first.bytes > 0
    header = next(csv.reader(dest.open()))  # decompressed CSV
    assert header[:3] == ["asset_id", "browser", "country"] and "view_id" in header
    dest.unlink()
    again = mux.download_view_export(newest.url, dest, if_none_match=first.etag)
    assert again.not_modified and again.etag == first.etag and not dest.exists()
    raw = tmp_path / "day.csv.gz"
    mux.download_view_export(newest.url, raw, gunzip=False)
    assert gzip.decompress(raw.read_bytes()).startswith(b"asset_id,browser,")
    mux.close()


def test_download_retries_transient_failures(emu: EmulatorServer, tmp_path: Path) -> None:
    sleeps: list[float] = []

    def sleep_then_recover(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            emu.clear_faults()

    mux = service(emu)
    mux.retrier.sleep = sleep_then_recover
    url = mux.list_view_exports()[0].files[0].url
    before = requests(emu, "GET /_exports/views/{}/{}")
    emu.set_faults({"routes": {"GET /_exports/views/{environment}/{file_name}": {"p503": 1.0}}})
    assert not mux.download_view_export(url, tmp_path / "day.csv").not_modified
    after = requests(emu, "GET /_exports/views/{}/{}")
    assert len(sleeps) == 2 and after.get("503", 0) - before.get("503", 0) == 2
    assert after.get("200", 0) - before.get("200", 0) == 1
    mux.close()


def test_accounts_without_exports_and_withdrawn_files(emu: EmulatorServer, tmp_path: Path) -> None:
    mux = service(emu)
    url = mux.list_view_exports()[0].files[0].url
    emu.configure(view_exports=False)
    try:
        with pytest.raises(MuxAuthError) as denied:
            mux.list_view_exports()
        assert denied.value.status == 403
        with pytest.raises(MuxNotFound, match="NoSuchKey"):
            mux.download_view_export(url, tmp_path / "day.csv")
    finally:
        emu.configure(view_exports=True)
    mux.close()


def test_a_view_mux_does_not_have_is_not_found(emu: EmulatorServer) -> None:
    mux = service(emu)
    with pytest.raises(MuxNotFound):
        mux.video_view("00000000-0000-0000-0000-000000000000")
    mux.close()


def test_gunzip_handles_several_members_split_anywhere() -> None:
    body = gzip.compress(b"a,b\n1,2\n") + gzip.compress(b"3,4\n")
    for cut in range(1, len(body)):
        out = io.BytesIO()
        sink: Any = _Gunzip(out)
        sink.write(body[:cut])
        sink.write(body[cut:])
        sink.finish()
        assert out.getvalue() == b"a,b\n1,2\n3,4\n"
    plain = io.BytesIO()
    passthrough = _Gunzip(plain)
    passthrough.write(b"a,b\n")
    passthrough.finish()
    assert plain.getvalue() == b"a,b\n"
