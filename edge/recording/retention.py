"""Which clips to delete: the oldest first, never one still being written."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from edge.recording.library import ClipInfo

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    max_total_bytes: int = 0  # 0: no limit
    max_age_s: float = 0.0  # 0: no limit
    min_free_bytes: int = 0


def choose_deletions(clips: Iterable[ClipInfo], free_bytes: int, now: float, limits: Limits) -> list[str]:
    """Names to delete, oldest first, until every limit holds (or nothing deletable is left).

    Incomplete clips (being written or finalized) count towards the total but are
    never chosen.
    """
    clips = list(clips)
    total = sum(c.size_bytes for c in clips)
    chosen = []
    for clip in sorted((c for c in clips if c.complete), key=lambda c: c.started_at):
        too_old = limits.max_age_s > 0 and now - clip.started_at > limits.max_age_s
        too_much = limits.max_total_bytes > 0 and total > limits.max_total_bytes
        too_full = free_bytes < limits.min_free_bytes
        if not (too_old or too_much or too_full):
            break
        chosen.append(clip.name)
        total -= clip.size_bytes
        free_bytes += clip.size_bytes
    return chosen
