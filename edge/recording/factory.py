"""The recorder as the config describes it, with the GPIO triggers and LED that drive it.

Kept apart from ``recorder.py`` because the triggers import the recorder; the
daemon and the test rig both build theirs here, so the wiring exists once.
"""

from __future__ import annotations

from collections.abc import Callable

from edge.config import Config, MotionConfig
from edge.media.audio import AudioHub
from edge.media.video import VideoHub
from edge.recording.recorder import Recorder
from edge.triggers.gpio import GpioTriggers
from edge.triggers.motion import START_PICTURES
from hw.clock import monotonic_us
from hw.gpio import Gpio


def motion_lateness_s(motion: MotionConfig) -> float:
    """How long after its first picture motion reaches the recorder: the pictures that confirm it,
    and a picture's time on a slow camera thread."""
    return (START_PICTURES + 1) / motion.fps if motion.enabled else 0.0


def build_recorder(
    config: Config,
    video: VideoHub,
    audio: AudioHub | None,
    gpio: Gpio,
    *,
    gpio_simulated: bool,
    clock: Callable[[], int] = monotonic_us,
) -> tuple[Recorder, GpioTriggers]:
    """The recorder (clips under ``config.recording``'s path) and its triggers, not started yet.

    A trigger reaches the recorder up to its debounce after the edge, so the
    recorder waits for (and its ring keeps) the longest debounce on top of its
    own margin.
    """
    recording = config.recording
    recorder = Recorder(
        video,
        audio,
        recording,
        recording.path(config.server.state_path),
        late_trigger_s=max([t.debounce_ms / 1000 for t in config.triggers] + [motion_lateness_s(config.motion)]),
        clock=clock,
    )
    return recorder, GpioTriggers(gpio, config.triggers, recording, recorder, simulated=gpio_simulated)
