"""GET /data/v1/exports/views (through mux-python) and the signed daily files it links to."""

from __future__ import annotations

import csv
import gzip
import io
import json
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import mux_python
import numpy as np
import pytest
from mux_python.exceptions import ForbiddenException, ServiceException, UnauthorizedException

from emulator.data.exports import LATEST_VERSION, SINCE, columns_for, listed_days
from emulator.data.store import COLUMNS, ViewStore, uuid4_text
from emulator.testing import EmulatorServer
from tests.emulator_data.helpers import Catalogue, make_client, simulate

# Export column -> the get-video-view field holding the same value (the names Mux uses in each place).
API_NAME = {
    "browser": "viewer_application_name",
    "operating_system": "viewer_os_family",
    "country": "country_code",
    "error_type": "error_type_id",
    "playback_success_score": "playback_score",
    "startup_time_score": "startup_score",
    "rebuffer_count": "buffering_count",
    "rebuffer_duration": "buffering_duration",
    "source_hostname": "player_source_host_name",
    "source_type": "player_source_type",
    "stream_type": "video_stream_type",
    "max_downscale_percentage": "view_max_downscale_percentage",
    "max_upscale_percentage": "view_max_upscale_percentage",
    "player_captions_enabled": "used_captions",
    "player_pip_enabled": "used_pip",
    "video_startup_time": "time_to_first_frame",  # Mux's export name for the view's time to first frame
}


def _listing(emu: EmulatorServer) -> mux_python.ListVideoViewExportsResponse:
    client = make_client(emu)
    try:
        return mux_python.ExportsApi(client).list_exports_views()
    finally:
        client.close()


