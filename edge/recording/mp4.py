"""One clip file: fragmented MP4 with the camera's H.264 and the microphone's Opus, as they are.

The access units are muxed by PyAV without decoding or re-encoding anything:
the video stream is created from a template probed from the clip's first
keyframe (its SPS/PPS give size and profile), so no H.264 encoder is ever
opened; the audio stream's Opus header is the one our encoder produces.

``empty_moov`` puts an empty ``moov`` first, then a ``moof``+``mdat`` fragment
about every second, each written out as soon as it is complete: a file cut off
at any point (power cut, ``kill -9``, full disk) still opens and plays up to its
last complete fragment. :func:`truncate_incomplete` trims a torn last fragment.
"""

from __future__ import annotations

import contextlib
import io
import os
import struct
from fractions import Fraction
from pathlib import Path

import av

from edge.media.audio import OpusPacket
from hw.camera import H264AccessUnit
from hw.microphone import CHUNK_SAMPLES, SAMPLE_RATE

FRAGMENT_US = 1_000_000
MUXER_OPTIONS = {
    "movflags": "empty_moov+default_base_moof",
    "frag_duration": str(FRAGMENT_US),
    "flush_packets": "1",  # hand each finished fragment to the OS at once
}
VIDEO_TIME_BASE = Fraction(1, 90_000)
AUDIO_TIME_BASE = Fraction(1, SAMPLE_RATE)
# Audio timestamps jitter with the sound card's clock; MP4 audio wants contiguous
# samples. Keep counting packets unless the capture time says we are this far off.
AUDIO_RESYNC_TICKS = 2 * CHUNK_SAMPLES
# Every file of a clip (this one, its sidecar, its poster): the owner writes, its group reads,
# others nothing, whatever the process umask.
CLIP_FILE_MODE = 0o640


class Mp4Clip:
    """Blocking: used from a clip writer's thread. Starts with ``first``, a keyframe."""

    def __init__(self, path: Path, first: H264AccessUnit, framerate: int, opus_header: bytes | None) -> None:
        if not first.keyframe:
            raise ValueError("a clip must start with a keyframe")
        self._t0 = first.timestamp_us
        self._frame_ticks = round(VIDEO_TIME_BASE.denominator / framerate)
        _create(path)
        self._container = av.open(str(path), "w", format="mp4", container_options=MUXER_OPTIONS)
        try:
            with av.open(io.BytesIO(first.data), format="h264") as probe:
                self._video = self._container.add_stream_from_template(probe.streams.video[0])
            self._video.time_base = VIDEO_TIME_BASE
            self._audio = self._add_audio(opus_header) if opus_header else None
        except BaseException:
            self._container.close()
            raise
        self._last_video_pts = -1
        self._next_audio_pts: int | None = None
        self.frames = 0
        self.last_timestamp_us = first.timestamp_us
        self.write_video(first)

    def _add_audio(self, opus_header: bytes) -> av.audio.stream.AudioStream:
        stream = self._container.add_stream("libopus", rate=SAMPLE_RATE)
        ctx = stream.codec_context
        ctx.layout = "mono"
        ctx.format = "s16"
        ctx.open()  # a cheap encoder that is never fed: it only lets the muxer start
        ctx.extradata = opus_header  # the header of the encoder that made the packets
        stream.time_base = AUDIO_TIME_BASE
        return stream

    def write_video(self, unit: H264AccessUnit) -> None:
        pts = max((unit.timestamp_us - self._t0) * 9 // 100, self._last_video_pts + 1)
        self._mux(self._video, unit.data, pts, self._frame_ticks, VIDEO_TIME_BASE, unit.keyframe)
        self._last_video_pts = pts
        self.frames += 1
        self.last_timestamp_us = unit.timestamp_us

    def write_audio(self, packet: OpusPacket) -> None:
        if self._audio is None or packet.timestamp_us < self._t0:
            return
        pts = (packet.timestamp_us - self._t0) * SAMPLE_RATE // 1_000_000
        expected = self._next_audio_pts
        if expected is not None and (abs(pts - expected) < AUDIO_RESYNC_TICKS or pts < expected):
            pts = expected
        self._mux(self._audio, packet.data, pts, CHUNK_SAMPLES, AUDIO_TIME_BASE, True)
        self._next_audio_pts = pts + CHUNK_SAMPLES

    def _mux(
        self, stream: av.stream.Stream, data: bytes, pts: int, duration: int, time_base: Fraction, keyframe: bool
    ) -> None:
        packet = av.Packet(data)
        packet.stream = stream
        packet.time_base = time_base
        packet.pts = packet.dts = pts
        packet.duration = duration
        packet.is_keyframe = keyframe
        self._container.mux(packet)

    @property
    def has_audio(self) -> bool:
        return self._audio is not None

    @property
    def duration_s(self) -> float:
        return (self.last_timestamp_us - self._t0) / 1e6 + self._frame_ticks / VIDEO_TIME_BASE.denominator

    def close(self) -> None:
        """Write the last fragment and the index (``mfra``); raises on a write error."""
        self._container.close()

    def abandon(self) -> None:
        """Close after a write error, ignoring further errors: what is on disk stays."""
        with contextlib.suppress(OSError, av.FFmpegError):
            self._container.close()


def _create(path: Path) -> None:
    """Create the clip's file empty with CLIP_FILE_MODE.

    FFmpeg creates a file with 0666 less the umask, and keeps the mode of one that is
    there: made here first, the clip is never readable by others, not even for an instant.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, CLIP_FILE_MODE)
    try:
        os.fchmod(fd, CLIP_FILE_MODE)  # the umask may have taken bits away
    finally:
        os.close(fd)


def complete_length(path: Path) -> int:
    """Bytes at the start of the file made of complete top-level boxes (a ``moof`` counts with its ``mdat``)."""
    size = path.stat().st_size
    good = offset = 0
    with path.open("rb") as f:
        pending_moof = False
        while offset + 8 <= size:
            f.seek(offset)
            box_size, box_type = struct.unpack(">I4s", f.read(8))
            if box_size == 1:
                box_size = struct.unpack(">Q", f.read(8))[0]
            elif box_size == 0:
                box_size = size - offset
            if box_size < 8 or offset + box_size > size:
                break
            offset += box_size
            if box_type == b"moof":
                pending_moof = True
                continue
            if pending_moof and box_type != b"mdat":
                break
            pending_moof = False
            good = offset
    return good


def truncate_incomplete(path: Path) -> int:
    """Cut a torn last fragment off (after a crash or a write error); returns the new size."""
    good = complete_length(path)
    if good < path.stat().st_size:
        os.truncate(path, good)
    return good


def probe(path: Path) -> tuple[float, int, bool]:
    """(duration in seconds, video frames, has audio) of a clip file, by reading its packets."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        first = last = None
        frames = 0
        for packet in container.demux(video):
            if packet.pts is None:
                continue
            frames += 1
            first = packet.pts if first is None else first
            last = packet.pts + (packet.duration or 0)
        if first is None or last is None or video.time_base is None:
            return 0.0, 0, bool(container.streams.audio)
        duration = float((last - first) * video.time_base)
        return duration, frames, bool(container.streams.audio)
