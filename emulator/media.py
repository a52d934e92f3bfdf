"""ffmpeg work: probe an input, cut HLS renditions, grab thumbnails and a storyboard sprite.

There is no ffprobe in imageio-ffmpeg, so `probe` parses the stream summary `ffmpeg -i` prints on stderr.
Encodes are deliberately cheap (ultrafast, CRF; AAC-LC audio copied) and use a 2 s keyframe interval so HLS
can cut segments.
"""

from __future__ import annotations

import math
import re
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

SEGMENT_SECONDS = 2
TEST_ASSET_MAX_SECONDS = 10.0  # Mux truncates test assets to 10 s
STORYBOARD_TILE_WIDTH = 256
STORYBOARD_COLUMNS = 10
LOW_RENDITION_MIN_SOURCE_HEIGHT = 480
FFMPEG_TIMEOUT = 600.0
# Declared in the master playlist; forcing High@4.0 keeps the CODECS attribute truthful for every rung.
VIDEO_CODEC_TAG = "avc1.640028"
AUDIO_CODEC_TAG = "mp4a.40.2"
# Text-art "video" codecs ffmpeg can fake from plain text; Mux would reject such input.
REJECTED_CODECS = frozenset({"ansi", "bintext", "xbin", "idf", "tty"})


class MediaError(Exception):
    """The input is not usable media, or ffmpeg failed on it."""


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


@dataclass
class VideoInfo:
    codec: str
    width: int
    height: int
    fps: float


@dataclass
class AudioInfo:
    codec: str
    channels: int
    layout: str
    sample_rate: int
    profile: str | None = None  # "LC" for AAC-LC, as `ffmpeg -i` prints it; None when not shown


# AAC-LC of these rates and at most two channels is what the renditions carry anyway (CODECS mp4a.40.2):
# copied, not encoded again.
COPY_AUDIO_RATES = range(16_000, 48_001)


@dataclass
class Probe:
    container: str
    duration: float
    video: VideoInfo | None
    audio: AudioInfo | None


_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_INPUT = re.compile(r"^Input #0, (.+?), from ")
_STREAM = re.compile(r"^\s*Stream #0:\d+(?:\[\w+\])?(?:\([^)]*\))?: (Video|Audio|Subtitle|Data): (\w+)(.*)$")
_SIZE = re.compile(r"(?<![\w.])(\d{2,5})x(\d{2,5})(?![\w])")
_FPS = re.compile(r"([\d.]+)(k?) (fps|tbr)")
_AUDIO = re.compile(r"(\d+) Hz, ([^,]+)")
_ROTATION = re.compile(r"rotation of (-?[\d.]+) degrees")
_CHANNEL_LAYOUTS = {"mono": 1, "stereo": 2, "2.1": 3, "quad": 4, "5.0": 5, "5.1": 6, "6.1": 7, "7.1": 8}


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=FFMPEG_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:
        raise MediaError("media processing took too long") from exc


def _last_error_line(stderr: str) -> str:
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "ffmpeg failed"


def parse_probe(stderr: str) -> Probe:
    """Turn `ffmpeg -i` stderr into a Probe, or raise MediaError if it is not playable media."""
    container = ""
    duration: float | None = None
    video: VideoInfo | None = None
    audio: AudioInfo | None = None
    lines = stderr.splitlines()
    for index, line in enumerate(lines):
        if match := _INPUT.search(line):
            container = match.group(1)
        if (match := _DURATION.search(line)) and duration is None:
            hours, minutes, seconds = match.groups()
            duration = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
        match = _STREAM.match(line)
        if not match:
            continue
        kind, codec, rest = match.groups()
        if kind == "Video" and video is None and codec not in REJECTED_CODECS:
            if "attached pic" in rest:
                continue  # cover art inside an audio file is not a video track
            size = _SIZE.search(rest)
            if not size:
                continue
            width, height = int(size.group(1)), int(size.group(2))
            fps_match = _FPS.search(rest)
            fps = 0.0
            if fps_match:
                fps = float(fps_match.group(1)) * (1000 if fps_match.group(2) else 1)
            for side in lines[index + 1 : index + 12]:
                if _STREAM.match(side):
                    break
                rotation = _ROTATION.search(side)
                if rotation and round(abs(float(rotation.group(1)))) % 180 == 90:
                    width, height = height, width
            video = VideoInfo(codec=codec, width=width, height=height, fps=round(fps, 3))
        elif kind == "Audio" and audio is None:
            info = _AUDIO.search(rest)
            if not info:
                continue
            layout = info.group(2).strip().split("(")[0]
            channels = _CHANNEL_LAYOUTS.get(layout)
            if channels is None:
                count = re.match(r"(\d+) channels", layout)
                channels = int(count.group(1)) if count else 2
            profile = re.match(r"\s*\((\w[\w-]*)\)", rest)
            audio = AudioInfo(
                codec=codec,
                channels=channels,
                layout=layout,
                sample_rate=int(info.group(1)),
                profile=profile.group(1) if profile else None,
            )
    if "Invalid data found when processing input" in stderr or not container:
        raise MediaError("The input file could not be read as audio or video (invalid data).")
    if video is None and audio is None:
        raise MediaError("The input file contains no audio or video tracks.")
    if duration is None or duration <= 0:
        raise MediaError("The input file has no duration; still images are not supported.")
    return Probe(container=container, duration=duration, video=video, audio=audio)


