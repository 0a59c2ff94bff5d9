"""Test doubles for the recorder: real H.264 and Opus with timestamps the test chooses,
and hubs that hand them out like the daemon's (bounded, keyframe-gated queues)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from fractions import Fraction

import av
import numpy as np

from edge.media.audio import OpusEncoder, OpusPacket
from edge.media.fanout import Fanout
from hw.camera import CameraSettings, H264AccessUnit
from hw.camera.framecode import draw_frame_code, frame_code_value, read_frame_code, split_frame_code
from hw.microphone import CHUNK_BYTES, PcmChunk

WIDTH, HEIGHT = 256, 144  # the frame code needs 4-pixel cells
FPS = 30
FRAME_US = 1_000_000 // FPS


class FakeClock:
    """The recorder's and the GPIO's clock, moved by the test."""

    def __init__(self, now_us: int = 100_000_000) -> None:
        self.now_us = now_us

    def __call__(self) -> int:
        return self.now_us


class VideoSource:
    """Encodes frames on demand: frame ``n`` carries the frame code ``(n, capture ms)``."""

    def __init__(self, gop: int = 15) -> None:
        self._codec = av.CodecContext.create("libx264", "w")
        self._codec.width, self._codec.height = WIDTH, HEIGHT
        self._codec.pix_fmt = "yuv420p"
        self._codec.time_base = Fraction(1, FPS)
        self._codec.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "profile": "baseline",
            "x264-params": f"repeat-headers=1:keyint={gop}:min-keyint={gop}:scenecut=0:threads=1",
        }
        self._codec.open()
        self.index = 0

    def frame(self, timestamp_us: int) -> H264AccessUnit:
        yuv = np.full((HEIGHT * 3 // 2, WIDTH), 128, dtype=np.uint8)
        draw_frame_code(yuv[:HEIGHT], frame_code_value(self.index, timestamp_us // 1000))
        picture = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        picture.pts = self.index
        (packet,) = self._codec.encode(picture)
        self.index += 1
        return H264AccessUnit(bytes(packet), packet.is_keyframe, timestamp_us, time.time())


class AudioSource:
    def __init__(self) -> None:
        self._encoder = OpusEncoder(32_000)
        self.header = self._encoder.extradata

    def packets(self, timestamp_us: int) -> list[OpusPacket]:
        return self._encoder.encode(PcmChunk(bytes(CHUNK_BYTES), timestamp_us))


class FakeVideoHub:
    def __init__(self) -> None:
        self.settings = CameraSettings(width=WIDTH, height=HEIGHT, framerate=FPS)
        self._fanout: Fanout[H264AccessUnit] = Fanout(gated=True)
        self.keyframe_requests = 0

    def subscribe(self, maxlen: int):
        return self._fanout.subscribe(maxlen)

    def unsubscribe(self, queue) -> None:
        self._fanout.unsubscribe(queue)

    def request_keyframe(self) -> None:
        self.keyframe_requests += 1

    @property
    def consumers(self) -> int:
        return len(self._fanout)

    def publish(self, unit: H264AccessUnit) -> None:
        self._fanout.publish(unit)


class FakeAudioHub:
    def __init__(self, header: bytes | None) -> None:
        self.opus_header = header
        self._fanout: Fanout[OpusPacket] = Fanout(gated=False)

    def subscribe(self, maxlen: int):
        return self._fanout.subscribe(maxlen)

    def unsubscribe(self, queue) -> None:
        self._fanout.unsubscribe(queue)

    def publish(self, packet: OpusPacket) -> None:
        self._fanout.publish(packet)


class Camera:
    """Video and audio hubs fed in lockstep with a fake clock, one frame interval per step."""

    def __init__(self, clock: FakeClock, gop: int = 15, audio: bool = True) -> None:
        self.clock = clock
        self.video_source = VideoSource(gop)
        self.audio_source = AudioSource() if audio else None
        self.video = FakeVideoHub()
        self.audio = FakeAudioHub(self.audio_source.header) if self.audio_source else None
        self._next_audio_us = clock.now_us
        self.sent: list[H264AccessUnit] = []

    async def run_for(self, seconds: float, between: Callable[[], None] | None = None) -> None:
        """Publish ``seconds`` of media, advancing the clock; yields to the loop after every frame."""
        for _ in range(round(seconds * FPS)):
            await self.step()
            if between:
                between()

    async def step(self) -> None:
        now = self.clock.now_us
        unit = self.video_source.frame(now)
        self.sent.append(unit)
        self.video.publish(unit)
        while self.audio and self.audio_source and self._next_audio_us <= now:
            for packet in self.audio_source.packets(self._next_audio_us):
                self.audio.publish(packet)
            self._next_audio_us += 20_000
        self.clock.now_us += FRAME_US
        await yield_to_loop()


async def yield_to_loop() -> None:
    """Let the recorder's queue consumers run (a wake-up takes two loop iterations)."""
    for _ in range(3):
        await asyncio.sleep(0)


async def until(condition: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> None:
    """Wait (bounded) for something a thread will do, checking every 10 ms."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)


def decode_frame_codes(path) -> list[tuple[int, int, bool]]:
    """(frame index, capture ms, keyframe) of every video frame in a file, in order."""
    out = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            index, capture_ms = split_frame_code(read_frame_code(frame.to_ndarray(format="gray")))
            out.append((index, capture_ms, frame.key_frame))
    return out
