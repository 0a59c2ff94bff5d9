"""Logging a flood once, not once per connection: the first line of a burst, then one a minute with a count.

A neighbour opening thousands of connections must not turn the journal into a second flood
(issue 23: 324,000 lines in 30 s). Each kind of event (refused, timed out, accept failed)
has its own :class:`BurstLog`; :class:`AcceptFailureFilter` does the same for asyncio's
"socket.accept() out of system resource", which asyncio logs with a traceback for every
accept it retries while the process has no file descriptor left.
"""

from __future__ import annotations

import logging
import threading
import time

EVERY_S = 60.0  # while a burst lasts, one line a minute at most

ASYNCIO_ACCEPT = "socket.accept() out of system resource"


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


class AcceptFailureFilter(logging.Filter):
    """On the ``asyncio`` logger: its accept failures become one line per burst, without the traceback."""

    def __init__(self) -> None:
        super().__init__()
        self._burst = Burst()

    def filter(self, record: logging.LogRecord) -> bool:
        if not isinstance(record.msg, str) or not record.msg.startswith(ASYNCIO_ACCEPT):
            return True
        unlogged = self._burst.due()
        if unlogged is None:
            return False
        error = record.exc_info[1] if record.exc_info else None
        record.msg = "cannot accept a connection: %s (the process is out of file descriptors)"
        if unlogged:
            record.msg += f" ({unlogged} more like this in the last {EVERY_S:.0f} s not logged)"
        record.args = (error,)
        record.exc_info = None
        record.exc_text = None
        return True
