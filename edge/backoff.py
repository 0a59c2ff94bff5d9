"""How long to wait before trying again: a capped exponential back-off, one for every retry loop."""

from __future__ import annotations

import random
from collections.abc import Callable


class Backoff:
    """``first``, then twice as long each time up to ``cap``; :meth:`reset` after a success starts afresh.

    With ``jitter`` ("equal jitter") each wait is half fixed, half random: many
    cameras that lost the same server do not come back to it in step, and none
    waits less than half its turn.
    """

    def __init__(
        self, first: float, cap: float, *, jitter: bool = False, random_fraction: Callable[[], float] = random.random
    ) -> None:
        self.first = first
        self.cap = cap
        self._jitter = jitter
        self._random = random_fraction
        self._failures = 0

    def next_delay(self) -> float:
        delay = min(self.cap, self.first * 2**self._failures)
        self._failures = min(self._failures + 1, 32)
        return delay / 2 + self._random() * delay / 2 if self._jitter else delay

    def reset(self) -> None:
        self._failures = 0
