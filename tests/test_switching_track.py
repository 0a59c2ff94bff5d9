"""A viewer's track moves between the camera's main and low streams (edge/webrtc/switching_track.py).

A real VideoHub over the simulated camera at 1280x720, with its low stream at 640x360,
and keyframes only on request (a periodic one every 60 s would come too late to matter):
what the track returns is what the viewer's sender sends, in order.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import av
import pytest
from aiortc.mediastreams import MediaStreamError

from edge.media.video import VideoHub
from edge.webrtc.switching_track import TICK_US, SwitchingTrack
from hw.camera import CameraSettings, H264AccessUnit, StreamName, low_stream_settings
from hw.camera.simulated import SimulatedCamera

pytestmark = pytest.mark.timeout(60)

MAIN = CameraSettings(width=1280, height=720, framerate=30, bitrate=2_000_000, keyframe_interval=60)


class CountingCamera(SimulatedCamera):
    """The simulated camera, keeping which encoder each keyframe request went to."""

    def __init__(self) -> None:
        super().__init__(MAIN)
        self.low_settings = low_stream_settings(MAIN, 640, 0, 450_000)
        self.requests: list[StreamName] = []

    def request_keyframe(self, stream: StreamName = "main") -> None:
        self.requests.append(stream)
        super().request_keyframe(stream)


@pytest.fixture
async def hub() -> AsyncIterator[VideoHub]:
    video = VideoHub(CountingCamera())
    await video.start()
    try:
        yield video
    finally:
        await video.stop()


def camera(hub: VideoHub) -> CountingCamera:
    assert isinstance(hub.camera, CountingCamera)
    return hub.camera


async def take(track: SwitchingTrack, count: int) -> list[H264AccessUnit]:
    return [await asyncio.wait_for(track.recv(), 10) for _ in range(count)]


async def take_until(track: SwitchingTrack, stream: StreamName, limit: int = 90) -> list[H264AccessUnit]:
    """Items up to and including the first of ``stream``."""
    items = []
    while not items or items[-1].stream != stream:
        items.append(await asyncio.wait_for(track.recv(), 10))
        assert len(items) <= limit, f"no item of {stream} in {limit} frames"
    return items


def picture_size(unit: H264AccessUnit) -> tuple[int, int]:
    decoder = av.CodecContext.create("h264", "r")
    (frame,) = decoder.decode(av.Packet(unit.data))
    return frame.width, frame.height


def assert_strictly_increasing(items: list[H264AccessUnit]) -> None:
    stamps = [unit.timestamp_us for unit in items]
    assert all(b > a for a, b in itertools.pairwise(stamps)), stamps


async def test_it_starts_on_main_at_a_main_keyframe(hub):
    track = SwitchingTrack(hub)
    try:
        first, *rest = await take(track, 5)
        assert first.keyframe and first.stream == "main" and picture_size(first) == (1280, 720)
        assert {unit.stream for unit in rest} == {"main"} and track.packets_sent == 5
        assert camera(hub).requests == ["main"]  # the subscription's own request, to main only
    finally:
        track.stop()


async def test_switching_to_low_swaps_at_a_low_keyframe_with_rising_timestamps(hub):
    track = SwitchingTrack(hub)
    try:
        before = await take(track, 10)
        requests = len(camera(hub).requests)
        track.switch_to("low")
        assert track.target is hub.low and track.stream is hub.main  # main goes on until low's keyframe
        items = await take_until(track, "low")
        switched = items[-1]
        assert switched.keyframe and picture_size(switched) == (640, 360)
        assert camera(hub).requests[requests:] == ["low"], "the switch asked the low encoder only"
        after = await take(track, 15)
        assert {unit.stream for unit in after} == {"low"} and track.stream is hub.low
        assert_strictly_increasing(before + items + after)
        assert hub.main.consumers == 0 and hub.low is not None and hub.low.consumers == 1
    finally:
        track.stop()
    assert hub.low.consumers == 0


def unit(stream: StreamName, timestamp_us: int, keyframe: bool = False) -> H264AccessUnit:
    return H264AccessUnit(f"{stream} {timestamp_us}".encode(), keyframe, timestamp_us, 0.0, stream)


async def test_a_picture_sent_on_both_streams_leaves_once_and_a_tick_apart():
    """Both encoders stamp a picture with its capture time: the first of the new stream may be of the
    picture the old one just sent (or one before), and must not share its RTP timestamp."""
    hub = VideoHub(CountingCamera())  # not started: the test publishes
    track = SwitchingTrack(hub)
    low = hub.low
    assert low is not None
    try:
        for item in (unit("main", 1000, keyframe=True), unit("main", 2000)):
            hub.main.publish(item)
            assert await track.recv() == item
        track.switch_to("low")
        low.publish(unit("low", 2000))  # not a keyframe: the low queue waits for one
        hub.main.publish(unit("main", 3000))
        assert await track.recv() == unit("main", 3000)
        low.publish(unit("low", 3000, keyframe=True))  # the picture just sent, on the other stream
        hub.main.publish(unit("main", 4000))
        switched = await track.recv()
        assert (switched.stream, switched.keyframe, switched.timestamp_us) == ("low", True, 3000 + TICK_US)
        low.publish(unit("low", 4000))
        assert await track.recv() == unit("low", 4000)  # its own time again: later than the bumped one
        assert (hub.main.consumers, low.consumers) == (0, 1)
        assert camera(hub).requests == ["main", "low"]
    finally:
        track.stop()


async def test_sent_wakes_after_the_next_item_went_to_the_sender():
    hub = VideoHub(CountingCamera())  # not started: the test publishes
    track = SwitchingTrack(hub)
    try:
        waiting = asyncio.ensure_future(track.sent(10))
        receiving = asyncio.ensure_future(track.recv())
        await asyncio.sleep(0)
        assert not waiting.done()
        hub.main.publish(unit("main", 1000, keyframe=True))
        await receiving
        await asyncio.wait_for(waiting, 1)
        started = asyncio.get_running_loop().time()
        await track.sent(0.05)  # nothing comes: it gives up in time
        assert asyncio.get_running_loop().time() - started >= 0.05
    finally:
        track.stop()


async def test_keyframe_requests_go_to_the_stream_being_sent(hub):
    track = SwitchingTrack(hub, "low")
    try:
        first, *_ = await take(track, 3)
        assert first.keyframe and first.stream == "low"
        sent = len(camera(hub).requests)
        await asyncio.sleep(0.3)  # past the hub's debounce of a keyframe request
        track.request_keyframe()  # the viewer's PLI
        assert camera(hub).requests[sent:] == ["low"]
        keyframe = next(unit for unit in await take(track, 30) if unit.keyframe)
        assert keyframe.stream == "low"
    finally:
        track.stop()


async def test_back_to_main_and_a_switch_redirected_or_called_off(hub):
    track = SwitchingTrack(hub, "low")
    try:
        await take(track, 3)
        track.switch_to("main")
        track.switch_to("low")  # called off before main's keyframe came
        assert track.target is hub.low and hub.main.consumers == 0
        assert {unit.stream for unit in await take(track, 15)} == {"low"}
        track.switch_to("main")
        items = await take_until(track, "main")
        assert items[-1].keyframe and picture_size(items[-1]) == (1280, 720)
        after = await take(track, 10)
        assert {unit.stream for unit in after} == {"main"}
        assert_strictly_increasing(items + after)
        assert hub.low is not None and hub.low.consumers == 0
    finally:
        track.stop()


async def test_a_stopped_track_ends_the_sender_and_holds_no_subscription(hub):
    track = SwitchingTrack(hub)
    await take(track, 2)
    track.switch_to("low")
    waiting = asyncio.ensure_future(track.recv())
    track.stop()
    with pytest.raises(MediaStreamError):
        await asyncio.wait_for(waiting, 5)
    assert hub.main.consumers == 0 and hub.low is not None and hub.low.consumers == 0


async def test_without_a_low_stream_the_track_stays_on_main(hub):
    plain = VideoHub(SimulatedCamera(CameraSettings(width=640, height=360, keyframe_interval=60)))
    await plain.start()
    track = SwitchingTrack(plain, "low")
    try:
        track.switch_to("low")
        assert track.stream is plain.main and track.target is plain.main
        first, *_ = await take(track, 3)
        assert first.keyframe and picture_size(first) == (640, 360)
    finally:
        track.stop()
        await plain.stop()


async def test_a_switch_away_from_a_stream_that_has_stopped_completes():
    """The low encoder failed (a Pi's second session lost its buffers): a viewer on low that is moved to main
    gets main's keyframe, though low sends nothing more to wake the track."""
    hub = VideoHub(CountingCamera())  # not started: the test publishes
    track = SwitchingTrack(hub, "low")
    assert hub.low is not None
    try:
        hub.low.publish(unit("low", 1000, keyframe=True))
        assert await track.recv() == unit("low", 1000, keyframe=True)
        waiting = asyncio.ensure_future(track.recv())  # low has stopped: nothing more comes
        await asyncio.sleep(0)
        track.switch_to("main")
        hub.main.publish(unit("main", 2000, keyframe=True))
        switched = await asyncio.wait_for(waiting, 5)
        assert (switched.stream, switched.keyframe) == ("main", True)
        assert (hub.main.consumers, hub.low.consumers) == (1, 0)
    finally:
        track.stop()
