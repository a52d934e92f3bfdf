"""Duration of a video behind a URL, read by ffmpeg (imageio-ffmpeg's static build; there is no ffprobe).

ffmpeg reads only what it needs to find the duration: the container header, fetched with HTTP range
requests (for an MP4 whose `moov` atom sits at the end, a seek there). So probing a presigned S3 URL
costs kilobytes, not the file.
"""

from __future__ import annotations

import re
import subprocess

import imageio_ffmpeg

_DURATION = re.compile(r"Duration:\s*(\d+):(\d{2}):(\d{2}(?:\.\d+)?)")


def parse_duration(ffmpeg_stderr: str) -> float | None:
    """Seconds from `ffmpeg -i` output ("Duration: 00:01:02.50"); None when ffmpeg found none (N/A)."""
    match = _DURATION.search(ffmpeg_stderr)
    if match is None:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def probe_duration(url: str, *, timeout_s: float = 60.0) -> float | None:
    """The source's duration in seconds, or None when it is unreadable (not a video, unreachable, timeout)."""
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-rw_timeout", "20000000", "-i", url]
    try:
        # ffmpeg exits 1 here ("At least one output file must be specified"): the header is all we want.
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except (subprocess.TimeoutExpired, OSError):
        return None
    return parse_duration(done.stderr)
