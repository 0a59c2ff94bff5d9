"""Keep a hardware source running: restart it with back-off when it fails or stalls."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Callable
from enum import StrEnum
from typing import TypeVar

from edge.backoff import Backoff

T = TypeVar("T")

log = logging.getLogger(__name__)


class SourceStalled(RuntimeError):
    pass


class SourceState(StrEnum):
    """A hardware source's state, as ``/healthz``, ``/metrics`` and the page show it."""

    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"  # after a failure or a stall, waiting out the back-off
    STOPPED = "stopped"


class Supervisor:
    """Runs ``open_stream()`` again and again, feeding each item to ``deliver``.

    ``state`` (a :class:`SourceState`) is what ``/healthz`` shows;
    :meth:`on_state_change` callbacks hear each change as it happens.

    A stream's first item may take ``start_timeout`` (opening a Pi camera takes
    seconds on a Zero 2 W); after that, ``stall_timeout`` without an item is a stall.
    """

    def __init__(
        self,
        what: str,
        open_stream: Callable[[], AsyncGenerator[T, None]],
        deliver: Callable[[T], None],
        stall_timeout: float,
        start_timeout: float | None = None,
        backoff: tuple[float, float] = (0.5, 30.0),
    ) -> None:
        self.what = what
        self._open_stream = open_stream
        self._deliver = deliver
        self._stall_timeout = stall_timeout
        self._start_timeout = max(stall_timeout, start_timeout or 0)
        self._backoff = Backoff(*backoff)
        self._state = SourceState.STARTING
        self._state_listeners: list[Callable[[SourceState], None]] = []
        self.last_error: str | None = None
        self.restarts = 0
        self.items = 0

    @property
    def state(self) -> SourceState:
        return self._state

    @state.setter
    def state(self, state: SourceState) -> None:
        if state != self._state:
            self._state = state
            for listener in self._state_listeners:
                listener(state)

    def on_state_change(self, listener: Callable[[SourceState], None]) -> None:
        self._state_listeners.append(listener)

    async def run(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self._pump()
                self.last_error = f"{self.what} stream ended"
            except asyncio.CancelledError:
                self.state = SourceState.STOPPED
                raise
            except SourceStalled as stalled:
                self.last_error = f"{self.what} {stalled}"
            except Exception as exc:  # any adapter failure degrades, never kills, the daemon
                self.last_error = f"{self.what} failed: {exc}"
            if time.monotonic() - started > 60:
                self._backoff.reset()  # it ran fine for a while: start the back-off afresh
            self.state = SourceState.RESTARTING
            self.restarts += 1
            delay = self._backoff.next_delay()
            log.warning("%s; restarting in %.1f s", self.last_error, delay)
            await asyncio.sleep(delay)

    async def _pump(self) -> None:
        stream = self._open_stream()
        first = True
        try:
            while True:
                timeout = self._start_timeout if first else self._stall_timeout
                try:
                    # Not wait_for(): on Python 3.11 it runs anext() in a task of its own
                    # (one per frame) and loses a cancellation that coincides with an item.
                    async with asyncio.timeout(timeout):
                        item = await anext(stream)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    what = "did not start" if first else "stalled"
                    raise SourceStalled(f"{what}: no data for {timeout:g} s") from None
                first = False
                if self.state != SourceState.RUNNING:
                    log.info("%s running", self.what)
                    self.state = SourceState.RUNNING
                self.items += 1
                self._deliver(item)
        finally:
            await stream.aclose()
