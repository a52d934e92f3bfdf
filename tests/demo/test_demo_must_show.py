"""The demo as a newcomer meets it, in headless Chromium (issue 19's "must show").

`lectern demo` starts once for this module, as a user starts it (its own --var directory and free ports), and
prepares its sample data. Then each role signs in and opens every page of its navigation through the sidebar.
On every page: no `None`, `NaN`, `µ` or doubled lesson number ("1. 1. DataFrames") anywhere in what it shows
(text, table cells, chart labels), no error box or exception, and no request to a host other than this machine.
The Costs page shows at least $10 month to date; every chapter mark lies inside its lesson, both in the data
(against the real length of the video behind each lesson) and in the preview's player. Ctrl-C then stops the
demo: exit status 0, every port free.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import imageio_ffmpeg
import pytest

from dashboard.navigation import pages_for
from tests.waiting import wait_until
from tools.demo_browser import (
    CHROMIUM,
    ROLES,
    DashboardSession,
    Demo,
    DemoPorts,
    PageVisit,
    chromium,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(1500)]

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "dashboard" / "static" / "vendor"
ARTIFACTS = ROOT / "test-artifacts"  # timings of the demo's preparation and of each page
# A fresh demo prepares months of sample data on 2 cores; the walk then opens ~25 pages.
PREPARE_TIMEOUT_S = 900

# What a reader must never see: a Python or pandas null, a micro-dollar (SI prefix) axis, a lesson number twice.
FORBIDDEN = {
    "None": re.compile(r"\bNone\b"),
    "NaN": re.compile(r"\b(?:NaN|nan)\b"),
    "µ": re.compile("[µμ]"),
    "a doubled lesson number": re.compile(r"(?<![\d.])(\d+)\. \1\. "),
}
# Alerts the demo stages on purpose are shown in their severity's colour, critical ones in an error box.
ALERT_NOTICES = ("Firing since", "Budget alert since")
MIN_MONTH_TO_DATE_USD = 10.0


def chromium_missing_reason() -> str | None:
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"Chromium not found at {CHROMIUM} (run `make chromium`, or set LECTERN_CHROMIUM)"
    if not (VENDOR / "mux-player.mjs").is_file():
        return "Mux web components not vendored (run `make web-components`)"
    return None


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    if (reason := chromium_missing_reason()) is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser tests must run under CI=true: {reason}")
        pytest.skip(reason)
    running = Demo(tmp_path_factory.mktemp("demo") / "var", DemoPorts.free())
    running.start()
    try:
        prepared_after_s = running.wait_prepared(PREPARE_TIMEOUT_S)
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "demo-prepared.json").write_text(json.dumps({"prepared_after_s": round(prepared_after_s, 1)}))
        yield running
    finally:
        if running.proc is not None and running.proc.poll() is None:
            running.stop()


@dataclass
class Walk:
    sign_in: PageVisit
    titles: dict[str, list[str]]  # role -> its navigation's titles
    visits: list[PageVisit]
    chapters: list[PlayedLesson]

    def page(self, role: str, title: str) -> PageVisit:
        return next(v for v in self.visits if v.role == role and v.title == title)


@dataclass(frozen=True)
class PlayedLesson:
    """A lesson with chapters opened on the preview page: what its player holds."""

    title: str
    provider: str
    duration_s: float
    chapter_starts_s: list[float]


@pytest.fixture(scope="module")
def walk(demo: Demo) -> Walk:
    accounts = demo.accounts()
    visits: list[PageVisit] = []
    titles: dict[str, list[str]] = {}
    with chromium() as browser:
        with DashboardSession(browser, demo.dashboard_url) as session:
            sign_in = session.open_sign_in()
        for role in ROLES:
            with DashboardSession(browser, demo.dashboard_url) as session:
                session.sign_in(accounts[role])
                titles[role] = session.page_titles()
                visits += [session.visit(role, title) for title in titles[role]]
        with DashboardSession(browser, demo.dashboard_url) as session:
            played = play_lessons_with_chapters(demo, session, accounts["teacher"].email)
    pages = [{"role": v.role, "page": v.title, "seconds": round(v.seconds, 1)} for v in visits]
    (ARTIFACTS / "demo-walk.json").write_text(json.dumps(pages, indent=1))
    return Walk(sign_in, titles, visits, played)


def test_every_role_opens_every_page_of_its_navigation(walk: Walk) -> None:
    for role in ROLES:
        expected = [spec.title for specs in pages_for(role).values() for spec in specs]
        assert walk.titles[role] == expected, role
    assert len(walk.visits) == sum(len(t) for t in walk.titles.values())


def test_no_page_shows_none_nan_micro_or_a_doubled_lesson_number(walk: Walk) -> None:
    found = [
        f"{visit.role} / {visit.title}: {name} in {text[:120]!r}"
        for visit in [walk.sign_in, *walk.visits]
        for text in visit.texts
        for name, pattern in FORBIDDEN.items()
        if pattern.search(text)
    ]
    assert not found, "\n".join(dict.fromkeys(found))


def test_no_page_shows_an_error(walk: Walk) -> None:
    errors = [
        f"{visit.role} / {visit.title}: {error[:200]!r}"
        for visit in [walk.sign_in, *walk.visits]
        for error in visit.errors
        if not error.startswith(ALERT_NOTICES)
    ]
    assert not errors, "\n".join(errors)


def test_no_page_requests_a_host_other_than_this_machine(walk: Walk) -> None:
    external = [
        f"{visit.role} / {visit.title}: {url}"
        for visit in [walk.sign_in, *walk.visits]
        for url in visit.external_requests
    ]
    assert not external, "\n".join(external)
    # The recording sees requests at all: loading the app fetches its scripts from the dashboard.
    assert any(url.startswith(f"{walk.sign_in.url.rstrip('/')}/static/") for url in walk.sign_in.requests)


def test_the_costs_page_shows_at_least_10_dollars_month_to_date(walk: Walk) -> None:
    shown = walk.page("admin", "Costs").metrics.get("Month to date")
    assert shown is not None, walk.page("admin", "Costs").metrics
    assert dollars(shown) >= MIN_MONTH_TO_DATE_USD, shown


def test_every_chapter_mark_lies_inside_its_lesson(demo: Demo) -> None:
    """Every lesson's chapters against the real length of its video (the file in S3, the asset in Mux)."""
    lengths = real_lengths(demo)
    outside = []
    for lesson in lessons_with_chapters(demo):
        length = lengths.get(lesson["id"])
        assert length is not None, f"lesson {lesson['id']} has chapters but no video to measure"
        late = [c for c in lesson["chapters"] if not 0 <= float(c["start_s"]) < length]
        if late:
            marks = ", ".join(f"{c['title']} at {float(c['start_s']):.0f} s" for c in late)
            outside.append(f"lesson {lesson['id']} {lesson['title']!r} ({length:.1f} s long): {marks}")
    assert not outside, f"{len(outside)} lessons with chapters past their end:\n" + "\n".join(outside[:20])


