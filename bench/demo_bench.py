"""From a fresh clone to a working demo: how long a newcomer waits.

    python -m bench.demo_bench           # both starts, each followed to the end of its data preparation
    python -m bench.demo_bench --quick   # both starts, stopped once the dashboard answers

A `git clone` of this repository's HEAD into a temporary directory; `make install web-components` there (the
.venv and the vendored Mux web components that `make demo` builds first: timed, reported apart, not counted);
then `lectern demo --var <clone>/var` on free ports, timed from the start to the dashboard's first answer
(`/_stcore/health` and the app's page both answering 200) and to "preparation done" (the demo's progress
file, core/demo_progress.py); Ctrl-C (SIGINT), whose exit status must be 0; then a second start on the same
data, timed the same way. The uv and npm caches of this machine are used as a newcomer's second install
would; the first `uv sync` on a machine downloads the wheels too.

Targets: the first start answers within 20 s, the second within 10 s. Results: bench/results/demo.json
(demo-quick.json for --quick), with the load average before and after (these timings move with it).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import write_result
from core.demo_progress import FILE_NAME, read_progress

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"first_start_answer_s": 20.0, "second_start_answer_s": 10.0}
ANSWER_TIMEOUT_S = 300
PREPARED_TIMEOUT_S = 1800


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def dashboard_answers(base: str) -> bool:
    try:
        health = httpx.get(f"{base}/_stcore/health", timeout=2)
        page = httpx.get(f"{base}/", timeout=2)
    except httpx.HTTPError:
        return False
    return health.status_code == 200 and page.status_code == 200 and "<html" in page.text.lower()


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def timed(argv: list[str], cwd: Path) -> float:
    started = time.monotonic()
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return round(time.monotonic() - started, 1)


def run_demo(clone: Path, *, follow_preparation: bool, name: str) -> dict[str, Any]:
    """One `lectern demo` start: seconds to the first answer, to the sign-ins, to the preparation's end."""
    api, dashboard, emulator, s3 = free_ports(4)
    var = clone / "var"
    argv = [str(clone / ".venv" / "bin" / "lectern"), "demo", "--var", str(var)]
    argv += ["--api-port", str(api), "--dashboard-port", str(dashboard)]
    argv += ["--emulator-port", str(emulator), "--s3-port", str(s3)]
    out_path = clone / f"{name}.out"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LECTERN_", "MUX_", "S3_", "AWS_", "DATABASE_"))}
    figures: dict[str, Any] = {"load_average_before": load()}
    with out_path.open("w") as out:
        started = time.monotonic()
        proc = subprocess.Popen(argv, cwd=clone, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{dashboard}"
            while not dashboard_answers(base):
                if proc.poll() is not None or time.monotonic() - started > ANSWER_TIMEOUT_S:
                    raise RuntimeError(f"{name}: the dashboard never answered; see {out_path}")
                time.sleep(0.1)
            figures["first_answer_s"] = round(time.monotonic() - started, 2)
            while "Lectern is running" not in out_path.read_text():
                if proc.poll() is not None or time.monotonic() - started > ANSWER_TIMEOUT_S:
                    raise RuntimeError(f"{name}: no banner; see {out_path}")
                time.sleep(0.2)
            figures["banner_s"] = round(time.monotonic() - started, 2)  # the sign-ins are printed: they work
            if follow_preparation:
                while (progress := read_progress(var / FILE_NAME)) is None or progress.state == "preparing":
                    if proc.poll() is not None or time.monotonic() - started > PREPARED_TIMEOUT_S:
                        raise RuntimeError(f"{name}: the preparation did not end; see {out_path}")
                    time.sleep(0.5)
                figures["preparation"] = progress.state
                figures["prepared_s"] = round(time.monotonic() - started, 1)
                figures["steps_s"] = {
                    s.key: round(s.ended_at - s.started_at, 1)
                    for s in progress.steps
                    if s.started_at is not None and s.ended_at is not None
                }
            stopping = time.monotonic()
            proc.send_signal(signal.SIGINT)
            figures["exit_status_after_ctrl_c"] = proc.wait(timeout=60)
            figures["stop_s"] = round(time.monotonic() - stopping, 1)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    text = out_path.read_text()
    if match := re.search(r"answered ([\d.]+) s after the start; sign-ins work from ([\d.]+) s", text):
        figures["demo_says_answer_s"], figures["demo_says_signins_s"] = float(match[1]), float(match[2])
    figures["last_line"] = text.splitlines()[-1] if text else ""
    figures["load_average_after"] = load()
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="stop each start once the dashboard answers")
    args = parser.parse_args(argv)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    with tempfile.TemporaryDirectory(prefix="lectern-demo-bench-") as tmp:
        clone = Path(tmp) / "lectern"
        figures: dict[str, Any] = {"commit": head.stdout.strip(), "load_average_at_start": load()}
        figures["clone_s"] = timed(["git", "clone", "--quiet", str(ROOT), str(clone)], Path(tmp))
        figures["install_s"] = timed(["make", "install", "web-components"], clone)  # not counted
        follow = not args.quick
        figures["first_start"] = run_demo(clone, follow_preparation=follow, name="first-start")
        figures["second_start"] = run_demo(clone, follow_preparation=follow, name="second-start")
    figures["targets"] = TARGETS
    first, second = figures["first_start"]["first_answer_s"], figures["second_start"]["first_answer_s"]
    figures["meets_targets"] = first <= TARGETS["first_start_answer_s"] and second <= TARGETS["second_start_answer_s"]
    figures["load_average_at_end"] = load()
    path = write_result("demo" + ("-quick" if args.quick else ""), figures)
    prepared = f", prepared in {figures['first_start'].get('prepared_s', '-')} s" if follow else ""
    print(
        f"demo from a fresh clone (install {figures['install_s']} s, not counted): first start answers in {first} s"
        f"{prepared}; second start in {second} s (load {figures['load_average_at_start']}) -> {path}"
    )


if __name__ == "__main__":
    main()
