"""The back-off every retry loop waits by (camera and microphone restarts, MQTT, publishing)."""

from edge.backoff import Backoff


def test_backoff_doubles_up_to_its_cap_and_starts_afresh_after_a_reset():
    backoff = Backoff(0.5, 2.0)
    assert [backoff.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 2.0, 2.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_with_jitter_half_of_each_wait_is_random():
    low = Backoff(0.5, 2.0, jitter=True, random_fraction=lambda: 0.0)
    high = Backoff(0.5, 2.0, jitter=True, random_fraction=lambda: 1.0)
    assert [low.next_delay() for _ in range(5)] == [0.25, 0.5, 1.0, 1.0, 1.0]
    assert [high.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 2.0, 2.0]
    high.reset()
    assert high.next_delay() == 0.5
