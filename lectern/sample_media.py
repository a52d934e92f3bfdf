"""Real video files made with ffmpeg: lesson-length sample videos for the demo, and short clips for tests.

imageio-ffmpeg ships a static ffmpeg (libx264 + aac), so nothing is downloaded at run time.

The demo's lessons are 5-24 minutes long, and hundreds of them: encoding each would take hours on two cores.
So there are only a few sample videos, one per length in `LESSON_CLIP_SECONDS`, and every lesson with a video
is one of them (its listed duration is its file's). Each is a "slide" (a coloured background, a title bar
and text lines, a moving test pattern with a counter in a corner) at one frame a second with silent audio:
one 64-second unit is encoded, then repeated by stream copy to the full length with the audio track made
for the whole length, so a 20-minute video costs about a second and weighs under 2 MB. 960x540 (16:9) is
tall enough for the emulator to cut two renditions (540p and 270p) for the player's quality menu.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg

PATTERNS = ["testsrc", "testsrc2", "smptebars", "rgbtestsrc", "mandelbrot", "smptehdbars"]


def make_clip(
    path: Path,
    *,
    seconds: float = 3.0,
    width: int = 320,
    height: int = 240,
    pattern: str = "testsrc",
    fps: int = 25,
    tone_hz: int = 440,
) -> Path:
    """Encode an H.264/AAC MP4 (keyframe every second, so HLS can cut segments anywhere)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-y",
        "-loglevel",
        "error",
        "-f",
        "lavfi",
        "-i",
        f"{pattern}=size={width}x{height}:rate={fps}",
        "-f",
        "lavfi",
        "-i",
        f"sine=frequency={tone_hz}:sample_rate=44100",
        "-t",
        f"{seconds:.2f}",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-g",
        str(fps),
        "-c:a",
        "aac",
        "-b:a",
        "64k",
        "-shortest",
        "-movflags",
        "+faststart",
        str(path),
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    return path


def sample_clips(directory: Path, count: int = 6) -> list[Path]:
    """A handful of distinct clips of varied length (cached: made once per directory)."""
    clips = []
    for i in range(count):
        seconds = 3.0 + 1.5 * i
        path = directory / f"sample-{i}-{seconds:.1f}s.mp4"
        if not path.exists():
            make_clip(path, seconds=seconds, pattern=PATTERNS[i % len(PATTERNS)], tone_hz=330 + 55 * i)
        clips.append(path)
    return clips


# The sample lessons' lengths in seconds (5:12 to 23:50): whole seconds, so each file lasts exactly that long.
LESSON_CLIP_SECONDS: tuple[int, ...] = (312, 465, 570, 678, 820, 965, 1167, 1430)
LESSON_SIZE = (960, 540)
LESSON_FPS = 1
UNIT_SECONDS = 64  # the encoded unit; a keyframe every 8 s, so every copy of it starts on one
LESSON_MEDIA_VERSION = 1  # part of the file names: a new recipe makes new files instead of reusing old ones
_BACKGROUNDS = ["264653", "1d3557", "6d597a", "2a9d8f", "3d405b", "495057", "7f5539", "283618"]


@dataclass(frozen=True)
class LessonClip:
    seconds: int
    path: Path


def lesson_clip_path(directory: Path, seconds: int) -> Path:
    return directory / f"lesson-{seconds}s-v{LESSON_MEDIA_VERSION}.mp4"


def _ffmpeg(args: list[str]) -> None:
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", *args]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)


def make_lesson_clip(path: Path, *, seconds: int, look: int = 0) -> Path:
    """One sample lesson video of exactly `seconds` (whole seconds) at 960x540, 1 fps, silent mono AAC."""
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = LESSON_SIZE
    colour = _BACKGROUNDS[look % len(_BACKGROUNDS)]
    slide = ",".join(
        [
            "drawbox=x=60:y=80:w=560:h=44:c=white@0.85:t=fill",
            *(f"drawbox=x=60:y={170 + 42 * i}:w={460 - 40 * (i % 3)}:h=18:c=white@0.5:t=fill" for i in range(6)),
        ]
    )
    unit = path.with_name(f".{path.stem}.unit.mp4")
    _ffmpeg(
        [
            *("-f", "lavfi", "-i", f"color=c=0x{colour}:s={width}x{height}:r={LESSON_FPS}"),
            *("-t", str(UNIT_SECONDS)),
            "-filter_complex",
            f"testsrc=s=240x135:r={LESSON_FPS}[t];[0:v]{slide}[b];[b][t]overlay=x=660:y=60[v]",
            *("-map", "[v]", "-c:v", "libx264", "-preset", "veryfast", "-crf", "30", "-pix_fmt", "yuv420p"),
            # No B-frames and a fixed keyframe interval: the copies join exactly, and seeking lands anywhere.
            *("-bf", "0", "-g", "8", "-keyint_min", "8", "-sc_threshold", "0"),
            str(unit),
        ]
    )
    partial = path.with_name(f".{path.name}.part.mp4")
    try:
        _ffmpeg(
            [
                *("-stream_loop", "-1", "-i", str(unit)),
                *("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono"),
                *("-t", str(seconds), "-map", "0:v", "-map", "1:a", "-c:v", "copy"),
                *("-c:a", "aac", "-b:a", "12k", "-movflags", "+faststart", str(partial)),
            ]
        )
        partial.replace(path)
    finally:
        unit.unlink(missing_ok=True)
        partial.unlink(missing_ok=True)
    return path


def lesson_clips(directory: Path, lengths: Sequence[int] = LESSON_CLIP_SECONDS) -> list[LessonClip]:
    """The sample lesson videos, one per length (cached: made once per directory, about a second each, two
    at a time)."""
    clips = [LessonClip(seconds, lesson_clip_path(directory, seconds)) for seconds in lengths]
    missing = [(look, clip) for look, clip in enumerate(clips) if not clip.path.exists()]
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda item: make_lesson_clip(item[1].path, seconds=item[1].seconds, look=item[0]), missing))
    return clips


def clip_for(clips: list[LessonClip], duration_s: float | None) -> LessonClip | None:
    """The sample video a lesson of `duration_s` plays (None when no sample video has that length)."""
    if duration_s is None:
        return None
    return next((clip for clip in clips if abs(clip.seconds - duration_s) < 0.5), None)
