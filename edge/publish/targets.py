"""Every ``[[publish]]`` target of the daemon, each in a task of its own."""

from __future__ import annotations

import asyncio
from pathlib import Path

from edge.config import PublishConfig
from edge.media.audio import AudioHub
from edge.media.video import VideoHub
from edge.publish.target import PublishTarget, PublishTargetStatus
from edge.service import BackgroundTask
from edge.webrtc.payloads import Payloads
from hw.network_watch import NetworkChange


class PublishTargets:
    """A service: started, each target publishes in a task of its own."""

    name = "publish"

    def __init__(
        self,
        configs: tuple[PublishConfig, ...],
        video: VideoHub,
        audio: AudioHub | None,
        payloads: Payloads,
        state_dir: Path | None = None,
    ) -> None:
        self.targets = [PublishTarget(config, video, audio, payloads, state_dir) for config in configs]
        self._running = [BackgroundTask(f"publish {t.name}") for t in self.targets]

    async def start(self) -> None:
        for task, target in zip(self._running, self.targets, strict=True):
            task.start(target.run())

    async def stop(self) -> None:
        """Cancel every target; each DELETEs its session (bounded) on the way out."""
        await asyncio.gather(*(task.stop() for task in self._running))

    def network_changed(self, change: NetworkChange) -> None:
        for target in self.targets:
            target.network_changed(change)

    def status(self) -> list[PublishTargetStatus]:
        return [target.status() for target in self.targets]
