"""`python -m tools.screenshots` (`make screenshots`): a picture of every dashboard page for every role.

Starts its own `lectern demo` on free ports (its data under `--var`, kept, so the next run starts in seconds),
waits until the sample data is prepared, then signs in as each role in headless Chromium and saves every page of
that role's navigation, whole, 1400 px wide, as `docs/screenshots/<role>-<page>.png`, and the sign-in page as
`sign-in.png`. The PNGs are cut to a 256-colour palette without dithering: a dashboard's flat colours and text
stay crisp at about a third of the bytes. README's "Screenshots" table is rewritten to link them.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

from PIL import Image

from tools.demo_browser import ROLES, ROOT, DashboardSession, Demo, DemoPorts, chromium, slug

OUT = ROOT / "docs" / "screenshots"
README = ROOT / "README.md"
TABLE_START = "<!-- screenshots: written by `make screenshots` -->"
TABLE_END = "<!-- /screenshots -->"


def shrink(path: Path) -> None:
    """A 256-colour palette PNG, no dithering (it would speckle flat backgrounds), maximum compression."""
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(path, optimize=True)


def take(demo: Demo, out: Path, width: int) -> dict[str, list[tuple[str, Path]]]:
    """Every page of every role as a PNG under `out`; returns role -> [(page title, file)] in navigation order."""
    accounts = demo.accounts()
    shots: dict[str, list[tuple[str, Path]]] = {}
    with chromium() as browser:
        with DashboardSession(browser, demo.dashboard_url, width=width) as session:
            session.open_sign_in()
            session.screenshot(out / "sign-in.png")
            shots["signed out"] = [("Sign in", out / "sign-in.png")]
        for role in ROLES:
            with DashboardSession(browser, demo.dashboard_url, width=width) as session:
                session.sign_in(accounts[role])
                shots[role] = []
                for title in session.page_titles():
                    session.visit(role, title)
                    path = out / f"{role}-{slug(title)}.png"
                    session.screenshot(path)
                    shots[role].append((title, path))
                    print(f"  {path}", flush=True)
    for taken in shots.values():
        for _, path in taken:
            shrink(path)
    return shots


def table(shots: dict[str, list[tuple[str, Path]]]) -> str:
    """Pages down, roles across, each cell a link to that role's picture of that page."""
    roles = [role for role in ROLES if role in shots]
    # In the navigation's order, of the role that sees the most pages first.
    by_reach = sorted(roles, key=lambda role: -len(shots[role]))
    titles = list(dict.fromkeys(title for role in by_reach for title, _ in shots[role]))
    rows = ["| page | " + " | ".join(roles) + " |", "|---|" + "---|" * len(roles)]
    for title in titles:
        cells = []
        for role in roles:
            path = next((p for t, p in shots[role] if t == title), None)
            cells.append(f"[{role}]({path.relative_to(ROOT).as_posix()})" if path else "–")
        rows.append(f"| {title} | " + " | ".join(cells) + " |")
    signed_out = [f"{t}: [signed out]({p.relative_to(ROOT).as_posix()})." for t, p in shots.get("signed out", [])]
    return " ".join([*signed_out, "Signed in, by role:"]) + "\n\n" + "\n".join(rows)


def write_readme_table(text: str) -> None:
    readme = README.read_text()
    pattern = re.compile(re.escape(TABLE_START) + r".*?" + re.escape(TABLE_END), re.S)
    if not pattern.search(readme):
        raise SystemExit(f"README.md has no {TABLE_START} ... {TABLE_END} block to fill")
    README.write_text(pattern.sub(lambda _: f"{TABLE_START}\n{text}\n{TABLE_END}", readme))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("--var", type=Path, default=ROOT / "var" / "screenshots-demo", help="the demo's directory")
    parser.add_argument("--out", type=Path, default=OUT, help="where the PNGs go")
    parser.add_argument("--width", type=int, default=1400, help="browser width in pixels")
    parser.add_argument("--fresh", action="store_true", help="the demo forgets the data it kept under --var first")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds to wait for the sample data")
    args = parser.parse_args(argv)

    demo = Demo(args.var.resolve(), DemoPorts.free())
    started = time.monotonic()
    print(f"starting a demo under {demo.var} (output in {demo.output_path})", flush=True)
    demo.start(*(["--fresh"] if args.fresh else []))
    try:
        print(f"sample data prepared after {demo.wait_prepared(args.timeout):.0f} s; taking pictures", flush=True)
        shots = take(demo, args.out.resolve(), args.width)
    finally:
        status = demo.stop()
    taken = {path for pictures in shots.values() for _, path in pictures}
    for stale in set(args.out.resolve().glob("*.png")) - taken:  # a page renamed or gone
        stale.unlink()
    if args.out.resolve() == OUT:
        write_readme_table(table(shots))
    count = sum(len(taken) for taken in shots.values())
    size = sum(path.stat().st_size for taken in shots.values() for _, path in taken)
    print(f"{count} screenshots ({size / 1e6:.1f} MB) in {time.monotonic() - started:.0f} s; demo exited {status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
