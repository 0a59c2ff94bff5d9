"""Everything we rely on inside picamera2, in one place.

``tests/pi/test_picamera2_contract.py`` runs picamera2's own encoder classes (the
version Raspberry Pi OS Trixie ships and the oldest we support, each as the Pi 5 and
as the Pi <= 4 sees it) through this module, and fails loudly if a release moves
what we touch:

1. Which H.264 encoder: ``picamera2.encoders.H264Encoder`` is the V4L2 encoder on a
   Pi <= 4 (the VideoCore block) and, on a Pi 5, an alias of ``LibavH264Encoder``
   (libx264 on the CPU). Their constructors differ: we pass only what both take, and
   always an integer ``framerate`` (x264 budgets its bitrate per declared frame: left
   at its default of 30, a 15 fps camera gets half the bitrate asked for, a 60 fps
   one double; a float is refused by PyAV). The V4L2 encoder also gets
   ``enable_sps_framerate=True``, without which it never sends the rate to the driver
   (``VIDIOC_S_PARM``), whose rate control then budgets for 30 fps whatever the camera
   gives; ``LibavH264Encoder`` has no such argument.
2. Pi 5 keyframes: ``LibavH264Encoder.force_key_frame()`` makes the next ``encode()``
   set ``frame.pict_type = "I"``, which PyAV >= 14 refuses with ``TypeError``: the
   frame is lost and, in picamera2's camera loop, its request is never released, so
   the video stops for good. Our subclass never lets picamera2 do that: it marks the
   next frame itself with PyAV's ``PictureType.I``, by wrapping the encoder's PyAV
   stream (``_stream``), and asks x264 to make such frames IDRs.
3. Capture times: encoders pass ``outputframe()`` a timestamp relative to their first
   frame (``ts - firsttimestamp``, microseconds); the sensor's capture time is
   ``firsttimestamp + timestamp``, on libcamera's ``SensorTimestamp`` clock
   (CLOCK_BOOTTIME).
4. "constrained baseline" is a profile both encoders accept (V4L2 control value 1;
   x264 writes Constrained Baseline either way). Plain Baseline (``4200xx``) would
   pair only with browsers that offer Baseline, not with those that offer
   Constrained Baseline (``42e0xx``) alone.
5. The luma feed: a ``lores`` stream beside ``main`` (``create_video_configuration(lores=...)``;
   ``configure`` refuses one larger than ``main``, odd sizes and, on a Pi <= 4, any format
   but YUV). The encoder keeps encoding ``main`` (``encode="main"``, the default).
   ``Picamera2.post_callback(request)`` is called for every completed request on
   picamera2's camera thread (the preview's event loop), holding ``Picamera2.lock``,
   before the encoders get the request and before it is released: its buffers are valid
   for the call only, then go back to libcamera to be refilled; an exception there ends
   that thread and, with it, the video. ``MappedArray(request, "lores")`` maps the
   buffer without copying, a YUV420 one as ``(height * 3 / 2, stride)`` rows: the Y
   plane is the first ``height`` rows, each ``width`` of ``stride`` bytes.
6. Pi 5 encoding off the camera thread: ``LibavH264Encoder._encode`` maps, encodes and
   outputs on picamera2's camera thread, with frame threading (frames held back). Our
   subclass only takes a reference to the request there and hands it to a thread of its
   own (dropping the older frame when one already waits), which runs picamera2's ``_encode``. A
   frame held back is a buffer libcamera cannot refill: of the video configuration's six, one
   is encoded, one waits, one is kept by picamera2 (``_request_release_delay``) and, while the
   next comes, one is in the camera loop; libcamera keeps two, so the sensor never waits. x264
   gets slice threads: ``thread_type = SLICE`` is the setting that matters, as picamera2 sets
   FRAME threading, which overrides zerolatency's sliced threads and holds frames back.
   ``preset = "ultrafast"`` is what picamera2 already picks for baseline: set to be explicit.
7. The low stream: a second encoder of the same class on ``lores`` (``start_encoder(encoder, output,
   name="lores")``, which takes the stream's size, format and stride from the configuration);
   ``process_requests`` hands every completed request to each encoder, each its own stream, so both
   read the same ``SensorTimestamp`` (3.: both units of a picture carry the same capture time). On
   a Pi <= 4 each V4L2 encoder opens /dev/video11 for itself: a mem2mem device, every open a session
   of its own. On a Pi 5 each ``LibavH264Encoder`` has its own libx264 and thread (6.), and each may
   hold two requests besides the one waiting (the one it encodes, the one picamera2 keeps): the
   second adds two to the four of 6., so the configuration gets ``SECOND_X264_BUFFERS`` more.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from hw.camera import LUMA_SIZE, CameraSettings
from hw.worker import DroppingWorker

log = logging.getLogger(__name__)

H264_PROFILE = "constrained baseline"

# libx264 on a Pi 5 (6. above; chosen by bench/pi5_encode.py, docs/picamera2.md "The Pi 5's encode budget"):
X264_PRESET = "ultrafast"
X264_THREADS = 4  # threads of X264_THREAD_TYPE: the Pi 5 has four cores
X264_THREAD_TYPE = "SLICE"  # each frame split across the threads: none held back (picamera2's FRAME holds 2-5;
# it also overrides tune=zerolatency's sliced threads: this, not the tune, is what keeps x264 from holding frames)
X264_WAITING_FRAMES = 1  # a frame waiting for a busy encoder; then the older goes (see 6. above: buffers)
# picamera2's video configuration's buffers (create_video_configuration's default), and what a second
# libx264 encoder needs beside them (7. above):
VIDEO_BUFFERS = 6
SECOND_X264_BUFFERS = 2

# (data, keyframe, sensor capture time in µs on CLOCK_BOOTTIME)
AccessUnitSink = Callable[[bytes, bool, int], None]


LORES = "lores"


def lores_config(size: tuple[int, int], main_size: tuple[int, int]) -> dict[str, Any]:
    """A lores stream of about ``size`` that picamera2 accepts beside a ``main_size`` main stream (see 5. above)."""
    width, height = (min(want, most) // 2 * 2 for want, most in zip(size, main_size, strict=True))
    return {"size": (width, height), "format": "YUV420"}


def lores_size(camera: Any) -> tuple[int, int]:
    """The configured lores stream's (width, height), as libcamera settled it."""
    width, height = camera.camera_configuration()[LORES]["size"]
    return int(width), int(height)