def test_listed_lengths_are_the_real_ones(demo: Demo) -> None:
    """What the pages list as a lesson's length (the platform's record) is how long its video plays."""
    lengths = real_lengths(demo)
    wrong = []
    for lesson in platform_lessons(demo):
        listed, real = lesson["video_duration_s"], lengths.get(lesson["id"])
        if listed is not None and real is not None and abs(listed - real) > max(1.0, 0.02 * real):
            where = f"lesson {lesson['id']} ({lesson['video_provider']})"
            wrong.append(f"{where}: listed {listed:.1f} s, plays {real:.1f} s")
    assert not wrong, f"{len(wrong)} lessons listed at the wrong length:\n" + "\n".join(wrong[:20])


def test_the_preview_player_shows_every_chapter_inside_the_video(walk: Walk) -> None:
    assert walk.chapters, "no lesson with chapters to preview"
    for lesson in walk.chapters:
        assert lesson.chapter_starts_s, f"{lesson.title}: the player got no chapters"
        late = [s for s in lesson.chapter_starts_s if s >= lesson.duration_s]
        assert not late, f"{lesson.title} ({lesson.provider}) plays {lesson.duration_s:.1f} s; chapters at {late}"


def test_ctrl_c_stops_the_demo_with_status_0_and_frees_its_ports(demo: Demo) -> None:
    assert demo.stop() == 0, demo.output()[-3000:]
    wait_until(lambda: not demo.ports.in_use(), 15, what="the demo's ports free")
    assert "stopped" in demo.output().lower()


# --- helpers: dollars on a page, the demo's lessons and the real lengths of their videos ---------------------------


def dollars(shown: str) -> float:
    """ "$1,234.56" (or "$0.42") as a number."""
    match = re.fullmatch(r"\$\s?([\d,]+(?:\.\d+)?)", shown.strip())
    assert match is not None, f"not an amount in dollars: {shown!r}"
    return float(match.group(1).replace(",", ""))


def platform_lessons(demo: Demo) -> list[dict[str, Any]]:
    """Every lesson of the demo's platform DB (SQLite under its --var directory), chapters parsed."""
    with sqlite3.connect(f"file:{demo.var / 'lectern.db'}?mode=ro", uri=True) as db:
        db.row_factory = sqlite3.Row
        rows = [dict(r) for r in db.execute("SELECT * FROM lessons ORDER BY id")]
    for row in rows:
        chapters = row["chapters"]
        row["chapters"] = json.loads(chapters) if isinstance(chapters, str) else chapters
    return rows


def lessons_with_chapters(demo: Demo) -> list[dict[str, Any]]:
    return [row for row in platform_lessons(demo) if row["chapters"] and row["video_status"] != "errored"]


