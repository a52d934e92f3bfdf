"""The servers' malloc tuning: applied on glibc (every machine we deploy to), a no-op elsewhere."""

from __future__ import annotations

import platform

from core.memory import keep_freed_memory


def test_glibc_keeps_freed_memory_and_a_second_call_changes_nothing() -> None:
    on_glibc = platform.libc_ver()[0] == "glibc"
    assert keep_freed_memory() is on_glibc
    assert keep_freed_memory() is on_glibc
