"""A production install leaves out the `demo` extra (moto): `lectern demo` then says which extra to install."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# `sys.modules["moto"] = None` makes moto unimportable in the child, as in an install without the extra.
WITHOUT_MOTO = "import runpy, sys; sys.modules['moto'] = None; runpy.run_module('lectern', run_name='__main__')"


def test_demo_without_moto_names_the_extra(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_MOTO, "demo"],
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "200", "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 78, result.stdout + result.stderr  # misconfigured
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ") and "moto" in line and "lectern[demo]" in line, result.stderr
    assert "Starting" not in result.stdout  # refused before any process starts
