"""When a clip ends: events extend it, holds keep it open, a release adds post_seconds."""

from edge.recording.plan import ClipPlan


def test_events_extend_to_the_latest_deadline():
    plan = ClipPlan()
    assert not plan.active and plan.end_us is None
    plan.event("door", 1_000, 5_000)
    assert plan.active and plan.end_us == 6_000
    plan.event("door", 3_000, 5_000)  # a retrigger during the clip
    assert plan.end_us == 8_000
    plan.event("manual", 2_000, 1_000)  # an earlier deadline never shortens it
    assert plan.end_us == 8_000
    assert plan.names == ["door", "manual"]


def test_a_hold_is_open_ended_until_released():
    plan = ClipPlan()
    plan.event("door", 0, 5_000)
    plan.hold("pir", 2_000)
    assert plan.end_us is None
    plan.release("pir", 10_000)
    assert plan.end_us == 12_000
    plan.release("pir", 20_000)  # a second release changes nothing
    assert plan.end_us == 12_000
    plan.reset()
    assert not plan.active and plan.names == []