def real_lengths(demo: Demo) -> dict[int, float]:
    """Lesson id -> seconds of the video it plays: the Mux asset's duration, or the S3 file's own length."""
    settings = demo.settings()
    lengths: dict[int, float] = {}
    auth = (settings["MUX_TOKEN_ID"], settings["MUX_TOKEN_SECRET"])
    s3 = boto3.client(
        "s3",
        endpoint_url=demo.s3_url,
        aws_access_key_id=settings["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=settings["AWS_SECRET_ACCESS_KEY"],
        region_name=settings.get("AWS_DEFAULT_REGION", "us-east-1"),
    )
    bucket = settings["S3_BUCKET"]
    by_etag: dict[str, float] = {}  # the sample files are few, reused by many lessons: each is measured once
    with httpx.Client(base_url=demo.emulator_url, auth=auth, timeout=30) as mux:
        for lesson in platform_lessons(demo):
            if lesson["video_provider"] == "mux" and lesson["mux_asset_id"] and lesson["video_status"] == "ready":
                asset = mux.get(f"/video/v1/assets/{lesson['mux_asset_id']}").raise_for_status().json()["data"]
                lengths[lesson["id"]] = float(asset["duration"])
            elif lesson["video_provider"] == "s3" and lesson["video_url"]:
                key = str(lesson["video_url"]).removeprefix(f"s3://{bucket}/")
                etag = s3.head_object(Bucket=bucket, Key=key)["ETag"]
                if etag not in by_etag:
                    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key})
                    by_etag[etag] = media_length(url)
                lengths[lesson["id"]] = by_etag[etag]
    return lengths


def media_length(url: str) -> float:
    """The length ffmpeg reads from a video's header (`Duration: 00:04:12.50`)."""
    probe = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", url], capture_output=True, text=True, timeout=60
    )
    match = re.search(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)", probe.stderr)
    assert match is not None, f"no duration in ffmpeg's answer for {url}:\n{probe.stderr[-1000:]}"
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


# --- the preview page: a Mux and an S3 lesson with chapters, as the teacher sees them ---------------------------------

_PLAYER_JS = """() => {
  const player = document.getElementById('player');
  const tracks = [...player.media.textTracks].filter(track => track.kind === 'chapters');
  const starts = tracks.flatMap(track => [...(track.cues || [])].map(cue => cue.startTime));
  return {duration: player.duration, title: player.getAttribute('metadata-video-title'), starts};
}"""


def play_lessons_with_chapters(demo: Demo, session: DashboardSession, teacher_email: str) -> list[PlayedLesson]:
    """The teacher's first ready Mux lesson and first S3 lesson with chapters, each picked on the preview page."""
    with sqlite3.connect(f"file:{demo.var / 'lectern.db'}?mode=ro", uri=True) as db:
        mine = {
            lesson_id: course_title
            for lesson_id, course_title in db.execute(
                "SELECT l.id, c.title FROM lessons l JOIN courses c ON c.id = l.course_id "
                "JOIN users u ON u.id = c.teacher_id WHERE u.email = ?",
                (teacher_email,),
            )
        }
    picked: dict[str, dict[str, Any]] = {}
    for lesson in lessons_with_chapters(demo):
        playable = lesson["video_status"] == "ready" or lesson["video_provider"] == "s3"
        if lesson["id"] in mine and playable:
            picked.setdefault(str(lesson["video_provider"]), lesson)
    played = []
    session.sign_in(demo.accounts()["teacher"])
    session.visit("teacher", "Lesson preview")
    for provider, lesson in sorted(picked.items()):
        choose(session, "Course", mine[lesson["id"]])
        choose(session, "Lesson", re.sub(r"^\d+\.\s*", "", lesson["title"]))
        frame = player_frame(session, lesson["title"])
        frame.wait_for_function("document.getElementById('state').textContent.includes('ready')")
        held = frame.evaluate(_PLAYER_JS)
        played.append(PlayedLesson(lesson["title"], provider, float(held["duration"]), list(held["starts"])))
    return played


def choose(session: DashboardSession, label: str, option: str) -> None:
    page = session.page
    page.get_by_test_id("stSelectbox").filter(has_text=label).click()
    page.get_by_role("option").filter(has_text=option).first.click()
    session.settle(after_click=True)


def player_frame(session: DashboardSession, title: str) -> Any:
    """The frame of the player showing `title` (the page's previous player may still be there for a moment)."""

    def found() -> Any:
        for frame in session.page.frames:
            try:
                player = frame.locator("mux-player")
                if player.count() and player.get_attribute("metadata-video-title") == title:
                    return frame
            except Exception:  # a frame navigating away while we look
                continue
        return None

    return wait_until(found, 30, interval=0.2, what=f"a player for {title!r}")
