"""What machine this is, read from the kernel: the Pi model, its H.264 encoder, sound
cards that can record, GPIO chips, the camera's device nodes.

Everything is read below ``root`` (``/`` on a real machine), so tests and ``edge
doctor`` checks run on a fake tree of the same files. Nothing here imports a
hardware library: choosing backends must work on a Pi whose camera stack is broken.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

# The VideoCore H.264 encoder (Pi Zero 2 W .. Pi 4) as V4L2 names it.
VC4_ENCODER_NAME = "bcm2835-codec-encode"


@dataclass(frozen=True)
class EncoderLimits:
    """What an H.264 encoder accepts; config values beyond these are refused at start-up."""

    name: str
    hardware: bool
    max_side: int  # pixels, width and height each
    min_bitrate: int
    max_bitrate: int
    level: int  # the H.264 level_idc whose picture size and macroblock rate it is held to (not its bitrate: below)
    level_reason: str  # why that level, as the refusal says it
    shared: bool  # a second stream (the low one) shares its throughput: both are held to the level's rate together


# The VC4 encoder: 25 kbit/s .. 25 Mbit/s (bcm2835-v4l2-codec's bitrate control), at most
# 1920 px per side, and level 4.0's pictures and rate (1080p30): "the hardware spec is level
# 4.0", says the driver; picamera2 declares up to 4.2 only for rates beyond 4.0's. The Pi 5
# has no H.264 block: picamera2 encodes with libx264 on the CPU, held to the same 1080p30
# until a Pi 5 is measured. Level 4.0 allows 20 Mbit/s at the peak, and both encoders take
# the peak as twice the average bitrate: above 10 Mbit/s picamera2 (VC4) and libx264 write
# level 4.1, the same pictures and rate up to 50 Mbit/s, so 25 Mbit/s is 4.1's limit too
# (edge.media.h264.stream_level names the level; tests/pi/test_encoder_limits.py checks it).
# The low stream: the VideoCore's encode sessions share its one block, rated for about 1080p30 in all
# ("you can split that encode power between multiple streams with a small overhead", a Raspberry Pi
# engineer in waveform80/picamera#270): main and low together are held to level 4.0's rate. On a Pi 5
# the low stream is a second libx264 on the CPU, about a quarter of a 1080p main's CPU (docs/picamera2.md,
# "The low stream"): held to nothing more than main is.
VC4_ENCODER = EncoderLimits(
    "VideoCore hardware encoder (bcm2835-codec)",
    True,
    1920,
    25_000,
    25_000_000,
    40,
    "1080p30, what its driver rates the hardware for",
    shared=True,
)
PI5_SOFTWARE_ENCODER = EncoderLimits(
    "Pi 5 software encoder (libx264 via picamera2)",
    False,
    1920,
    25_000,
    25_000_000,
    40,
    "1080p30, a cautious budget for libx264 on the Pi 5's CPU",
    shared=False,
)


@dataclass(frozen=True)
class CaptureDevice:
    """An ALSA PCM that can record."""

    card: int
    device: int
    card_id: str  # e.g. "Device" for a USB microphone: stable across reboots, unlike the index
    name: str

    @property
    def plughw(self) -> str:
        """The device through ALSA's plug layer: any rate, format and channel count converted."""
        return f"plughw:CARD={self.card_id},DEV={self.device}"


@dataclass(frozen=True)
class Platform:
    root: Path = Path("/")

    def _read(self, relative: str) -> str | None:
        try:
            return (self.root / relative).read_text(errors="replace")
        except OSError:
            return None

    @property
    def serial_number(self) -> str | None:
        """The board's serial (device tree), else a hash of ``/etc/machine-id``: stable for this system."""
        serial = (self._read("proc/device-tree/serial-number") or "").rstrip("\x00\n ")
        if serial:
            return serial
        machine_id = (self._read("etc/machine-id") or "").strip()
        if machine_id:
            return hashlib.sha256(b"edge-camera:" + machine_id.encode()).hexdigest()[:16]
        return None

    @property
    def model(self) -> str | None:
        """The board, e.g. "Raspberry Pi 4 Model B Rev 1.4" (from the device tree)."""
        for path in ("proc/device-tree/model", "sys/firmware/devicetree/base/model"):
            text = self._read(path)
            if text:
                return text.rstrip("\x00\n ")
        return None

    @property
    def is_raspberry_pi(self) -> bool:
        return (self.model or "").startswith("Raspberry Pi")

    @property
    def is_pi5(self) -> bool:
        """A Pi 5, Pi 500 or Compute Module 5: no H.264 block."""
        return self.model_family in (5, 500)

    @property
    def model_family(self) -> int | None:
        match = re.match(r"Raspberry Pi (?:Compute Module |Zero )?(\d+)", self.model or "")
        return int(match.group(1)) if match else None

    def os_release(self) -> dict[str, str]:
        values = {}
        for line in (self._read("etc/os-release") or "").splitlines():
            name, sep, value = line.partition("=")
            if sep:
                values[name.strip()] = value.strip().strip('"')
        return values

    def v4l2_devices(self) -> dict[str, str]:
        """``{"/dev/video11": "bcm2835-codec-encode", ...}``."""
        devices = {}
        base = self.root / "sys/class/video4linux"
        for entry in sorted(base.glob("video*")) if base.is_dir() else ():
            name = self._read(f"sys/class/video4linux/{entry.name}/name")
            if name is not None:
                devices[f"/dev/{entry.name}"] = name.strip()
        return devices

    def h264_encoder(self) -> EncoderLimits | None:
        """The encoder picamera2 will use here, or None when this is no Pi with one."""
        if VC4_ENCODER_NAME in self.v4l2_devices().values():
            return VC4_ENCODER
        if self.is_pi5:
            return PI5_SOFTWARE_ENCODER
        return None

    def capture_devices(self) -> list[CaptureDevice]:
        """ALSA devices that can record, in card order (``/proc/asound``)."""
        ids = {}
        for line in (self._read("proc/asound/cards") or "").splitlines():
            match = re.match(r"\s*(\d+)\s+\[(\S+)\s*\]", line)
            if match:
                ids[int(match.group(1))] = match.group(2)
        devices = []
        for line in (self._read("proc/asound/pcm") or "").splitlines():
            match = re.match(r"(\d+)-(\d+):\s*([^:]*):(.*)", line)
            if match and "capture" in match.group(4):
                card, device = int(match.group(1)), int(match.group(2))
                devices.append(CaptureDevice(card, device, ids.get(card, str(card)), match.group(3).strip()))
        return devices

    def gpio_chips(self) -> list[Path]:
        return sorted((self.root / "dev").glob("gpiochip*"))

    def camera_devices(self) -> list[str]:
        """The device nodes a camera program opens: ``/dev/media*`` (libcamera's pipelines) and
        ``/dev/video*`` (the sensor's, the ISP's, the codec's), as their paths on the machine."""
        dev = self.root / "dev"
        nodes = sorted([*dev.glob("media[0-9]*"), *dev.glob("video[0-9]*")])
        return [f"/dev/{node.name}" for node in nodes]