def _rows(response: httpx.Response) -> list[dict[str, str]]:
    text = gzip.decompress(response.content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def _same(csv_value: str, api_value: Any) -> bool:
    if api_value is None:
        return csv_value == ""
    if isinstance(api_value, bool):
        return csv_value == str(api_value).lower()
    if isinstance(api_value, float):
        return float(csv_value) == api_value
    return csv_value == str(api_value)


def test_listing_has_muxs_shape_one_file_per_completed_day(emu: EmulatorServer) -> None:
    listing = _listing(emu)
    today = datetime.now(UTC).date()
    expected = [today - timedelta(days=k) for k in range(1, 8)]  # Mux keeps a file seven days
    assert [item.export_date for item in listing.data] == expected  # newest first
    assert listing.total_row_count == 7
    start, end = listing.timeframe
    assert end - start == 86_400 and abs(end - time.time()) < 60
    for item in listing.data:
        (file,) = item.files
        assert (file.version, file.type) == (LATEST_VERSION, "csv")
        assert file.path.startswith(f"{emu.url}/_exports/views/") and "signature=" in file.path
        assert f"/{item.export_date:%Y_%m_%d}.csv.gz?" in file.path
    # The deprecated listing names the same files, oldest first.
    old = emu.http.get("/data/v1/exports", auth=(emu.token_id, emu.token_secret)).json()
    assert [p.split("?")[0] for p in old["data"]] == [i.files[0].path.split("?")[0] for i in reversed(listing.data)]


def test_file_holds_every_view_of_the_day_as_get_video_view_reports_it(emu: EmulatorServer) -> None:
    item = _listing(emu).data[0]
    response = httpx.get(item.files[0].path, timeout=60)  # no credentials: the signature is the credential
    assert response.status_code == 200 and response.headers["content-type"] == "application/gzip"
    rows = _rows(response)
    header = list(rows[0])
    assert header == sorted(header) == columns_for(LATEST_VERSION)  # Mux sorts columns from version 2 on

    day_start = int(datetime.combine(item.export_date, datetime.min.time(), UTC).timestamp())
    client = make_client(emu)
    views_api = mux_python.VideoViewsApi(client)
    listed = views_api.list_video_views(limit=1, timeframe=[str(day_start), str(day_start + 86_400)])
    assert len(rows) == listed.total_row_count > 1_000
    assert len({r["view_id"] for r in rows}) == len(rows)
    ends = [r["view_end"] for r in rows]
    assert ends == sorted(ends) and ends[0] >= f"{item.export_date}T00:00:00Z" and ends[-1] < f"{item.export_date}T24"

    failed = [i for i, r in enumerate(rows) if r["playback_failure_error_type_id"]][:5]
    sample = list(range(0, len(rows), max(1, len(rows) // 25))) + failed
    assert failed, "the day should hold some playback failures"
    window = [str(day_start), str(day_start + 86_400)]
    for index in sample:
        row = rows[index]
        # The file has the UUID `view_id` only; get-video-view takes the opaque `id` the list gives.
        (item,) = views_api.list_video_views(limit=1, page=index + 1, order_direction="asc", timeframe=window).data
        raw = views_api.get_video_view(item.id, _preload_content=False)
        view = json.loads(raw.data)["data"]
        assert view["id"] == item.id != view["view_id"] == row["view_id"]
        for column, value in row.items():
            if column in ("player_view_count", "video_cdn_trace"):
                continue  # export-only: 1 per line, and the (empty) CDN trace
            assert _same(value, view[API_NAME.get(column, column)]), (column, value, view[API_NAME.get(column, column)])
        # Exports have no playback_failure flag: the failure's error type stands for it.
        assert bool(row["playback_failure_error_type_id"]) == view["playback_failure"]
        assert row["player_view_count"] == "1"
    client.close()


def test_etag_answers_304_and_files_are_stable(emu: EmulatorServer) -> None:
    path = _listing(emu).data[2].files[0].path
    first = httpx.get(path, timeout=60)
    etag = first.headers["etag"]
    again = httpx.get(path, timeout=60)
    assert again.headers["etag"] == etag and again.content == first.content  # cached, byte for byte
    unchanged = httpx.get(path, headers={"If-None-Match": etag}, timeout=60)
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert httpx.get(path, headers={"If-None-Match": '"other"'}, timeout=60).status_code == 200


def test_urls_are_signed_and_expire(fresh_emu: EmulatorServer, catalogue: Catalogue) -> None:
    simulate(fresh_emu, views=3_000, days=3, seed=2, lessons=catalogue.lessons, students=catalogue.students)
    path = _listing(fresh_emu).data[0].files[0].path
    forged = path.replace("signature=", "signature=0")
    refused = httpx.get(forged)
    assert refused.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in refused.text
    other_day = path.replace(path.split("/")[-1].split(".")[0], "2020_01_01")
    assert httpx.get(other_day).status_code == 403  # the signature covers the day
    assert httpx.get(path.split("?")[0]).status_code == 403  # no signature at all
    assert httpx.get(path, timeout=60).status_code == 200
    fresh_emu.advance_clock(3_601)  # the listing's URLs live an hour (emulator clock)
    expired = httpx.get(path)
    assert expired.status_code == 403 and "Request has expired" in expired.text
    assert httpx.get(_listing(fresh_emu).data[0].files[0].path, timeout=60).status_code == 200


def test_listing_is_a_data_api_route(emu: EmulatorServer) -> None:
    bad = mux_python.ApiClient(mux_python.Configuration(host=emu.url, username="nobody", password="wrong"))
    with pytest.raises(UnauthorizedException):
        mux_python.ExportsApi(bad).list_exports_views()
    bad.close()
    emu.set_faults({"routes": {"GET /data/v1/exports/views": {"p503": 1.0}}})
    config = mux_python.Configuration(host=emu.url, username=emu.token_id, password=emu.token_secret)
    config.retries = 0  # see the raw fault, not urllib3's silent retry
    client = mux_python.ApiClient(config)
    with pytest.raises(ServiceException):
        mux_python.ExportsApi(client).list_exports_views()
    client.close()
    emu.clear_faults()
    counts = emu.stats()["requests"]["GET /data/v1/exports/views"]["by_status"]
    assert counts.get("401", 0) >= 1 and counts.get("503", 0) >= 1


def test_plans_without_exports_and_older_versions(fresh_emu: EmulatorServer, catalogue: Catalogue) -> None:
    simulate(fresh_emu, views=3_000, days=3, seed=2, lessons=catalogue.lessons, students=catalogue.students)
    path = _listing(fresh_emu).data[0].files[0].path
    fresh_emu.configure(view_exports=False)
    with pytest.raises(ForbiddenException):
        _listing(fresh_emu)
    assert httpx.get(path).status_code == 404  # files are gone with the feature
    fresh_emu.configure(view_exports=True, view_export_version=4)
    item = _listing(fresh_emu).data[0]
    assert item.files[0].version == 4
    header = list(_rows(httpx.get(item.files[0].path, timeout=60))[0])
    assert header == columns_for(4)
    assert "asset_id" in header and "view_playing_time" in header
    assert "video_startup_failure" not in header and "playback_failure_error_type_id" not in header
    assert httpx.get(path).status_code == 404  # a URL signed for the version no longer published
    assert set(columns_for(2)) == {c for c, since in SINCE.items() if since <= 2} and "asset_id" not in columns_for(2)


def test_appending_views_republishes_only_their_day(fresh_emu: EmulatorServer, catalogue: Catalogue) -> None:
    today = int(time.time()) // 86_400 * 86_400
    simulate(fresh_emu, views=4_000, days=3, seed=4, lessons=catalogue.lessons, students=catalogue.students, end=today)
    before = {i.export_date: httpx.get(i.files[0].path, timeout=60) for i in _listing(fresh_emu).data[:3]}
    yesterday = (datetime.fromtimestamp(today, UTC) - timedelta(days=1)).date()
    simulate(
        fresh_emu,
        views=200,
        days=0.2,
        seed=5,
        lessons=catalogue.lessons,
        students=catalogue.students,
        end=today - 3 * 3600,
        replace=False,
    )
    after = {i.export_date: httpx.get(i.files[0].path, timeout=60) for i in _listing(fresh_emu).data[:3]}
    changed = {d for d in before if before[d].headers["etag"] != after[d].headers["etag"]}
    assert changed == {yesterday}
    assert len(_rows(after[yesterday])) == len(_rows(before[yesterday])) + 200


def test_days_listed_follow_generation_delay_and_retention() -> None:
    day = 20_000 * 86_400
    assert listed_days(day + 10, days=7, delay_s=0) == [
        date(1970, 1, 1) + timedelta(days=20_000 - k) for k in range(1, 8)
    ]
    # With a two-hour delay, yesterday's file is not there yet at 01:00, and the oldest one is still kept.
    early = listed_days(day + 3_600, days=7, delay_s=7_200)
    assert early[0] == date(1970, 1, 1) + timedelta(days=20_000 - 2) and len(early) == 7
    assert listed_days(day + 3 * 3_600, days=2, delay_s=7_200)[0] == date(1970, 1, 1) + timedelta(days=19_999)


def test_bulk_ids_equal_the_ones_views_get() -> None:
    n = 5_000
    columns = {name: np.zeros(n, dtype=dtype) for name, dtype in COLUMNS.items()}
    columns["serial"] = np.random.default_rng(3).permutation(n).astype(np.uint32)
    store = ViewStore(columns, [], [], salt=0xFEEDFACE12345678)
    high, low = store.view_id_words(slice(0, n))
    for row in range(0, n, 97):
        assert store.view_id(row) == uuid4_text(int(high[row]), int(low[row]))
