"""Every ``[[publish]]`` target of the daemon, each in a task of its own."""

from __future__ import annotations

import asyncio
from pathlib import Path

from edge.config import PublishConfig
from edge.media.audio import AudioHub
from edge.media.video import VideoHub
from edge.publish.target import PublishTarget
from edge.webrtc.payloads import Payloads
from hw.netwatch import NetworkChange


class PublishTargets:
    def __init__(
        self,
        configs: tuple[PublishConfig, ...],
        video: VideoHub,
        audio: AudioHub | None,
        payloads: Payloads,
        state_dir: Path | None = None,
    ) -> None:
        self.targets = [PublishTarget(config, video, audio, payloads, state_dir) for config in configs]
        self._tasks: list[asyncio.Task] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(t.run(), name=f"publish {t.name}") for t in self.targets]

    async def stop(self) -> None:
        """Cancel every target; each DELETEs its session (bounded) on the way out."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    def network_changed(self, change: NetworkChange) -> None:
        for target in self.targets:
            target.network_changed(change)

    def status(self) -> list[dict]:
        return [target.status() for target in self.targets]