def luma_step(size: tuple[int, int]) -> tuple[int, int]:
    """Every how many pixels (across, down) a lores Y plane of ``size`` is sampled to be about
    :data:`LUMA_SIZE`: (1, 1) for a lores of that size; (2, 2) for a 640x360 low stream's."""
    across, down = (max(1, round(have / want)) for have, want in zip(size, LUMA_SIZE, strict=True))
    return across, down


def lores_luma(request: Any, size: tuple[int, int], step: tuple[int, int] = (1, 1)) -> np.ndarray:
    """A copy of the request's lores Y plane, (height, width) uint8, every ``step`` pixel (across, down):
    nothing more is copied (see 5. above)."""
    from picamera2 import MappedArray

    width, height = size
    across, down = step
    with MappedArray(request, LORES, write=False) as mapped:
        return np.array(mapped.array[:height:down, :width:across], dtype=np.uint8, copy=True)


def sensor_time_us(request: Any) -> int:
    """The request's capture time in µs on libcamera's clock (CLOCK_BOOTTIME), read as the encoders read it (see 3.).

    Not cheap: libcamera's Python binding converts the request's whole ControlList at each read of
    ``metadata``, as ``request.get_metadata()`` does; what saves time is reading it only for the frames
    that are used."""
    from libcamera import controls

    return int(request.request.metadata[controls.SensorTimestamp]) // 1000


