"""A recorder with GPIO triggers on gpiozero's mock pins, fed by a fake camera on a fake clock.

Built by the daemon's own :func:`~edge.recording.factory.build_recorder`, so the rig tests its wiring too."""

from __future__ import annotations

from pathlib import Path

from gpiozero.pins.mock import MockFactory

from edge.config import parse_config
from edge.recording.factory import build_recorder
from edge.recording.library import ClipInfo
from hw.gpio.simulated import SimulatedGpio
from testbed.media import Camera, FakeClock, until


class Rig:
    def __init__(
        self,
        root: Path,
        recording: dict | None = None,
        triggers: list[dict] | None = None,
        gop: int = 15,
        audio: bool = True,
    ) -> None:
        config = parse_config(
            {
                "recording": {
                    "dir": str(root),
                    "pre_seconds": 1,
                    "post_seconds": 1,
                    "min_free_mb": 0,
                    **(recording or {}),
                },
                "triggers": triggers or [],
            }
        )
        self.clock = FakeClock()
        self.camera = Camera(self.clock, gop=gop, audio=audio)
        self.factory = MockFactory()
        self.gpio = SimulatedGpio(self.factory, clock=self.clock)
        self.recorder, triggers = build_recorder(
            config, self.camera.video, self.camera.audio, None, self.gpio, gpio_simulated=True, clock=self.clock
        )
        self.triggers = triggers.gpio

    async def __aenter__(self) -> Rig:
        await self.triggers.start()
        await self.recorder.start()
        await until(lambda: self.camera.video.consumers, what="the recorder to subscribe")
        return self

    async def __aexit__(self, *exc) -> None:
        await self.recorder.stop()
        await self.triggers.stop()
        self.gpio.close()
        self.factory.close()

    def pin(self, number: int):
        return self.factory.pin(number)

    async def settle_input(self, name: str, active: bool) -> None:
        """Wait until the debounced input reads ``active`` (its change has reached the recorder)."""
        await until(
            lambda: any(i["name"] == name and i["active"] == active for i in self.triggers.status()["inputs"]),
            what=f"{name} to read {active}",
        )

    async def finished_clips(self, count: int = 1) -> list[ClipInfo]:
        await until(
            lambda: (
                len(self.recorder.library.clips()) == count and all(c.complete for c in self.recorder.library.clips())
            ),
            what=f"{count} finished clip(s)",
        )
        return list(reversed(self.recorder.library.clips()))  # oldest first

    def path(self, clip: ClipInfo) -> Path:
        return self.recorder.library.path(clip.name)
