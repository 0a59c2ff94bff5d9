"""Slowing down token guessing: a few failures per client address, then a wait."""

from __future__ import annotations

import time
from collections import OrderedDict, deque


class FailureLimiter:
    """At most ``max_failures`` wrong tokens per address per ``window`` seconds.

    Bounded in memory: only the ``max_clients`` most recent addresses are kept.
    """

    def __init__(self, max_failures: int = 5, window: float = 60.0, max_clients: int = 4096) -> None:
        self.max_failures = max_failures
        self.window = window
        self.max_clients = max_clients
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, client: str) -> float | None:
        """Seconds this client must wait before it may try again, or None."""
        failures = self._failures.get(client)
        if not failures:
            return None
        now = time.monotonic()
        while failures and now - failures[0] > self.window:
            failures.popleft()
        if len(failures) < self.max_failures:
            return None
        return self.window - (now - failures[0])

    def record_failure(self, client: str) -> None:
        failures = self._failures.setdefault(client, deque(maxlen=self.max_failures))
        failures.append(time.monotonic())
        self._failures.move_to_end(client)
        while len(self._failures) > self.max_clients:
            self._failures.popitem(last=False)

    def forget(self, client: str) -> None:
        self._failures.pop(client, None)
