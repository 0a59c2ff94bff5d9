"""The recorder as the config describes it, with every trigger that drives it: built here once.

Kept apart from ``recorder.py`` because the triggers call the recorder; the
daemon and the test rig both build theirs here, so the wiring exists once.
"""

from __future__ import annotations

from collections.abc import Callable

from edge.config import Config
from edge.media.audio import AudioHub
from edge.media.video import VideoHub
from edge.recording.recorder import Recorder
from edge.triggers import motion
from edge.triggers.combined import Triggers
from edge.triggers.gpio import GpioTriggers
from hw.camera import Camera
from hw.clock import monotonic_us
from hw.gpio import Gpio


def build_recorder(
    config: Config,
    video: VideoHub,
    audio: AudioHub | None,
    camera: Camera,
    gpio: Gpio,
    *,
    gpio_simulated: bool,
    clock: Callable[[], int] = monotonic_us,
) -> tuple[Recorder, Triggers]:
    """The recorder (clips under ``config.recording``'s path) and its triggers, none started yet.

    A trigger reaches the recorder up to its debounce (GPIO) or the pictures that
    confirm it (motion) after the moment it stands for, so the recorder waits for
    (and its ring keeps) the latest of them on top of its own margin.
    """
    recording = config.recording
    recorder = Recorder(
        video,
        audio,
        recording,
        recording.path(config.server.state_path),
        late_trigger_s=max([t.debounce_ms / 1000 for t in config.triggers] + [motion.lateness_s(config.motion)]),
        clock=clock,
    )
    gpio_triggers = GpioTriggers(gpio, config.triggers, recording, recorder, simulated=gpio_simulated)
    if config.motion.enabled:
        return recorder, Triggers(gpio_triggers, motion.MotionTrigger(config.motion, camera, recorder))
    return recorder, Triggers(gpio_triggers, motion.NoMotion())
