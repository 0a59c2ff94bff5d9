"""WS-Discovery's probe budget: one flooding host spends its own bucket, not everyone's."""

from __future__ import annotations

from edge.onvif.probe_budget import OVERALL_BURST, PER_SOURCE_BURST, PER_SOURCE_RATE, ProbeBudget


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_flooding_host_is_held_to_its_rate_and_others_are_still_read():
    clock = Clock()
    budget = ProbeBudget(clock)
    admitted = sum(budget.admit("10.0.0.9") for _ in range(10_000))
    assert admitted == PER_SOURCE_BURST
    assert budget.dropped == 10_000 - PER_SOURCE_BURST
    assert budget.admit("10.0.0.7"), "another host's probe is read"
    clock.now += 1.0
    assert sum(budget.admit("10.0.0.9") for _ in range(100)) == PER_SOURCE_RATE, "a second later: its rate"


def test_many_hosts_together_are_held_to_the_overall_budget():
    budget = ProbeBudget(Clock())
    admitted = sum(budget.admit(f"10.0.{n // 250}.{n % 250}") for n in range(2000))
    assert admitted == OVERALL_BURST