def probe(path: Path) -> Probe:
    result = _run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)])
    return parse_probe(result.stderr)


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def rendition_heights(source_height: int, cap: int) -> list[int]:
    """Source (capped by max_resolution_tier) plus a half-height rung for sources of 480p and up."""
    top = min(source_height, cap)
    heights = [_even(top)]
    if source_height >= LOW_RENDITION_MIN_SOURCE_HEIGHT:
        heights.append(_even(top / 2))
    return heights


def _playlist_stats(playlist: Path) -> tuple[float, int, int]:
    """(duration, peak bits/s, average bits/s) from a media playlist and its segment sizes."""
    total_seconds = 0.0
    total_bits = 0
    peak = 0
    pending: float | None = None
    for line in playlist.read_text().splitlines():
        if line.startswith("#EXTINF:"):
            pending = float(line[len("#EXTINF:") :].split(",")[0])
        elif line and not line.startswith("#") and pending is not None:
            bits = (playlist.parent / line).stat().st_size * 8
            total_seconds += pending
            total_bits += bits
            peak = max(peak, int(bits / max(pending, 0.1)))
            pending = None
    average = int(total_bits / total_seconds) if total_seconds else 0
    return total_seconds, max(peak, average, 1), max(average, 1)


def _copyable(audio: AudioInfo) -> bool:
    lc = audio.codec == "aac" and audio.profile == "LC"
    return lc and audio.channels <= 2 and audio.sample_rate in COPY_AUDIO_RATES


def transcode_hls(source: Path, out_dir: Path, info: Probe, *, max_height: int, test: bool) -> list[dict[str, Any]]:
    """Encode all renditions in one ffmpeg run (one decode) and describe them for the master playlist."""
    cmd = [ffmpeg_exe(), "-y", "-hide_banner", "-loglevel", "error", "-nostdin", "-i", str(source)]
    plans: list[dict[str, Any]] = []
    if info.video:
        for height in rendition_heights(info.video.height, max_height):
            width = _even(info.video.width * height / info.video.height)
            plans.append({"name": f"{height}p", "width": width, "height": height})
    else:
        plans.append({"name": "audio", "width": None, "height": None})
    for plan in plans:
        target = out_dir / plan["name"]
        target.mkdir(parents=True, exist_ok=True)
        if test:
            cmd += ["-t", str(TEST_ASSET_MAX_SECONDS)]
        if info.video:
            fps = info.video.fps or 30.0
            cmd += ["-map", "0:v:0", "-vf", f"scale={plan['width']}:{plan['height']},setsar=1"]
            cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "high", "-level:v", "4.0"]
            cmd += ["-pix_fmt", "yuv420p", "-crf", "26", "-sc_threshold", "0"]
            cmd += ["-force_key_frames", f"expr:gte(t,n_forced*{SEGMENT_SECONDS})"]
            if fps > 60:
                cmd += ["-r", "60"]
        if info.audio and _copyable(info.audio):
            cmd += ["-map", "0:a:0", "-c:a", "copy"]
        elif info.audio:
            cmd += ["-map", "0:a:0", "-c:a", "aac", "-b:a", "128k", "-ac", str(min(info.audio.channels, 2))]
        cmd += ["-f", "hls", "-hls_time", str(SEGMENT_SECONDS), "-hls_playlist_type", "vod"]
        cmd += ["-hls_list_size", "0", "-hls_segment_filename", str(target / "seg_%03d.ts")]
        cmd += [str(target / "index.m3u8")]
    result = _run(cmd)
    if result.returncode != 0:
        raise MediaError(f"The input file could not be transcoded: {_last_error_line(result.stderr)}")
    renditions: list[dict[str, Any]] = []
    for plan in plans:
        duration, peak, average = _playlist_stats(out_dir / plan["name"] / "index.m3u8")
        codecs = [VIDEO_CODEC_TAG] if info.video else []
        if info.audio:
            codecs.append(AUDIO_CODEC_TAG)
        renditions.append(
            {
                **plan,
                "fps": min(info.video.fps, 60.0) if info.video else None,
                "duration": duration,
                "bandwidth": peak,
                "average_bandwidth": average,
                "codecs": ",".join(codecs),
            }
        )
    return renditions


