"""The one clock of the daemon: capture times, GPIO edges and clip deadlines all use it."""

from __future__ import annotations

import time


def monotonic_us() -> int:
    """Microseconds on the monotonic clock, as in ``H264AccessUnit.timestamp_us``."""
    return time.monotonic_ns() // 1000
