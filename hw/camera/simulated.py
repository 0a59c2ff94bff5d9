"""A camera that runs anywhere: a test picture encoded by libx264 through PyAV.

It behaves like the Pi's hardware encoder as the daemon sees it: Annex-B access
units, SPS/PPS in-band before every IDR, Constrained Baseline, one frame in one
access unit out (no encoder delay), paced in real time, an IDR on request. Each
picture carries the frame code (``framecode.py``), a moving bar and a clock.

While something watches for motion (:meth:`Camera.watch_luma`) the picture is a
still scene (``testpicture.py``) and the luma feed is its Y plane, taken before the
clock and the frame code are drawn, scaled down by skipping pixels, with a
sensor's noise added (about 2.5 levels); :meth:`SimulatedCamera.simulate_motion`
sends an object across it and :meth:`SimulatedCamera.simulate_lighting` changes
its brightness.

Frames are captured on a grid of the monotonic clock (frame ``k`` of the clock at
``k * 1 s / framerate``), so a frame is captured at every whole second. In A/V
sync mode (``av_sync=True``) that frame is white but for the frame code: the
simulated microphone beeps from the same instant (``hw/microphone/simulated.py``).

With ``low_settings`` the same picture, scaled down (swscale) and with its frame code
drawn again at the small size (so that it stays readable), is encoded a second time by
an encoder of its own: the low stream, as a Pi's second hardware encoder gives it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncGenerator
from fractions import Fraction

import av
import numpy as np

from hw.bridge import ThreadBridge
from hw.camera import (
    LUMA_SIZE,
    Camera,
    CameraError,
    CameraSettings,
    H264AccessUnit,
    LumaFrame,
    LumaSink,
    StreamName,
)
from hw.camera.framecode import draw_frame_code, frame_code_value
from hw.camera.handoff import AccessUnitBridge
from hw.camera.testpicture import TestPicture
from hw.clock import SYNC_PERIOD_US, monotonic_s, monotonic_us


class SimulatedCamera(Camera):
    name = "simulated"

    def __init__(self, settings: CameraSettings, av_sync: bool = False) -> None:
        self.settings = settings
        self.av_sync = av_sync
        self._keyframe_requested = {"main": threading.Event(), "low": threading.Event()}
        self._fault: str | None = None
        self._unplugged_until = 0.0  # monotonic_s()
        self.object_moving = False
        self.brightness = 1.0

    def simulate_motion(self, active: bool) -> None:
        """An object walks across the picture (``True``) or leaves it (``False``)."""
        self.object_moving = active

    def simulate_lighting(self, brightness: float) -> None:
        """The scene's light: a factor on its luma (1.0: as rendered)."""
        if not 0.1 <= brightness <= 4.0:
            raise ValueError(f"brightness must be a factor from 0.1 to 4, not {brightness!r}")
        self.brightness = brightness

    def inject_fault(self, kind: str, seconds: float = 0.0) -> None:
        """Make the running capture fail as real cameras do: ``"crash"`` (an error),
        ``"stall"`` (silence) or ``"unplugged"`` (an error, and the camera cannot be
        opened for ``seconds``, like a loose ribbon cable).

        Lets tests and someone trying the daemon see recovery; otherwise the next ``frames()`` works again.
        """
        if kind not in ("crash", "stall", "unplugged"):
            raise ValueError(f'unknown fault {kind!r}: use "crash", "stall" or "unplugged"')
        if not 0 <= seconds <= 600:
            raise ValueError(f"seconds must be between 0 and 600, not {seconds!r}")
        if kind == "unplugged":
            self._unplugged_until = monotonic_s() + seconds
            kind = "crash"
        self._fault = kind

    def request_keyframe(self, stream: StreamName = "main") -> None:
        self._keyframe_requested[stream].set()

    async def frames(self) -> AsyncGenerator[H264AccessUnit, None]:
        if monotonic_s() < self._unplugged_until:
            raise CameraError("simulated camera unplugged: no camera detected")
        self._fault = None
        bridge = AccessUnitBridge(
            asyncio.get_running_loop(), maxlen=self._bridge_length(), request_keyframe=self.request_keyframe
        )
        stop = threading.Event()
        thread = threading.Thread(target=self._run, args=(bridge, stop), name="sim-camera", daemon=True)
        thread.start()
        try:
            while True:
                try:
                    yield await bridge.get()
                except EOFError:
                    return
        finally:
            stop.set()
            await asyncio.to_thread(thread.join, 2.0)

    @staticmethod
    def _open_encoder(s: CameraSettings) -> av.video.codeccontext.VideoCodecContext:
        codec = av.CodecContext.create("libx264", "w")
        codec.width = s.width
        codec.height = s.height
        codec.pix_fmt = "yuv420p"
        codec.time_base = Fraction(1, s.framerate)
        codec.framerate = Fraction(s.framerate, 1)
        codec.bit_rate = s.bitrate
        codec.gop_size = s.gop_frames
        kbps = s.bitrate // 1000
        codec.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "profile": "baseline",
            "forced-idr": "1",
            "x264-params": (
                f"repeat-headers=1:keyint={s.gop_frames}:min-keyint={s.gop_frames}:scenecut=0"
                f":vbv-maxrate={kbps}:vbv-bufsize={kbps}:threads=1:sliced-threads=0"
            ),
        }
        codec.open()
        return codec

    def _run(self, bridge: ThreadBridge[H264AccessUnit], stop: threading.Event) -> None:
        try:
            self._capture_loop(bridge, stop)
        except Exception as exc:  # reported to the consumer, never lost in a thread
            bridge.fail_threadsafe(CameraError(f"simulated camera failed: {exc}"))
        else:
            bridge.close_threadsafe()

    def _capture_loop(self, bridge: ThreadBridge[H264AccessUnit], stop: threading.Event) -> None:
        s = self.settings
        encoders: dict[StreamName, av.video.codeccontext.VideoCodecContext] = {"main": self._open_encoder(s)}
        low = self.low_settings
        if low is not None:
            encoders["low"] = self._open_encoder(low)
        picture = TestPicture(s.width, s.height)
        luma = _LumaFeed(self.luma_sink, self.luma_fps, s) if self.luma_sink is not None else None
        picture.still = luma is not None
        tick = self._next_tick()  # frame number on the clock's grid
        index = 0  # frame number since capture started (in the frame code)
        while not stop.is_set():
            if self._fault == "crash":
                raise RuntimeError("injected fault: the camera crashed")
            if self._fault == "stall":
                stop.wait()
                break
            due_us = tick * SYNC_PERIOD_US // s.framerate
            delay = (due_us - monotonic_us()) / 1e6
            if delay > 0 and stop.wait(delay):
                break
            if delay < -5 / s.framerate:  # fell far behind (machine stalled): skip the frames missed
                tick = self._next_tick()
                continue
            timestamp_us = monotonic_us()
            wall_time = time.time()
            # The flash marks the whole second only if captured then: not a frame the stalled thread took late.
            on_time = timestamp_us - due_us < SYNC_PERIOD_US // s.framerate // 2
            flash = self.av_sync and tick % s.framerate == 0 and on_time
            picture.object_moving, picture.brightness = self.object_moving, self.brightness
            yuv = picture.render_scene(index, flash)
            if luma is not None:
                luma.offer(index, yuv[: s.height], timestamp_us)
            if not flash:
                picture.draw_clock(wall_time)
            code = frame_code_value(index, int(wall_time * 1000))
            draw_frame_code(yuv[: s.height], code)
            frames: dict[StreamName, av.VideoFrame] = {"main": av.VideoFrame.from_ndarray(yuv, format="yuv420p")}
            if low is not None:
                small = frames["main"].reformat(low.width, low.height).to_ndarray()
                draw_frame_code(small[: low.height], code)
                frames["low"] = av.VideoFrame.from_ndarray(small, format="yuv420p")
            for stream, frame in frames.items():
                frame.pts = index
                if self._keyframe_requested[stream].is_set():
                    self._keyframe_requested[stream].clear()
                    frame.pict_type = av.video.frame.PictureType.I
                for packet in encoders[stream].encode(frame):
                    bridge.put_threadsafe(
                        H264AccessUnit(bytes(packet), packet.is_keyframe, timestamp_us, wall_time, stream)
                    )
            index += 1
            tick += 1

    def _next_tick(self) -> int:
        """The first frame of the clock's grid at or after now."""
        return -(-monotonic_us() * self.settings.framerate // SYNC_PERIOD_US)


class _LumaFeed:
    """Every few frames, the picture's Y plane scaled down to about LUMA_SIZE, with a sensor's noise."""

    NOISE_FRAMES = 8

    def __init__(self, sink: LumaSink, fps: float, settings: CameraSettings) -> None:
        self._sink = sink
        self._every = max(1, round(settings.framerate / fps)) if fps > 0 else settings.framerate
        width, height = LUMA_SIZE
        self._step = (max(1, settings.height // height), max(1, settings.width // width))
        shape = (-(-settings.height // self._step[0]), -(-settings.width // self._step[1]))
        rng = np.random.default_rng(1)
        self._noise = rng.normal(0, 2.5, size=(self.NOISE_FRAMES, *shape)).round().astype(np.int16)

    def offer(self, index: int, luma: np.ndarray, timestamp_us: int) -> None:
        if index % self._every:
            return
        small = luma[:: self._step[0], :: self._step[1]].astype(np.int16)
        small += self._noise[(index // self._every) % self.NOISE_FRAMES]
        self._sink(LumaFrame(np.clip(small, 0, 255).astype(np.uint8), timestamp_us))


__all__ = ["SimulatedCamera"]
