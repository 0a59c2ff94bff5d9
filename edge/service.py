"""The one shape of every long-lived part of the daemon.

A :class:`Service` is started once and stopped once, both on the event loop;
``Daemon`` holds a list of them, starts them in that order (each after what it
depends on) and stops them in reverse. ``stop()`` may be called on a service
that never started, or twice: both do nothing. A feature that is switched off is
a stand-in service (:class:`Off`) that reports ``off``; the daemon never checks
for a missing part.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from enum import StrEnum
from typing import Any, Protocol, TypedDict

log = logging.getLogger(__name__)


class Service(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class OffState(StrEnum):
    OFF = "off"


class OffStatus(TypedDict):
    state: OffState


class Off:
    """A feature the configuration leaves off (or that could not be had): it reports ``off``."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def status(self) -> OffStatus:
        return {"state": OffState.OFF}


class BackgroundTask:
    """The one task a service runs while it is started; ``stop()`` cancels it and waits for it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._task: asyncio.Task[Any] | None = None

    def start(self, work: Coroutine[Any, Any, Any]) -> None:
        if self._task is not None:
            work.close()
            raise RuntimeError(f"{self.name} is started already")
        self._task = asyncio.create_task(work, name=self.name)
        self._task.add_done_callback(self._ended)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self, timeout: float | None = None) -> None:
        """Cancel the task and wait for it to end: at most ``timeout`` seconds, if given (a task that
        takes longer is left to end by itself, and the log says so)."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done:
            log.warning("%s did not stop within %g s; going on without it", self.name, timeout)

    def _ended(self, task: asyncio.Task[Any]) -> None:
        """A service's task should run until it is stopped: an early end is a bug worth a log line."""
        if not task.cancelled() and task.exception() is not None:
            log.error("%s ended: %r", self.name, task.exception(), exc_info=task.exception())


async def start_all(services: list[Service]) -> None:
    """In order; if one fails to start, those started already are stopped again (in reverse)."""
    started: list[Service] = []
    try:
        for service in services:
            started.append(service)
            await service.start()
    except BaseException:
        await stop_all(started)
        raise


async def stop_all(services: list[Service]) -> None:
    """In reverse order; one that fails to stop is logged and the others still stop."""
    for service in reversed(services):
        try:
            await service.stop()
        except Exception:
            log.exception("stopping %s", service.name)
