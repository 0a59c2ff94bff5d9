"""RTSP's two paths hear one AAC encoder: the same frames to every media, encoded while one listens."""

from __future__ import annotations

from edge.media.audio import AudioHub
from edge.rtsp.shared_aac import SharedAac
from hw.microphone import open_microphone

FRAMES = 10  # about 0.2 s of sound


async def test_two_subscribers_get_the_same_frames_and_one_after_all_left_hears_again():
    hub = AudioHub(open_microphone("simulated"), 32_000)
    await hub.start()
    aac = SharedAac(hub)
    try:
        first, second = aac.subscribe(maxlen=100), aac.subscribe(maxlen=100)
        heard = [[await queue.get() for _ in range(FRAMES)] for queue in (first, second)]
        # One encoder: the frames themselves, not two encodings of the same sound, in both queues.
        assert all(a is b for a, b in zip(*heard, strict=True))
        aac.unsubscribe(first)
        aac.unsubscribe(second)
        await aac.stop()
        again = aac.subscribe()
        assert (await again.get()).timestamp_us > heard[0][-1].timestamp_us
        aac.unsubscribe(again)
        await aac.stop()
    finally:
        await hub.stop()