def boottime_minus_monotonic_us() -> int:
    """How far CLOCK_BOOTTIME is ahead of CLOCK_MONOTONIC: the time spent suspended (0 on a Pi).

    Read between two readings of the monotonic clock, three times, keeping the closest pair:
    a thread preempted between two plain readings (a loaded machine) would be off by as long as
    it waited, and a frame's time with it."""
    readings = []  # (how long the reading took, the difference)
    for _ in range(3):
        before = time.monotonic_ns()
        boottime = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
        after = time.monotonic_ns()
        readings.append((after - before, boottime - (before + after) // 2))
    return min(readings)[1] // 1000


class _BoottimeOffset:
    """CLOCK_BOOTTIME minus CLOCK_MONOTONIC as last taken, kept while fresh readings stay within
    ``tolerance_us`` of it: a reading is off by a microsecond or so, and the units of both streams and
    the luma picture of one frame, converted on different threads, must get the very same time; a
    suspend (the difference jumps) is still followed at once."""

    def __init__(self, tolerance_us: int = 1000) -> None:
        self._tolerance_us = tolerance_us
        self._kept_us: int | None = None
        self._lock = threading.Lock()

    def __call__(self) -> int:
        fresh = boottime_minus_monotonic_us()
        with self._lock:
            if self._kept_us is None or abs(fresh - self._kept_us) > self._tolerance_us:
                self._kept_us = fresh
            return self._kept_us


_boottime_offset = _BoottimeOffset()


def monotonic_capture_us(sensor_us: int) -> int:
    """A sensor time (µs on CLOCK_BOOTTIME, see 3.) on our clock (CLOCK_MONOTONIC): the same for the same
    sensor time, whichever stream or thread asks."""
    return sensor_us - _boottime_offset()


class _KeyframeMarkingStream:
    """The encoder's PyAV stream, marking the next frame as a keyframe when one was asked for."""

    def __init__(self, stream: Any, encoder: Any) -> None:
        self._stream = stream
        self._encoder = encoder

    def encode(self, frame: Any = None) -> Any:
        if frame is not None and self._encoder.keyframe_wanted:
            import av

            self._encoder.keyframe_wanted = False
            frame.pict_type = av.video.frame.PictureType.I
        return self._stream.encode(frame)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


_keyframe_safe_classes: dict[type, type] = {}


def _release(item: tuple[Any, Any]) -> None:
    _stream_name, request = item
    request.release()


def _keyframe_safe(libav_encoder: type) -> type:
    """``LibavH264Encoder`` encoding off the camera thread, with a ``force_key_frame()`` that works on
    PyAV >= 14 (see 2. and 6. above)."""
    if libav_encoder not in _keyframe_safe_classes:

        class KeyframeSafeLibavH264Encoder(libav_encoder):
            keyframe_wanted = False
            _stream: Any  # picamera2's PyAV output stream, made by _start()
            _worker: DroppingWorker[tuple[Any, Any]]

            def force_key_frame(self) -> None:
                self.keyframe_wanted = True

            def _start(self) -> None:
                import av

                super()._start()
                codec = self._stream.codec_context
                codec.options = {**codec.options, "forced-idr": "1"}
                codec.thread_type = av.codec.context.ThreadType[X264_THREAD_TYPE]
                self._stream = _KeyframeMarkingStream(self._stream, self)
                worker = f"libx264 ({self.name})"  # the stream: main, or lores for the low stream
                self._worker = DroppingWorker(worker, self._encode_now, X264_WAITING_FRAMES, discard=_release)
                self._worker.start()

            def _encode(self, stream: Any, request: Any) -> None:
                """On picamera2's camera thread: the frame goes to the encoding thread, or is dropped."""
                request.acquire()  # held until encoded (picamera2's own hold is taken then)
                self._worker.offer((stream, request))

            def _encode_now(self, item: tuple[Any, Any]) -> None:
                stream, request = item
                try:
                    super()._encode(stream, request)
                finally:
                    request.release()

            def _stop(self) -> None:
                self._worker.stop(drain=True)
                if self._worker.dropped:
                    log.warning(
                        "%s fell behind the camera: %d frames were not encoded", self._worker.name, self._worker.dropped
                    )
                super()._stop()

            @property
            def frames_dropped(self) -> int:
                """Frames the camera gave while the encoder was still busy: never encoded."""
                return self._worker.dropped

        _keyframe_safe_classes[libav_encoder] = KeyframeSafeLibavH264Encoder
    return _keyframe_safe_classes[libav_encoder]


def make_h264_encoder(settings: CameraSettings) -> Any:
    """The H.264 encoder picamera2 offers on this Pi, set up for live streaming."""
    from picamera2.encoders import H264Encoder
    from picamera2.encoders.libav_h264_encoder import LibavH264Encoder

    options = dict(
        bitrate=settings.bitrate,
        repeat=True,
        iperiod=settings.gop_frames,
        framerate=int(settings.framerate),
        profile=H264_PROFILE,
    )
    if issubclass(H264Encoder, LibavH264Encoder):  # Pi 5: software
        encoder = _keyframe_safe(LibavH264Encoder)(**options)
        encoder.threads = X264_THREADS
        encoder.preset = X264_PRESET
        return encoder
    return H264Encoder(**options, enable_sps_framerate=True)


def video_buffers(encoders: list[Any]) -> int:
    """The buffers a video configuration needs for these encoders (7. above)."""
    software = sum(is_software_encoder(encoder) for encoder in encoders)
    return VIDEO_BUFFERS + SECOND_X264_BUFFERS * max(0, software - 1)


def abandon(encoder: Any) -> None:
    """Undo what an encoder's failed start did: ``Encoder.start`` marks it running before its ``_start``,
    which may have opened /dev/video11 and started its polling thread (V4L2) or opened libx264 before
    failing; ``stop()`` ends those it got to."""
    try:
        encoder.stop()
    except Exception as exc:  # it got nowhere: nothing to end
        log.debug("stopping an encoder that did not start: %s", exc)


def is_software_encoder(encoder: Any) -> bool:
    from picamera2.encoders.libav_h264_encoder import LibavH264Encoder

    return isinstance(encoder, LibavH264Encoder)


def make_output(encoder: Any, sink: AccessUnitSink) -> Any:
    """A picamera2 ``Output`` handing each encoded access unit to ``sink`` with its capture time."""
    from picamera2.outputs import Output

    class AccessUnitOutput(Output):
        """Called on picamera2's encoder thread, one access unit per call."""

        def outputframe(
            self,
            frame: bytes,
            keyframe: bool = True,
            timestamp: int | None = None,
            packet: Any = None,
            audio: bool = False,
        ) -> None:
            if audio or timestamp is None:
                return
            sink(bytes(frame), bool(keyframe), encoder.firsttimestamp + timestamp)

    return AccessUnitOutput()
