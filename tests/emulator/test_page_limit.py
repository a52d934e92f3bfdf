"""`max_page_limit`: every list endpoint caps `limit` silently (as Mux may), seen through mux-python."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import mux_python
import pytest

from emulator.testing import EmulatorServer
from tests.emulator_data.helpers import build_catalogue, simulate, write_state

CAP = 3


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    root = tmp_path_factory.mktemp("capped")
    catalogue = build_catalogue(courses=1, lessons_per_course=8)
    write_state(root / "state.json", catalogue)
    with EmulatorServer(state_file=root / "state.json", data_dir=root / "media", max_page_limit=CAP) as server:
        simulate(
            server, views=200, days=3, seed=2, end=time.time() - 3600, lessons=catalogue.lessons,
            students=catalogue.students,
        )  # fmt: skip
        yield server


@pytest.fixture(scope="module")
def client(capped: EmulatorServer) -> Iterator[mux_python.ApiClient]:
    config = mux_python.Configuration(host=capped.url, username=capped.token_id, password=capped.token_secret)
    api_client = mux_python.ApiClient(config)
    yield api_client
    api_client.close()


def test_assets_list_caps_limit_and_walks_by_page_and_cursor(client: mux_python.ApiClient) -> None:
    api = mux_python.AssetsApi(client)
    first = api.list_assets(limit=25)
    assert len(first.data) == CAP and first.next_cursor
    # Page numbers count in pages of the capped size, not of the size asked for.
    assert [a.id for a in api.list_assets(limit=25, page=2).data] == [
        a.id for a in api.list_assets(limit=CAP, page=2).data
    ]
    seen, page = [a.id for a in first.data], first
    while page.next_cursor:
        page = api.list_assets(limit=25, cursor=page.next_cursor)
        assert len(page.data) <= CAP
        seen += [a.id for a in page.data]
    assert len(seen) == len(set(seen)) == 8


def test_uploads_and_signing_keys_lists_cap_limit(client: mux_python.ApiClient) -> None:
    uploads = mux_python.DirectUploadsApi(client)
    keys = mux_python.SigningKeysApi(client)
    for _ in range(CAP + 2):
        uploads.create_direct_upload(mux_python.CreateUploadRequest(cors_origin="*"))
        keys.create_signing_key()
    assert len(uploads.list_direct_uploads(limit=25).data) == CAP
    assert len(uploads.list_direct_uploads(limit=25, page=2).data) == 2
    assert len(keys.list_signing_keys(limit=25).data) == CAP
    assert len(keys.list_signing_keys(limit=25, page=2).data) == 2


def test_data_lists_cap_limit_and_keep_their_totals(client: mux_python.ApiClient) -> None:
    views = mux_python.VideoViewsApi(client).list_video_views(limit=100, timeframe=["7:days"])
    assert len(views.data) == CAP and views.total_row_count == 200
    now = int(time.time())
    end = (now - 13 * 3600) // 3600 * 3600
    usage = mux_python.DeliveryUsageApi(client).list_delivery_usage(
        limit=100, timeframe=[str(end - 3 * 86400), str(end)]
    )
    assert len(usage.data) == CAP and usage.total_row_count > CAP and usage.limit == CAP


@pytest.mark.parametrize("bad", [0, 101, True, "7", 2.5])
def test_max_page_limit_is_validated_and_changeable_at_runtime(capped: EmulatorServer, bad: object) -> None:
    response = httpx.put(f"{capped.url}/_emulator/config", json={"max_page_limit": bad})
    assert response.status_code == 400
    assert "max_page_limit must be an integer from 1 to 100" in response.text
    assert capped.configure(max_page_limit=CAP)["max_page_limit"] == CAP
