"""The pre-trigger ring: starts at a keyframe, spans pre_seconds plus at most one GOP, capped in bytes."""

from __future__ import annotations

from edge.media.audio import OpusPacket
from edge.recording.ring import MediaRing
from hw.camera import H264AccessUnit

SECOND = 1_000_000


def unit(t: float, keyframe: bool, size: int = 100) -> H264AccessUnit:
    return H264AccessUnit(b"x" * size, keyframe, round(t * SECOND), 0.0)


def feed(ring: MediaRing, seconds: float, gop_s: float = 1.0, fps: int = 10, size: int = 100) -> None:
    for i in range(round(seconds * fps)):
        ring.add_video(unit(i / fps, i % round(gop_s * fps) == 0, size))
        ring.add_audio(OpusPacket(b"a" * 10, round(i / fps * SECOND)))


def test_spans_pre_seconds_plus_at_most_one_gop_and_starts_at_a_keyframe():
    ring = MediaRing(keep_us=3 * SECOND, max_bytes=10**9)
    feed(ring, 20)
    frames = ring.video_between(-1, 10**12)
    assert frames[0].keyframe
    newest = frames[-1].timestamp_us
    assert 3 * SECOND <= newest - frames[0].timestamp_us < 4 * SECOND
    # A clip for a trigger now can start pre_seconds (3 s) before it, at a keyframe.
    start = ring.start_for(newest - 3 * SECOND)
    assert start is not None and newest - 4 * SECOND < start <= newest - 3 * SECOND
    # Audio goes back as far as the video, no further.
    audio = ring.audio_between(-1, 10**12)
    assert audio[0].timestamp_us == frames[0].timestamp_us


def test_the_byte_cap_drops_whole_gops():
    ring = MediaRing(keep_us=10 * SECOND, max_bytes=25 * 1000)
    feed(ring, 20, size=1000)  # 10 kB per second of video
    assert ring.bytes <= 25 * 1000
    frames = ring.video_between(-1, 10**12)
    assert frames[0].keyframe and ring.span_us < 3 * SECOND


def test_a_gop_bigger_than_the_cap_empties_the_ring_until_the_next_keyframe():
    ring = MediaRing(keep_us=SECOND, max_bytes=500)
    for i in range(10):
        ring.add_video(unit(i / 10, i == 0))
    assert ring.frames == 0 and ring.start_for(10**12) is None
    ring.add_video(unit(1.0, False))
    assert ring.frames == 0  # a P-frame cannot start anything
    ring.add_video(unit(1.1, True))
    assert ring.frames == 1


def test_start_for_picks_the_last_keyframe_at_or_before_the_target_else_the_oldest():
    ring = MediaRing(keep_us=100 * SECOND, max_bytes=10**9)
    assert ring.start_for(0) is None
    feed(ring, 5)
    assert ring.start_for(round(2.5 * SECOND)) == 2 * SECOND
    assert ring.start_for(2 * SECOND) == 2 * SECOND
    assert ring.start_for(-SECOND) == 0  # before anything buffered: the oldest keyframe


def test_between_is_exclusive_on_both_ends():
    ring = MediaRing(keep_us=100 * SECOND, max_bytes=10**9)
    feed(ring, 1)
    got = [u.timestamp_us for u in ring.video_between(200_000, 500_000)]
    assert got == [300_000, 400_000]
