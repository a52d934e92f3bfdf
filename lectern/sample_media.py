"""Small real video files made with ffmpeg, for the demo's legacy S3 lessons and for tests.

imageio-ffmpeg ships a static ffmpeg (libx264 + aac), so nothing is downloaded at run time.
"""

from __future__ import annotations

import subprocess
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
