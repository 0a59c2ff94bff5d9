"""How many WS-Discovery probes are read: a token bucket per source and one for all sources.

Any host on the LAN can send probes as fast as its link allows; each one read costs the event
loop a parse (about 2 ms for a 3 KB one on a Pi-class core) and the prober a ProbeMatch, which
a spoofed source turns into traffic at someone else. So a probe is read only when both its
source's bucket and the shared one have a token; the rest are dropped unread and counted. One
flooding host then spends only its own bucket, and everyone else's probes are still answered.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

PER_SOURCE_RATE = 2.0  # probes a second; Home Assistant sends one probe (and its repeats) per search
PER_SOURCE_BURST = 4.0
OVERALL_RATE = 20.0
OVERALL_BURST = 40.0
MAX_SOURCES = 1024  # buckets kept, the most recently used; a forgotten source starts with a full one


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; starts full."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._at = now

    def has_token(self, now: float) -> bool:
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        return self._tokens >= 1.0

    def take(self) -> None:
        self._tokens -= 1.0


class ProbeBudget:
    """Whether a probe from a source may be read now (see the module); ``dropped`` counts those that may not."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._overall = TokenBucket(OVERALL_RATE, OVERALL_BURST, clock())
        self._sources: OrderedDict[str, TokenBucket] = OrderedDict()
        self.dropped = 0

    def admit(self, source: str) -> bool:
        now = self._clock()
        bucket = self._sources.get(source)
        if bucket is None:
            bucket = self._sources[source] = TokenBucket(PER_SOURCE_RATE, PER_SOURCE_BURST, now)
            if len(self._sources) > MAX_SOURCES:
                self._sources.popitem(last=False)
        else:
            self._sources.move_to_end(source)
        if not (bucket.has_token(now) and self._overall.has_token(now)):
            self.dropped += 1
            return False
        bucket.take()
        self._overall.take()
        return True
