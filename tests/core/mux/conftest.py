from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulator.testing import EmulatorServer


@pytest.fixture(scope="session")
def mux_emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(processing_delay=0.0) as server:
        yield server


@pytest.fixture
def emu(mux_emulator: EmulatorServer) -> Iterator[EmulatorServer]:
    mux_emulator.reset()
    mux_emulator.clear_faults()
    yield mux_emulator
    mux_emulator.clear_faults()
