"""Logging a flood once, not once per connection: the first line of a burst, then one a minute with a count.

A neighbour opening thousands of connections must not turn the journal into a second flood
(issue 23: 324,000 lines in 30 s). Each kind of event (refused, timed out, accept failed)
has its own :class:`BurstLog`.
"""

from __future__ import annotations

import logging
import threading
import time

EVERY_S = 60.0  # while a burst lasts, one line a minute at most


class Burst:
    """Lets an event be logged at once, then at most every ``every_s`` seconds, counting the others.

    Called from GStreamer's threads as well as asyncio's: a lock keeps the count right.
    """

    def __init__(self, every_s: float = EVERY_S) -> None:
        self.every_s = every_s
        self._lock = threading.Lock()
        self._last = -float("inf")
        self._unlogged = 0

    def due(self) -> int | None:
        """None while this event is to go unlogged; else how many went unlogged before it."""
        now = time.monotonic()
        with self._lock:
            if now - self._last < self.every_s:
                self._unlogged += 1
                return None
            self._last, unlogged, self._unlogged = now, self._unlogged, 0
            return unlogged


class BurstLog(Burst):
    """A :class:`Burst` that writes its lines to a logger."""

    def __init__(self, logger: logging.Logger, every_s: float = EVERY_S) -> None:
        super().__init__(every_s)
        self._logger = logger

    def warning(self, message: str, *args: object) -> None:
        unlogged = self.due()
        if unlogged is None:
            return
        if unlogged:
            message += f" ({unlogged} more like this in the last {self.every_s:.0f} s not logged)"
        self._logger.warning(message, *args)
