"""The hub's streams: keyframe requests go to their own encoder; each measures what its encoder really makes."""

from __future__ import annotations

from edge.media.video import VideoHub
from hw.camera import CameraSettings, H264AccessUnit
from hw.camera.simulated import SimulatedCamera


def unit(index: int, size: int, stream: str = "main", keyframe: bool = False) -> H264AccessUnit:
    return H264AccessUnit(bytes(size), keyframe, index * 33_333, 0.0, stream)  # type: ignore[arg-type]


async def test_each_stream_asks_its_own_encoder_and_measures_its_own_rate():
    camera = SimulatedCamera(CameraSettings(1280, 720, 30, 2_000_000))
    camera.low_settings = CameraSettings(640, 360, 30, 450_000)
    asked: list[str] = []
    camera.request_keyframe = asked.append  # type: ignore[method-assign]
    hub = VideoHub(camera)
    assert hub.low is not None and hub.stream("low") is hub.low and hub.stream("main") is hub.main
    assert hub.low.rate_bps == 450_000  # nothing measured yet: what it was given
    hub.low.subscribe()
    assert asked == ["low"]
    hub.request_keyframe()
    assert asked == ["low", "main"]
    for i in range(120):  # 4 s at 30 fps: 1,000 bytes a main picture, 250 a low one
        hub._publish(unit(i, 1000))
        hub._publish(unit(i, 250, "low"))
    assert abs(hub.main.rate_bps - 240_000) < 5_000
    assert abs(hub.low.rate_bps - 60_000) < 2_000
    assert hub.main.frames == hub.low.frames == 120


async def test_without_a_low_stream_low_is_main():
    hub = VideoHub(SimulatedCamera(CameraSettings(640, 360, 30)))
    assert hub.low is None and hub.stream("low") is hub.main
    assert hub.status()["low"] is None
