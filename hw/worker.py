"""Work taken off a thread that must never wait: a bounded hand-off to a worker thread that drops, never blocks.

picamera2 runs its whole camera loop on one thread: whatever is slow there (a motion
detector, a software encoder) delays every frame after it. :class:`DroppingWorker` takes
such work to its own thread: :meth:`DroppingWorker.offer` queues an item and returns at
once; when ``maxlen`` items already wait, the oldest is dropped (counted in ``dropped``,
and handed to ``discard`` so that what it holds can be let go).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class DroppingWorker(Generic[T]):
    """``handle(item)`` on a thread of its own for each item offered, in order; never more than ``maxlen`` waiting.

    ``handle`` raising is logged (the first time) and the worker goes on with the next item.
    """

    def __init__(
        self,
        name: str,
        handle: Callable[[T], None],
        maxlen: int,
        discard: Callable[[T], None] | None = None,
    ) -> None:
        self.name = name
        self._handle = handle
        self._discard = discard
        self._items: deque[T] = deque()
        self._maxlen = maxlen
        self._ready = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._failed = False
        self.dropped = 0  # items that came while maxlen waited: never handled

    def start(self) -> None:
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def offer(self, item: T) -> None:
        """Queue ``item`` (any thread); never blocks."""
        with self._ready:
            if len(self._items) >= self._maxlen:
                self.dropped += 1
                dropped: T | None = self._items.popleft()
            else:
                dropped = None
            self._items.append(item)
            self._ready.notify()
        if dropped is not None and self._discard is not None:
            self._discard(dropped)

    def stop(self, drain: bool, timeout: float | None = None) -> None:
        """End the worker: the items still waiting are handled first (``drain``) or discarded; waits for the
        thread up to ``timeout`` seconds (a ``handle`` that hangs leaves it behind: it is a daemon thread)."""
        with self._ready:
            self._stopping = True
            left = [] if drain else list(self._items)
            if not drain:
                self._items.clear()
            self._ready.notify()
        for item in left:
            if self._discard is not None:
                self._discard(item)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._items and not self._stopping:
                    self._ready.wait()
                if not self._items:
                    return
                item = self._items.popleft()
            try:
                self._handle(item)
            except Exception:
                if not self._failed:
                    self._failed = True
                    log.exception("%s failed (logged once; it goes on with the next)", self.name)
