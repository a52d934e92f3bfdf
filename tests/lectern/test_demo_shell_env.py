"""var/demo-shell.env: what `make demo` gave its processes, loadable by a shell for `lectern` commands."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from lectern.commands.demo import DemoPorts, demo_environment, write_shell_env

PORTS = DemoPorts(api=18000, dashboard=18501, emulator=18800, s3=18900)


def test_a_shell_that_sources_it_gets_the_demos_settings(tmp_path: Path, monkeypatch: object) -> None:
    inherited = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "UNRELATED": "kept out"}
    monkeypatch.setattr(os, "environ", inherited)  # type: ignore[attr-defined]
    env = demo_environment(PORTS, tmp_path)
    env["MUX_SIGNING_PRIVATE_KEY"] = "LS0t$(touch pwned)'quote\"d"  # any value survives the shell as it is
    path = tmp_path / "demo-shell.env"
    write_shell_env(env, path, inherited=inherited)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    names = {line.split("=", 1)[0] for line in path.read_text().splitlines()}
    assert {"DATABASE_URL", "MUX_TOKEN_ID", "MUX_TOKEN_SECRET", "S3_ENDPOINT_URL"} <= names
    assert not names & {"UNRELATED", "PATH", "HOME"}
    script = (
        f"set -a; . {path}; set +a; {sys.executable} -c "
        "'import json; from core.settings import load_settings; s = load_settings(); "
        "print(json.dumps([s.database_url, s.mux_configured, str(s.mux_api_url), str(s.s3_endpoint_url), "
        "s.mux_signing_private_key.get_secret_value() if s.mux_signing_private_key else None]))'"
    )
    out = subprocess.run(
        ["bash", "-c", script], cwd=Path(__file__).parents[2], env=inherited, capture_output=True, text=True, check=True
    )
    database_url, mux_configured, mux_api_url, s3_url, private_key = json.loads(out.stdout)
    assert database_url == env["DATABASE_URL"]
    assert mux_configured is True
    assert mux_api_url.rstrip("/") == "http://127.0.0.1:18800"
    assert s3_url.rstrip("/") == "http://127.0.0.1:18900"
    assert private_key == env["MUX_SIGNING_PRIVATE_KEY"]
    assert not (tmp_path / "pwned").exists()
