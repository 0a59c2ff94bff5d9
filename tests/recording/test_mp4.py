"""Clip files: fragmented MP4 muxed from the access units as they are, and what survives a cut."""

from __future__ import annotations

import json
import os
import subprocess

import av
import pytest

from edge.media.h264 import split_nal_units
from edge.recording.mp4 import Mp4Clip, complete_length, probe, truncate_incomplete
from edge.recording.writer import ClipWriter
from testbed.media import FPS, FRAME_US, AudioSource, VideoSource, decode_frame_codes, until
from tests.recording.storage import fill, tmpfs

T0 = 50_000_000


def write_clip(path, seconds: float, gop: int = 15, audio: bool = True) -> list:
    video, sound = VideoSource(gop), AudioSource()
    units = [video.frame(T0 + i * FRAME_US) for i in range(round(seconds * FPS))]
    clip = Mp4Clip(path, units[0], FPS, sound.header if audio else None)
    audio_t = T0
    for unit in units[1:]:
        clip.write_video(unit)
        while audio and audio_t <= unit.timestamp_us:
            for packet in sound.packets(audio_t):
                clip.write_audio(packet)
            audio_t += 20_000
    clip.close()
    return units


def length_prefixed_nal_units(data: bytes) -> list[bytes]:
    units, i = [], 0
    while i < len(data):
        size = int.from_bytes(data[i : i + 4], "big")
        units.append(data[i + 4 : i + 4 + size])
        i += 4 + size
    return units


def ffprobe(path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return json.loads(out.stdout)


def test_h264_and_opus_muxed_without_reencoding(tmp_path):
    path = tmp_path / "clip.mp4"
    units = write_clip(path, 3)
    info = ffprobe(path)
    codecs = {s["codec_type"]: s for s in info["streams"]}
    assert codecs["video"]["codec_name"] == "h264" and codecs["audio"]["codec_name"] == "opus"
    assert codecs["audio"]["channels"] == 1 and codecs["audio"]["sample_rate"] == "48000"
    assert float(info["format"]["duration"]) == pytest.approx(3.0, abs=0.1)
    codes = decode_frame_codes(path)
    assert [c[0] for c in codes] == list(range(len(units)))  # every frame, in order
    assert codes[0][2]  # starts with a keyframe
    # The very same NAL units: the muxer only swapped start codes for lengths.
    with av.open(str(path)) as container:
        muxed = [length_prefixed_nal_units(bytes(p)) for p in container.demux(video=0) if p.size]
    assert muxed == [split_nal_units(u.data) for u in units]


def test_a_camera_restart_inside_a_clip_decodes_cleanly(tmp_path):
    """A new encoder session (new IDR, frame numbers from 0) after a gap of 2 s."""
    first, second = VideoSource(), VideoSource()
    before = [first.frame(T0 + i * FRAME_US) for i in range(20)]
    after = [second.frame(T0 + 3_000_000 + i * FRAME_US) for i in range(20)]
    path = tmp_path / "restart.mp4"
    clip = Mp4Clip(path, before[0], FPS, None)
    for unit in before[1:] + after:
        clip.write_video(unit)
    clip.close()
    codes = decode_frame_codes(path)
    assert [c[0] for c in codes] == list(range(20)) * 2
    duration, frames, has_audio = probe(path)
    assert frames == 40 and not has_audio and duration == pytest.approx(3.0 + 20 / FPS, abs=0.05)


def test_a_torn_last_fragment_is_cut_and_the_rest_plays(tmp_path):
    path = tmp_path / "torn.mp4"
    write_clip(path, 4)
    size = path.stat().st_size
    assert complete_length(path) == size
    os.truncate(path, size - 5000)  # a power cut in the middle of the last fragment
    good = complete_length(path)
    assert good < size - 5000
    assert truncate_incomplete(path) == good == path.stat().st_size
    duration, frames, _ = probe(path)
    assert 2.0 <= duration < 4.0
    indexes = [c[0] for c in decode_frame_codes(path)]
    assert indexes == list(range(len(indexes))) and len(indexes) == frames


async def test_the_writer_thread_reports_what_it_wrote(tmp_path):
    video, sound = VideoSource(), AudioSource()
    errors = []
    writer = ClipWriter(tmp_path / "w.mp4", FPS, sound.header, errors.append)
    for i in range(45):
        writer.add(video.frame(T0 + i * FRAME_US))
        for packet in sound.packets(T0 + i * FRAME_US):
            writer.add(packet)
    outcome = await writer.finish()
    assert errors == [] and outcome.error is None
    assert outcome.frames == 45 and outcome.has_audio
    assert outcome.duration_s == pytest.approx(1.5, abs=0.01)
    assert outcome.size_bytes == (tmp_path / "w.mp4").stat().st_size
    assert writer.backlog_bytes == 0


async def test_a_file_that_cannot_be_created_is_an_error_not_a_crash(tmp_path):
    errors = []
    writer = ClipWriter(tmp_path / "missing-dir" / "w.mp4", FPS, None, errors.append)
    writer.add(VideoSource().frame(T0))
    outcome = await writer.finish()
    assert outcome.frames == 0 and outcome.error and errors == [outcome.error]


@pytest.mark.root  # mounts a tmpfs
async def test_a_write_error_while_closing_is_not_lost(tmp_path):
    """PyAV ignores the last flush's error when it closes a file: the writer checks the file itself."""
    with tmpfs(tmp_path / "small", 512) as root:
        video, sound = VideoSource(), AudioSource()
        writer = ClipWriter(root / "w.mp4", FPS, sound.header, lambda error: None)
        for i in range(27):  # 0.9 s: all of it still in the muxer's open fragment (more than a page)
            writer.add(video.frame(T0 + i * FRAME_US))
            for packet in sound.packets(T0 + i * FRAME_US):
                writer.add(packet)
        await until(lambda: writer.backlog_bytes == 0 and (root / "w.mp4").exists(), what="the writer to catch up")
        fill(root, leave_kib=0)
        outcome = await writer.finish()
        assert outcome.error and "did not reach the disk" in outcome.error
        assert complete_length(root / "w.mp4") == (root / "w.mp4").stat().st_size  # no torn tail left
