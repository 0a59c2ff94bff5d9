"""The microphone interface: 20 ms chunks of 48 kHz mono PCM."""

from __future__ import annotations

import abc
from collections.abc import AsyncGenerator
from dataclasses import dataclass

SAMPLE_RATE = 48_000
CHUNK_SAMPLES = 960  # 20 ms at 48 kHz
CHUNK_BYTES = CHUNK_SAMPLES * 2  # s16le mono


@dataclass(frozen=True, slots=True)
class PcmChunk:
    """20 ms of signed 16-bit little-endian mono audio at 48 kHz.

    ``timestamp_us`` is the capture time of the first sample on the monotonic
    clock, the same clock as the camera's ``H264AccessUnit.timestamp_us``.
    """

    samples: bytes
    timestamp_us: int

    @property
    def keyframe(self) -> bool:
        """Playback can start at any chunk (what a fan-out's queue asks of its items)."""
        return True


class MicrophoneError(RuntimeError):
    """The microphone cannot be opened or has stopped delivering audio."""


class Microphone(abc.ABC):
    """A source of PCM audio, paced by the device (or by the clock when simulated).

    ``chunks()`` opens the device and yields :class:`PcmChunk` of exactly
    ``CHUNK_SAMPLES`` samples until the consumer stops iterating or the device
    fails (raises :class:`MicrophoneError`).
    """

    name: str

    @abc.abstractmethod
    def chunks(self) -> AsyncGenerator[PcmChunk, None]: ...


def open_microphone(backend: str, device: str = "default", av_sync: bool = False) -> Microphone:
    """Create a microphone by backend name: ``"alsa"`` or ``"simulated"`` (``av_sync``: its A/V sync mode)."""
    if backend == "alsa":
        from hw.microphone.alsa import AlsaMicrophone

        return AlsaMicrophone(device)
    if backend == "simulated":
        from hw.microphone.simulated import SimulatedMicrophone

        return SimulatedMicrophone(av_sync)
    raise ValueError(f"unknown microphone backend {backend!r}")
