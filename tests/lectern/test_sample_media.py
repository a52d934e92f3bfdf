"""The sample lesson videos: exactly as long as the lessons that play them, regular keyframes, made once."""

from __future__ import annotations

import re
import subprocess
from itertools import pairwise
from pathlib import Path

import imageio_ffmpeg
import pytest

from emulator.media import probe
from lectern.sample_media import LESSON_FPS, LESSON_SIZE, UNIT_SECONDS, LessonClip, clip_for, lesson_clips


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[LessonClip]:
    # Past one repeat of the encoded unit, so the joins are checked too; short enough to stay quick.
    return lesson_clips(tmp_path_factory.mktemp("media"), (UNIT_SECONDS + 13, 2 * UNIT_SECONDS + 5))


def keyframe_times(path: Path) -> list[float]:
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path), "-map", "0:v"]
    cmd += ["-vf", "select='eq(pict_type,I)',showinfo", "-f", "null", "-"]
    stderr = subprocess.run(cmd, capture_output=True, text=True, check=True).stderr
    return [float(t) for t in re.findall(r"pts_time:([\d.]+)", stderr)]


def test_each_video_lasts_exactly_its_length(clips: list[LessonClip]) -> None:
    for clip in clips:
        info = probe(clip.path)  # what the emulator (and the migration's duration check) reads
        assert info.duration == pytest.approx(clip.seconds, abs=0.05)
        assert info.video is not None and (info.video.width, info.video.height) == LESSON_SIZE
        assert info.video.fps == LESSON_FPS
        assert info.audio is not None and info.audio.codec == "aac"
        assert clip.path.stat().st_size < 200_000 * clip.seconds / 60  # about 0.1 MB a minute: S3 holds many


def test_keyframes_are_regular_across_the_repeats(clips: list[LessonClip]) -> None:
    times = keyframe_times(clips[-1].path)
    assert times[0] == 0.0
    assert {round(b - a) for a, b in pairwise(times)} == {8}
    assert times[-1] > 2 * UNIT_SECONDS - 8


def test_made_once_per_directory_and_matched_by_length(clips: list[LessonClip]) -> None:
    stamps = [c.path.stat().st_mtime_ns for c in clips]
    again = lesson_clips(clips[0].path.parent, [c.seconds for c in clips])
    assert [c.path.stat().st_mtime_ns for c in again] == stamps
    assert clip_for(again, float(clips[1].seconds)) == clips[1]
    assert clip_for(again, clips[1].seconds + 3.0) is None and clip_for(again, None) is None
