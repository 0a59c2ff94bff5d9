"""The motion detector on the simulated camera's own luma feed: its picture before encoding, with a
sensor's noise (``hw/camera/simulated.py``), driven as ``/api/sim/motion`` and ``/api/sim/lighting`` do."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing

import numpy as np
import pytest

from edge.config import MotionConfig, parse_config
from edge.triggers.motion import MotionChange, MotionDetector, threshold, watched_mask
from hw.camera import CameraSettings, LumaFrame
from hw.camera.simulated import SimulatedCamera

pytestmark = pytest.mark.timeout(60)

CAMERA = CameraSettings(width=640, height=360, framerate=30)
FPS = 10  # pictures a second for the detector: quicker tests; the detector does not care


async def watch(
    config: MotionConfig, pictures: int, script: dict[int, Callable[[SimulatedCamera], None]]
) -> tuple[list[MotionChange], list[float], list[int]]:
    """Run the simulated camera with a detector on its luma feed for ``pictures`` pictures;
    ``script[n](camera)`` runs after picture ``n`` and shows from picture ``n + 1`` on. The changes
    seen, each picture's changed percent, and the pictures' timestamps."""
    camera = SimulatedCamera(CAMERA)
    detector = MotionDetector(config)
    frames: asyncio.Queue[LumaFrame] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    offered = itertools.count()

    def sink(frame: LumaFrame) -> None:
        # In the camera's thread, before it renders the next picture: however far behind the detector
        # runs on a loaded machine, the scene changes between pictures n and n + 1.
        n = next(offered)
        if n in script:
            script[n](camera)
        loop.call_soon_threadsafe(frames.put_nowait, frame)

    camera.watch_luma(sink, FPS)
    changes, percents, times = [], [], []
    async with running(camera):
        for _ in range(pictures):
            frame = await asyncio.wait_for(frames.get(), 10)
            change = detector.feed(frame.pixels, frame.timestamp_us)
            percents.append(detector.changed_percent)
            times.append(frame.timestamp_us)
            if change is not None:
                changes.append(change)
    return changes, percents, times


@contextlib.asynccontextmanager
async def running(camera: SimulatedCamera) -> AsyncIterator[None]:
    """The camera capturing (its H.264 taken and dropped) while the block runs."""

    async def drain() -> None:
        async with aclosing(camera.frames()) as units:
            async for _ in units:
                pass

    task = asyncio.ensure_future(drain())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_the_luma_feed_is_the_still_scene_scaled_down_with_noise():
    async def one() -> LumaFrame:
        camera = SimulatedCamera(CAMERA)
        got: asyncio.Future[LumaFrame] = asyncio.get_running_loop().create_future()
        loop = asyncio.get_running_loop()
        camera.watch_luma(lambda f: loop.call_soon_threadsafe(lambda: got.done() or got.set_result(f)), FPS)
        async with running(camera):
            return await asyncio.wait_for(got, 10)

    frame = asyncio.run(one())
    assert frame.pixels.dtype == np.uint8 and frame.pixels.shape == (360, 320)  # 640x360: every 2nd column
    # The colour bars' first column (Y 180) with noise, no moving bar, no clock, no frame code.
    first_bar = frame.pixels[:, :40].astype(float)
    assert abs(first_bar.mean() - 180) < 1 and 1.5 < first_bar.std() < 4


async def test_an_object_walking_through_starts_motion_within_a_few_pictures_and_it_ends_after_the_hold():
    config = MotionConfig(enabled=True, hold_seconds=1.0)
    script = {5: lambda c: c.simulate_motion(True), 15: lambda c: c.simulate_motion(False)}
    changes, percents, times = await watch(config, 35, script)
    assert [c.active for c in changes] == [True, False], (changes, percents)
    started, ended = changes
    assert times[5] <= started.at_us <= times[7], "motion is dated from the picture before it"
    assert times[15] <= ended.at_us <= times[17], "and ends at its last one"
    assert max(percents[:6]) < 0.1 and min(percents[7:15]) > config.min_area, percents


@pytest.mark.parametrize("brightness", [1.4, 0.6])
async def test_a_40_percent_change_of_light_with_nothing_moving_triggers_nothing(brightness):
    script = {5: lambda c: c.simulate_lighting(brightness), 15: lambda c: c.simulate_lighting(1.0)}
    changes, percents, _ = await watch(MotionConfig(enabled=True), 25, script)
    assert changes == [], percents


async def test_sensor_noise_alone_triggers_nothing_even_at_high_sensitivity():
    config = MotionConfig(enabled=True, sensitivity=90)  # 10 levels: 4 times the noise's
    changes, percents, _ = await watch(config, 20, {})
    assert changes == [] and max(percents) < config.min_area, percents


async def test_motion_only_inside_an_ignored_region_triggers_nothing():
    config = MotionConfig(enabled=True, ignore=((0.0, 30.0, 100.0, 70.0),))  # the band the object walks in
    script = {3: lambda c: c.simulate_motion(True)}
    changes, percents, _ = await watch(config, 20, script)
    assert changes == [] and max(percents) < 0.1, percents


def test_sensitivity_thresholds_and_ignored_rectangles():
    assert (threshold(1), threshold(50), threshold(100)) == (54.5, 30.0, 5.0)
    mask = watched_mask((100, 200), ((0.0, 0.0, 50.0, 10.0),))
    assert not mask[:10, :100].any() and mask[10:, :].all() and mask[:10, 100:].all()


@pytest.mark.parametrize(
    ("motion", "message"),
    [
        ({"ignore": [[0, 0, 100]]}, "motion.ignore[0] must be [x0, y0, x1, y1], each from 0 to 100"),
        ({"ignore": [[50, 0, 10, 20]]}, "motion.ignore[0] must have x1 > x0 and y1 > y0"),
        ({"sensitivity": 0}, "motion.sensitivity must be an integer from 1 to 100"),
        ({"fps": 60}, "motion.fps must be an integer from 1 to 30"),
    ],
)
def test_bad_motion_settings_name_the_key(motion, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_config({"motion": motion})


def test_a_gpio_trigger_may_not_take_the_motion_triggers_name():
    with pytest.raises(ValueError, match=r'triggers\[0\]\.name "motion" is the motion trigger'):
        parse_config({"motion": {"enabled": True}, "triggers": [{"name": "motion", "pin": 17}]})
