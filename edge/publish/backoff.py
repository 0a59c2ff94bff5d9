"""How long to wait before trying a server again."""

from __future__ import annotations

import random
from collections.abc import Callable


class Backoff:
    """Capped exponential back-off with "equal jitter": each wait is half fixed, half random.

    Many cameras that lost the same server do not come back to it in step, and
    none waits less than half its turn.
    """

    def __init__(self, first: float, cap: float, random_fraction: Callable[[], float] = random.random) -> None:
        self.first = first
        self.cap = cap
        self._random = random_fraction
        self._failures = 0

    def next_delay(self) -> float:
        delay = min(self.cap, self.first * 2**self._failures)
        self._failures = min(self._failures + 1, 32)
        return delay / 2 + self._random() * delay / 2

    def reset(self) -> None:
        self._failures = 0
