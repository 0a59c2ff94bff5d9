import time
from itertools import pairwise

import av

from edge.media.h264 import NAL_IDR, NAL_PPS, NAL_SPS, nal_type, split_nal_units
from hw.camera import CameraSettings
from hw.camera.framecode import read_frame_code, split_frame_code
from hw.camera.simulated import SimulatedCamera


async def capture(camera: SimulatedCamera, count: int, on_frame=None) -> list:
    units = []
    async for unit in camera.frames():
        units.append(unit)
        if on_frame:
            on_frame(len(units), unit)
        if len(units) == count:
            break
    return units


async def test_access_units_decode_with_the_frame_code_and_headers_on_every_idr():
    settings = CameraSettings(width=320, height=240, framerate=30, bitrate=500_000, keyframe_interval=0.5)
    units = await capture(SimulatedCamera(settings), 40)
    decoder = av.CodecContext.create("h264", "r")
    indexes = []
    for unit in units:
        types = [nal_type(u) for u in split_nal_units(unit.data)]
        assert unit.data.startswith(b"\x00\x00\x00\x01") or unit.data.startswith(b"\x00\x00\x01")
        if unit.keyframe:
            assert {NAL_SPS, NAL_PPS, NAL_IDR} <= set(types)
        for frame in decoder.decode(av.Packet(unit.data)):  # each access unit decodes at once
            assert (frame.width, frame.height) == (320, 240)
            index, capture_ms = split_frame_code(read_frame_code(frame.to_ndarray(format="gray")))
            assert capture_ms == int(unit.wall_time * 1000) & 0xFFFFFFFF
            indexes.append(index)
    assert indexes == list(range(40))  # one access unit per frame, nothing held back
    assert units[0].keyframe and units[15].keyframe and not units[14].keyframe  # GOP of 15 frames


async def test_paced_in_real_time_with_monotonic_timestamps():
    settings = CameraSettings(width=320, height=240, framerate=30, keyframe_interval=10)
    started = time.monotonic()
    units = await capture(SimulatedCamera(settings), 31)
    elapsed = time.monotonic() - started
    assert elapsed >= 0.95  # 30 intervals at 30 fps; never faster than real time
    gaps = [b.timestamp_us - a.timestamp_us for a, b in pairwise(units)]
    assert all(gap > 0 for gap in gaps)


async def test_keyframe_on_request():
    camera = SimulatedCamera(CameraSettings(width=320, height=240, framerate=30, keyframe_interval=60))
    requested_at = []

    def ask(n, unit):
        if n == 10:
            camera.request_keyframe()
            requested_at.append(n)

    units = await capture(camera, 14, ask)
    keyframes = [i for i, u in enumerate(units) if u.keyframe]
    assert keyframes[0] == 0
    assert any(10 <= k <= 12 for k in keyframes[1:]), keyframes


async def test_the_low_stream_is_the_same_pictures_small_with_keyframes_of_its_own():
    """Both encoders take each picture (the same frame code, the same capture time); a keyframe asked of
    one encoder comes from that one only."""
    main = CameraSettings(width=1280, height=720, framerate=30, bitrate=2_000_000, keyframe_interval=60)
    camera = SimulatedCamera(main)
    camera.low_settings = CameraSettings(640, 360, 30, 450_000, 60)
    asked: dict[str, int] = {}

    def ask(n, unit):
        if n == 40:
            camera.request_keyframe("low")
            asked["low"] = unit.timestamp_us

    units = await capture(camera, 120, ask)
    decoders = {"main": av.CodecContext.create("h264", "r"), "low": av.CodecContext.create("h264", "r")}
    codes: dict[str, dict[int, int]] = {"main": {}, "low": {}}
    for unit in units:
        for frame in decoders[unit.stream].decode(av.Packet(unit.data)):
            expected = (1280, 720) if unit.stream == "main" else (640, 360)
            assert (frame.width, frame.height) == expected
            codes[unit.stream][unit.timestamp_us] = read_frame_code(frame.to_ndarray(format="gray"))
    shared = codes["main"].keys() & codes["low"].keys()
    assert len(shared) >= 50
    assert all(codes["main"][t] == codes["low"][t] for t in shared)  # the same picture, readable at both sizes
    keyframes = {s: [u.timestamp_us for u in units if u.stream == s and u.keyframe] for s in ("main", "low")}
    assert len(keyframes["main"]) == 1  # its first picture only: the request was the low encoder's
    assert len(keyframes["low"]) == 2 and keyframes["low"][1] > asked["low"]
