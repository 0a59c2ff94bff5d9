"""Debouncing in our own code: gpiozero's ``bounce_time`` is ignored by its mock pins,
and a time-based filter here behaves the same on every pin factory."""

from __future__ import annotations

import asyncio

from hw.gpio import ChangeHandler


class Debouncer:
    """Reports a level only once it has held for ``hold_s``, stamped with the edge that began it.

    Runs on the event loop: feed it raw edges with :meth:`edge`. A pulse shorter
    than ``hold_s`` (contact bounce, interference) is never reported.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, hold_s: float, level: bool, report: ChangeHandler) -> None:
        self._loop = loop
        self._hold_s = hold_s
        self._report = report
        self.level = level
        self._pending_since: int | None = None
        self._timer: asyncio.TimerHandle | None = None

    def edge(self, level: bool, at_us: int) -> None:
        self._cancel()
        if level == self.level:  # back where it was: that was a glitch
            self._pending_since = None
            return
        self._pending_since = at_us
        if self._hold_s <= 0:
            self._commit(level)
        else:
            self._timer = self._loop.call_later(self._hold_s, self._commit, level)

    def _commit(self, level: bool) -> None:
        at_us, self._pending_since, self._timer = self._pending_since, None, None
        assert at_us is not None, "a commit follows a pending change"
        self.level = level
        self._report(level, at_us)

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def close(self) -> None:
        self._cancel()
