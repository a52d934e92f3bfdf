"""Run every benchmark (`make bench`), each in its own process so memory figures stay honest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main() -> int:
    extra = sys.argv[1:]
    scripts = sorted(p.stem for p in Path(__file__).parent.glob("*_bench.py"))
    failed = []
    for name in scripts:
        print(f"== bench.{name} {' '.join(extra)}", flush=True)
        if subprocess.call([sys.executable, "-m", f"bench.{name}", *extra]) != 0:
            failed.append(name)
    if failed:
        print(f"benchmarks that failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