def master_playlist(renditions: list[dict[str, Any]], uri_for: Any) -> str:
    """Master playlist text; `uri_for(name)` gives each media playlist URI (token included)."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for rendition in sorted(renditions, key=lambda r: r["bandwidth"], reverse=True):
        attrs = [f"BANDWIDTH={rendition['bandwidth']}", f"AVERAGE-BANDWIDTH={rendition['average_bandwidth']}"]
        attrs.append(f'CODECS="{rendition["codecs"]}"')
        if rendition.get("height"):
            attrs.append(f"RESOLUTION={rendition['width']}x{rendition['height']}")
        if rendition.get("fps"):
            attrs.append(f"FRAME-RATE={rendition['fps']:.3f}")
        lines.append("#EXT-X-STREAM-INF:" + ",".join(attrs))
        lines.append(uri_for(rendition["name"]))
    return "\n".join(lines) + "\n"


def thumbnail_filters(
    *, width: int | None, height: int | None, fit_mode: str, rotate: int, flip_h: bool, flip_v: bool
) -> str:
    filters: list[str] = []
    if rotate == 90:
        filters.append("transpose=1")
    elif rotate == 180:
        filters.append("hflip,vflip")
    elif rotate == 270:
        filters.append("transpose=2")
    if flip_h:
        filters.append("hflip")
    if flip_v:
        filters.append("vflip")
    if width and height:
        if fit_mode == "stretch":
            filters.append(f"scale={width}:{height}")
        elif fit_mode in ("crop", "smartcrop"):
            filters.append(f"scale={width}:{height}:force_original_aspect_ratio=increase,crop={width}:{height}")
        elif fit_mode == "pad":
            filters.append(f"scale={width}:{height}:force_original_aspect_ratio=decrease")
            filters.append(f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2")
        else:
            filters.append(f"scale={width}:{height}:force_original_aspect_ratio=decrease")
    elif width:
        filters.append(f"scale={width}:-2")
    elif height:
        filters.append(f"scale=-2:{height}")
    filters.append("setsar=1")
    return ",".join(filters)


def make_thumbnail(source: Path, dest: Path, *, at: float, duration: float, filters: str) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    at = max(0.0, min(at, duration - 0.1))
    for seek in (at, 0.0):
        cmd = [ffmpeg_exe(), "-y", "-hide_banner", "-loglevel", "error", "-nostdin", "-ss", f"{seek:.3f}"]
        cmd += ["-i", str(source), "-frames:v", "1", "-vf", filters]
        if dest.suffix == ".jpg":
            cmd += ["-q:v", "3"]
        cmd += ["-update", "1", str(dest)]
        result = _run(cmd)
        if result.returncode == 0 and dest.exists() and dest.stat().st_size > 0:
            return
    raise MediaError(f"thumbnail extraction failed: {_last_error_line(result.stderr)}")


def make_storyboard(source: Path, dest: Path, info: Probe, duration: float) -> dict[str, Any]:
    """A sprite of evenly spaced tiles (Mux uses 50 for assets under 15 minutes)."""
    assert info.video is not None
    wanted = 50 if duration < 900 else 100
    frames = max(1, int(duration * (info.video.fps or 1)))
    count = max(1, min(wanted, frames))
    columns = min(STORYBOARD_COLUMNS, count)
    rows = math.ceil(count / columns)
    tile_w = STORYBOARD_TILE_WIDTH
    tile_h = _even(tile_w * info.video.height / info.video.width)
    filters = f"fps={count}/{duration:.6f},scale={tile_w}:{tile_h},setsar=1,tile={columns}x{rows}"
    cmd = [ffmpeg_exe(), "-y", "-hide_banner", "-loglevel", "error", "-nostdin", "-i", str(source)]
    cmd += ["-vf", filters, "-frames:v", "1", "-q:v", "4", "-update", "1", str(dest)]
    result = _run(cmd)
    if result.returncode != 0 or not dest.exists():
        raise MediaError(f"storyboard generation failed: {_last_error_line(result.stderr)}")
    step = duration / count
    tiles = [
        {"start": round(i * step, 3), "x": (i % columns) * tile_w, "y": (i // columns) * tile_h} for i in range(count)
    ]
    return {"tile_width": tile_w, "tile_height": tile_h, "duration": duration, "tiles": tiles}


def convert_image(source: Path, dest: Path) -> None:
    result = _run([ffmpeg_exe(), "-y", "-hide_banner", "-loglevel", "error", "-i", str(source), str(dest)])
    if result.returncode != 0:
        raise MediaError(f"image conversion failed: {_last_error_line(result.stderr)}")


def _vtt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def storyboard_vtt(geometry: dict[str, Any], image_url: str) -> str:
    tiles = geometry["tiles"]
    lines = ["WEBVTT", ""]
    for index, tile in enumerate(tiles):
        end = tiles[index + 1]["start"] if index + 1 < len(tiles) else geometry["duration"]
        lines.append(f"{_vtt_time(tile['start'])} --> {_vtt_time(end)}")
        xywh = f"{tile['x']},{tile['y']},{geometry['tile_width']},{geometry['tile_height']}"
        lines.append(f"{image_url}#xywh={xywh}")
        lines.append("")
    return "\n".join(lines)


def storyboard_json(geometry: dict[str, Any], image_url: str) -> dict[str, Any]:
    return {"url": image_url, **geometry}
