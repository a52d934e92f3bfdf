"""One emulator for the Mux Data tests, loaded with a course catalogue and simulated once per session.

Tests only read the simulated views; the ones that change them use their own emulator (`fresh_emu`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mux_python
import pytest

from emulator.testing import EmulatorServer
from tests.emulator_data.helpers import Catalogue, build_catalogue, make_client, simulate, write_state

VIEWS = 150_000
DAYS = 60
SEED = 11


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return build_catalogue()


@pytest.fixture(scope="session")
def data_emu(tmp_path_factory: pytest.TempPathFactory, catalogue: Catalogue) -> Iterator[EmulatorServer]:
    root = tmp_path_factory.mktemp("emulator-data")
    write_state(root / "state.json", catalogue)
    with EmulatorServer(state_file=root / "state.json", data_dir=root / "media") as server:
        yield server


@pytest.fixture(scope="session")
def simulated(data_emu: EmulatorServer, catalogue: Catalogue) -> dict[str, Any]:
    return simulate(data_emu, views=VIEWS, days=DAYS, seed=SEED, lessons=catalogue.lessons, students=catalogue.students)


@pytest.fixture
def emu(data_emu: EmulatorServer, simulated: dict[str, Any]) -> Iterator[EmulatorServer]:
    """The shared, simulated emulator; faults are cleared after every test."""
    yield data_emu
    data_emu.clear_faults()


@pytest.fixture(scope="session")
def client(data_emu: EmulatorServer) -> Iterator[mux_python.ApiClient]:
    api_client = make_client(data_emu)
    yield api_client
    api_client.close()


@pytest.fixture
def views_api(client: mux_python.ApiClient, emu: EmulatorServer) -> mux_python.VideoViewsApi:
    return mux_python.VideoViewsApi(client)


@pytest.fixture
def metrics_api(client: mux_python.ApiClient, emu: EmulatorServer) -> mux_python.MetricsApi:
    return mux_python.MetricsApi(client)


@pytest.fixture
def usage_api(client: mux_python.ApiClient, emu: EmulatorServer) -> mux_python.DeliveryUsageApi:
    return mux_python.DeliveryUsageApi(client)


@pytest.fixture
def fresh_emu(tmp_path: Path, catalogue: Catalogue) -> Iterator[EmulatorServer]:
    """A private emulator with the same catalogue, for tests that change or reset views."""
    write_state(tmp_path / "state.json", catalogue)
    with EmulatorServer(state_file=tmp_path / "state.json", data_dir=tmp_path / "media") as server:
        yield server
