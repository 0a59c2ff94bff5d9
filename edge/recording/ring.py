"""The pre-trigger buffer: the last few seconds of encoded video and audio, in memory.

It always starts at a keyframe (a clip must), and keeps exactly enough to start
a clip at the last keyframe at or before ``now - pre``: so it spans ``pre`` plus
at most one keyframe interval. A byte cap bounds memory whatever the keyframe
interval; when it bites, whole GOPs go and the pre-roll gets shorter.
"""

from __future__ import annotations

from collections import deque
from typing import TypeVar

from edge.media.audio import OpusPacket
from hw.camera import H264AccessUnit

Item = TypeVar("Item", H264AccessUnit, OpusPacket)


class MediaRing:
    def __init__(self, keep_us: int, max_bytes: int) -> None:
        self._keep_us = keep_us
        self._max_bytes = max_bytes
        self._video: deque[H264AccessUnit] = deque()
        self._audio: deque[OpusPacket] = deque()
        self._keyframes: deque[int] = deque()  # timestamps of the keyframes in _video
        self.bytes = 0

    def add_video(self, unit: H264AccessUnit) -> None:
        if not unit.keyframe and not self._video:
            return  # a P-frame without its keyframe is useless
        self._video.append(unit)
        self.bytes += len(unit.data)
        if unit.keyframe:
            self._keyframes.append(unit.timestamp_us)
        self._trim(unit.timestamp_us)

    def add_audio(self, packet: OpusPacket) -> None:
        self._audio.append(packet)
        self.bytes += len(packet.data)
        self._trim_audio(packet.timestamp_us)

    def _trim(self, newest_us: int) -> None:
        # Drop the oldest GOP while the next keyframe is old enough to start any clip we may need.
        while len(self._keyframes) > 1 and self._keyframes[1] <= newest_us - self._keep_us:
            self._drop_gop()
        while self.bytes > self._max_bytes and self._video:
            self._drop_gop()
        self._trim_audio(newest_us)

    def _drop_gop(self) -> None:
        self._keyframes.popleft()
        next_keyframe = self._keyframes[0] if self._keyframes else None
        while self._video and self._video[0].timestamp_us != next_keyframe:
            self.bytes -= len(self._video.popleft().data)

    def _trim_audio(self, newest_us: int) -> None:
        """Audio goes back as far as the video does (without video: ``keep_us``)."""
        oldest_us = self._video[0].timestamp_us if self._video else newest_us - self._keep_us
        while self._audio and self._audio[0].timestamp_us < oldest_us:
            self.bytes -= len(self._audio.popleft().data)

    def start_for(self, target_us: int) -> int | None:
        """The timestamp of the last keyframe at or before ``target_us`` (else the oldest one); None if empty."""
        chosen = self._keyframes[0] if self._keyframes else None
        for ts in self._keyframes:
            if ts > target_us:
                break
            chosen = ts
        return chosen

    def video_between(self, after_us: int, before_us: int) -> list[H264AccessUnit]:
        """Video with ``after_us < timestamp < before_us``, oldest first."""
        return _between(self._video, after_us, before_us)

    def audio_between(self, after_us: int, before_us: int) -> list[OpusPacket]:
        return _between(self._audio, after_us, before_us)

    @property
    def span_us(self) -> int:
        return self._video[-1].timestamp_us - self._video[0].timestamp_us if self._video else 0

    @property
    def frames(self) -> int:
        return len(self._video)

    @property
    def packets(self) -> int:
        return len(self._video) + len(self._audio)


def _between(items: deque[Item], after_us: int, before_us: int) -> list[Item]:
    """Items newer than ``after_us`` are at the end: collect them from the right."""
    found = []
    for item in reversed(items):
        if item.timestamp_us <= after_us:
            break
        if item.timestamp_us < before_us:
            found.append(item)
    found.reverse()
    return found
