"""The one clock of the daemon: capture times, GPIO edges, clip deadlines and timeouts all use it.

It is the monotonic clock (``CLOCK_MONOTONIC``): media timestamps and edge times
in integer microseconds (:func:`monotonic_us`), durations and deadlines that are
not media times in float seconds (:func:`monotonic_s`), on the same time line.
"""

from __future__ import annotations

import time

# The simulated camera's and microphone's A/V sync mode mark every whole second of this clock: each one by itself,
# the picture with a white frame and the microphone with a beep, so both mark the same capture instant.
SYNC_PERIOD_US = 1_000_000


def monotonic_us() -> int:
    """Microseconds on the monotonic clock, as in ``H264AccessUnit.timestamp_us``."""
    return time.monotonic_ns() // 1000


def monotonic_s() -> float:
    """Seconds on the same clock, for pacing, stall checks and other intervals."""
    return time.monotonic()
