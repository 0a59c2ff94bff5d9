"""A fake ALSA capture device, so tests run the production ``format="alsa"`` path with no sound card.

What the plain recipe in ``docs/testing.md`` (``type file``, ``slave.pcm "null"``, ``infile`` a regular file)
does, measured with the PyAV wheel's libasound 1.2.14:

* It is **not paced**: the ``null`` slave always reports a full buffer, so capture runs as fast as the CPU allows
  (about 3x real time here), and after the end of ``infile`` it goes on forever with silence.
* Its periods are **one frame**: ``null`` puts no limit on the period size, FFmpeg's ALSA demuxer asks for the
  smallest period allowed, so every packet holds a single sample (48,000 packets a second, most of a core).

This module fixes both, without touching production code:

* ``infile`` is a FIFO that a thread here writes 20 ms of sine at a time, against the monotonic clock, only while a
  reader has it open. The ``file`` plugin's blocking ``read()`` on it paces capture like a sound card.
* The ``file`` plugin's slave is a ``rate`` plugin over ``null`` running at 250 Hz. Nothing is heard from that
  chain (the ``file`` plugin overwrites every captured frame with ``infile``'s bytes); it only makes the client
  period 48000/250 = 192 frames (4 ms). 20 ms writes are 5 whole periods, so the reader's ``read()`` of one period
  never comes back short (a short read would be filled with silence by the plugin). The 192 comes out of the
  ``rate`` plugin's fixed-point arithmetic (at 50 Hz it gives 942 frames, not 960): should another libasound
  change it, the per-chunk level check in ``test_microphone.py`` shows the dropouts.

The device is described by a temporary asoundrc; selecting it takes
``ALSA_CONFIG_PATH=/usr/share/alsa/alsa.conf:<asoundrc>`` (see :attr:`FakeAlsaMic.env`), which a daemon started as a
subprocess can be given too: the FIFO is a file system object, and the feeding thread stays in the test process.
One reader at a time: two readers would share (split) the stream.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SAMPLE_RATE = 48_000
BLOCK_SAMPLES = 960  # what the feeder writes at a time: 20 ms
SYSTEM_ALSA_CONF = "/usr/share/alsa/alsa.conf"
MISSING_DEVICE = "edge_no_such_microphone"  # an ALSA PCM name that no configuration defines


def sine_pcm(frequency: float, amplitude: float, samples: int) -> bytes:
    """``samples`` of a sine as s16le mono at 48 kHz (``amplitude`` is the peak, 1.0 = full scale)."""
    t = np.arange(samples) / SAMPLE_RATE
    return (np.sin(2 * np.pi * frequency * t) * amplitude * 32767).round().astype("<i2").tobytes()


@dataclass
class FakeAlsaMic:
    device: str  # the ALSA PCM name to open
    config_path: str  # the value for ALSA_CONFIG_PATH
    frequency: float
    amplitude: float
    fifo: Path
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def env(self) -> dict[str, str]:
        """Environment variables to add for a process (or a subprocess) that should see the device."""
        return {"ALSA_CONFIG_PATH": self.config_path}

    def is_open_by(self, pid: int | None = None) -> bool:
        """Whether a process (this one by default) has the device open: a read descriptor on its FIFO."""
        proc = Path(f"/proc/{pid or os.getpid()}")
        for fd in (proc / "fd").iterdir():
            with contextlib.suppress(OSError):  # closed meanwhile
                if os.readlink(fd) != str(self.fifo):
                    continue
                fdinfo = (proc / "fdinfo" / fd.name).read_text().splitlines()
                flags = int(next(line for line in fdinfo if line.startswith("flags:")).split()[1], 8)
                if flags & os.O_ACCMODE == os.O_RDONLY:  # not the feeder's write end
                    return True
        return False


def _feed(mic: FakeAlsaMic) -> None:
    # One second of sine at a whole number of Hz loops without a seam.
    second = sine_pcm(mic.frequency, mic.amplitude, SAMPLE_RATE)
    block_bytes = BLOCK_SAMPLES * 2
    blocks = [second[i : i + block_bytes] for i in range(0, len(second), block_bytes)]
    fd: int | None = None
    index = 0
    due = 0.0
    try:
        while not mic._stop.is_set():
            if fd is None:
                try:  # succeeds only while a reader has the FIFO open (or is blocked opening it)
                    fd = os.open(mic.fifo, os.O_WRONLY | os.O_NONBLOCK)
                except OSError as exc:
                    if exc.errno != errno.ENXIO:
                        raise
                    mic._stop.wait(0.005)
                    continue
                due = time.monotonic()
            # A block becomes readable once all of it has been "captured", as from a sound card.
            due += BLOCK_SAMPLES / SAMPLE_RATE
            now = time.monotonic()
            if now - due > 0.5:  # this thread was starved that long: lose audio rather than burst it all
                due = now
            if mic._stop.wait(max(0.0, due - now)):
                break
            try:
                os.write(fd, blocks[index % len(blocks)])  # <= PIPE_BUF: all or nothing
            except BlockingIOError:  # the reader is not keeping up: drop, like a sound card's overrun
                pass
            except BrokenPipeError:  # the reader closed the device; wait for the next one
                os.close(fd)
                fd = None
            index += 1
    finally:
        if fd is not None:
            try:
                os.write(fd, bytes(block_bytes))  # a last block of silence, to learn whether a reader is left
            except BrokenPipeError:
                os.close(fd)
            except BlockingIOError:
                pass
            # Else a reader still has the device open (a test failed before closing it). Closing our end would
            # make its reads return at once, empty: capture would spin, unpaced, for the rest of the session. The
            # descriptor is left open instead, so that reader blocks.


@contextlib.contextmanager
def fake_alsa_mic(
    frequency: float = 1000.0, amplitude: float = 0.5, name: str = "edge_fakemic"
) -> Iterator[FakeAlsaMic]:
    """A paced fake capture device playing a sine, for as long as the context is open.

    ``frequency`` must be a whole number of Hz. Readers should close the device before the context exits (one
    left reading is left blocked, not spinning).
    """
    if frequency != int(frequency):
        raise ValueError("frequency must be a whole number of Hz")
    with tempfile.TemporaryDirectory(prefix="edge-alsa-") as tmp:
        fifo = Path(tmp) / "mic.fifo"
        os.mkfifo(fifo)
        asoundrc = Path(tmp) / "asoundrc"
        asoundrc.write_text(
            f'pcm.{name}_clock {{ type rate  slave {{ pcm "null"  rate 250 }} }}\n'
            f"pcm.{name} {{\n"
            f'    type file  slave.pcm "{name}_clock"\n'
            f'    file "/dev/null"  infile "{fifo}"  format "raw"\n'
            f"}}\n"
        )
        mic = FakeAlsaMic(
            device=name,
            config_path=f"{SYSTEM_ALSA_CONF}:{asoundrc}",
            frequency=frequency,
            amplitude=amplitude,
            fifo=fifo,
        )
        feeder = threading.Thread(target=_feed, args=(mic,), name=f"fake-alsa-{name}", daemon=True)
        feeder.start()
        try:
            yield mic
        finally:
            mic._stop.set()
            feeder.join(timeout=5)
