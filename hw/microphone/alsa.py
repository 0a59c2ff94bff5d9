"""ALSA capture through PyAV, on a thread of its own.

Why it looks like this:

* PyAV's demuxer blocks in ``snd_pcm_readi`` until the sound card has a period ready, so reading happens on a
  dedicated thread and chunks reach the event loop through :class:`~hw.bridge.ThreadBridge` (bounded: a stalled
  consumer loses the oldest audio, like a sound card overrun, instead of growing memory).
* The PyPI PyAV wheel bundles its own libasound, which looks for its configuration under a build path; we point it
  at the system's (``ALSA_CONFIG_DIR``, and ``ALSA_CONFIG_PATH`` unless already set: tests set it to add a fake
  device).
* ALSA hands out periods of whatever size the device picked, possibly in another format or rate; everything is
  resampled to s16 mono 48 kHz and re-chunked to exactly 20 ms with ``av.AudioFifo``.
* Timestamps are capture times on the monotonic clock (the camera's clock). Each packet's read time minus its
  length only bounds its capture time (the thread may have been late), so it anchors a sample counter instead:
  chunk ``k`` is stamped ``anchor + k * 20 ms``, exactly 20 ms apart while the device is steady. A sound card's
  clock is off by up to ~100 ppm, so the anchor follows the monotonic clock continuously, a few µs per chunk, and
  jumps only for lost audio (see :class:`_Timeline`). FFmpeg's own packet pts is not used: it is on the wall clock, and
  it subtracts the delay ALSA reports, which plugins can misreport (``null`` reports a full buffer: 2.7 s).
* Stopping: the thread checks a flag after every period (a few ms on real hardware), then closes the container;
  ``chunks()`` waits for that in its ``finally`` so no thread outlives the consumer.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import AsyncGenerator, Sequence
from contextlib import suppress

import av

from hw.bridge import ThreadBridge
from hw.clock import monotonic_us
from hw.microphone import CHUNK_SAMPLES, SAMPLE_RATE, Microphone, MicrophoneError, PcmChunk

log = logging.getLogger(__name__)

_QUEUE_CHUNKS = 50  # 1 s of audio waiting for a slow consumer, then the oldest is dropped
_WINDOW_SAMPLES = SAMPLE_RATE  # reads are judged by the earliest of each second of audio
_DEAD_BAND_US = 1_000  # the earliest read of a window later than the stamps by less than this: read-time noise
_LOST_AUDIO_US = 20_000  # later by more than this over two whole windows running: samples were lost, jump
_EARLY_SLACK_US = 2_000  # stamps later than an observation by more than this: a late start, move back at once
_SLEW_US_PER_CHUNK = 10  # drift corrections move stamps at most this much per 20 ms chunk (500 ppm)
_STOP_TIMEOUT_S = 2.0


def _configure_alsa_env() -> None:
    os.environ["ALSA_CONFIG_DIR"] = "/usr/share/alsa"
    os.environ.setdefault("ALSA_CONFIG_PATH", "/usr/share/alsa/alsa.conf")


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())  # one line


class _Timeline:
    """Capture times of sample indices: a start time plus a sample count, following the clock as the device drifts.

    An observation (read time minus the packet's length) is never earlier than the true capture time: lateness
    comes from scheduling, a stalled thread or ALSA's buffer, never the other way. So the earliest observation of
    each second of audio bounds how late the stamps are, and:

    * an observation earlier than the stamps by more than a little proves a late start: moved back at once;
    * within a second, the earliest one being earlier than the stamps (a fast device clock), or later by more than
      read-time noise (a slow one), sets a correction that the stamps take up a few µs per chunk, never a jump;
    * later by more than any drift over two whole seconds running: samples were lost (an overrun), the stamps jump
      forward. One second is not proof: a thread starved of CPU can read every period of a second 20-60 ms late and
      then drain its backlog with no sample lost; jumping then would jump straight back at the next on-time read (a
      gap, then overlapping audio).
    """

    def __init__(self) -> None:
        self._anchor_us: int | None = None  # capture time of sample 0, as the stamps use it now
        self._target_us = 0  # where drift corrections are taking the anchor
        self._last_us: int | None = None
        self._window_start = 0  # first sample of the current window of observations
        self._window_min_late_us: int | None = None
        self._late_window_us: int | None = None  # the previous window's lateness, if it looked like lost audio

    @staticmethod
    def _offset_us(sample: int) -> int:
        return sample * 1_000_000 // SAMPLE_RATE

    def observe(self, sample: int, captured_us: int) -> None:
        """The clock says ``sample`` was captured at ``captured_us`` (or earlier)."""
        implied = captured_us - self._offset_us(sample)
        if self._anchor_us is None or implied < self._target_us - _EARLY_SLACK_US:
            self._jump(implied, sample)
            return
        late = implied - self._target_us
        if self._window_min_late_us is None or late < self._window_min_late_us:
            self._window_min_late_us = late
        if sample - self._window_start >= _WINDOW_SAMPLES:
            window_late = self._window_min_late_us
            if window_late > _LOST_AUDIO_US:
                if self._late_window_us is not None:  # the second late window running: lost audio
                    self._jump(self._target_us + min(window_late, self._late_window_us), sample)
                    return
                self._late_window_us = window_late  # a backlog or lost audio: the next window tells
            else:
                self._late_window_us = None
                if window_late > _DEAD_BAND_US or window_late < 0:
                    self._target_us += window_late
            self._window_start, self._window_min_late_us = sample, None

    def _jump(self, anchor_us: int, sample: int) -> None:
        self._anchor_us = self._target_us = anchor_us
        self._window_start, self._window_min_late_us, self._late_window_us = sample, None, None

    def stamp(self, sample: int) -> int:
        """The capture time of ``sample``: strictly increasing from call to call (call it once per chunk)."""
        assert self._anchor_us is not None, "observe() first"
        self._anchor_us += max(-_SLEW_US_PER_CHUNK, min(_SLEW_US_PER_CHUNK, self._target_us - self._anchor_us))
        ts = self._anchor_us + self._offset_us(sample)
        if self._last_us is not None and ts <= self._last_us:  # moved back past what was handed out
            ts = self._last_us + 1
        self._last_us = ts
        return ts


class AlsaMicrophone(Microphone):
    name = "alsa"

    def __init__(self, device: str) -> None:
        self.device = device

    async def chunks(self) -> AsyncGenerator[PcmChunk, None]:
        _configure_alsa_env()  # here, not on the thread: os.environ is process-wide
        loop = asyncio.get_running_loop()
        bridge: ThreadBridge[PcmChunk] = ThreadBridge(loop, maxlen=_QUEUE_CHUNKS)
        stop = threading.Event()
        exited = asyncio.Event()
        thread = threading.Thread(
            target=self._capture, args=(bridge, stop, loop, exited), name=f"alsa-mic:{self.device}", daemon=True
        )
        thread.start()
        try:
            while True:
                yield await bridge.get()
        finally:
            stop.set()
            try:
                await asyncio.wait_for(exited.wait(), _STOP_TIMEOUT_S)
            except TimeoutError:  # stuck in a read that never returns: a daemon thread, left behind
                log.warning("ALSA device %r: capture thread did not stop within %.1f s", self.device, _STOP_TIMEOUT_S)
            else:
                thread.join()  # it has signalled its last act: this returns at once

    def _capture(
        self,
        bridge: ThreadBridge[PcmChunk],
        stop: threading.Event,
        loop: asyncio.AbstractEventLoop,
        exited: asyncio.Event,
    ) -> None:
        try:
            self._read(bridge, stop)
        except MicrophoneError as exc:
            bridge.fail_threadsafe(exc)
        except Exception as exc:  # anything else from PyAV/ALSA while reading
            bridge.fail_threadsafe(MicrophoneError(f"ALSA device {self.device!r}: capture failed: {_reason(exc)}"))
        finally:
            with suppress(RuntimeError):  # the loop is already closed: nobody is waiting
                loop.call_soon_threadsafe(exited.set)

    def _read(self, bridge: ThreadBridge[PcmChunk], stop: threading.Event) -> None:
        try:
            container = av.open(
                self.device, format="alsa", options={"sample_rate": str(SAMPLE_RATE), "ch_layout": "mono"}
            )
        except Exception as exc:
            raise MicrophoneError(f"cannot open ALSA device {self.device!r}: {_reason(exc)}") from exc
        try:
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            fifo = av.AudioFifo()
            timeline = _Timeline()
            written = 0  # samples put into the FIFO
            emitted = 0  # samples taken out as chunks
            for packet in container.demux(stream):
                if stop.is_set():
                    return
                if packet.size == 0:  # the demuxer's end-of-stream flush packet
                    break
                read_us = monotonic_us()
                frames = packet.decode()
                timeline.observe(written, _captured_us(frames, read_us))
                for frame in frames:
                    for out in resampler.resample(frame):
                        out.pts = None  # the FIFO would insist on continuous pts; the timeline keeps time
                        fifo.write(out)
                        written += out.samples
                while fifo.samples >= CHUNK_SAMPLES:
                    chunk = fifo.read(CHUNK_SAMPLES)
                    assert chunk is not None  # the FIFO holds enough
                    bridge.put_threadsafe(PcmChunk(chunk.to_ndarray().tobytes(), timeline.stamp(emitted)))
                    emitted += CHUNK_SAMPLES
            raise MicrophoneError(f"ALSA device {self.device!r}: capture stream ended")
        finally:
            container.close()


def _captured_us(frames: Sequence[av.AudioFrame], read_us: int) -> int:
    """The latest the first of these samples can have been captured: when they were read, minus their length."""
    return read_us - sum(f.samples * 1_000_000 // (f.sample_rate or SAMPLE_RATE) for f in frames)
