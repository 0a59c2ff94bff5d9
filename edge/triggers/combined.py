"""Every trigger of the daemon as one: what the recorder's wiring made, for whoever follows them all."""

from __future__ import annotations

from collections.abc import Callable

from edge.triggers.gpio import GpioTriggers
from edge.triggers.motion import MotionTrigger, NoMotion
from edge.triggers.source import InputStatus


class Triggers:
    def __init__(self, gpio: GpioTriggers, motion: MotionTrigger | NoMotion) -> None:
        self.gpio = gpio
        self.motion = motion

    def inputs(self) -> list[InputStatus]:
        return self.gpio.inputs() + self.motion.inputs()

    def names(self) -> list[str]:
        """Every configured input, opened or not (known before the triggers start)."""
        return [*self.gpio.names, *self.motion.names]

    def add_listener(self, listener: Callable[[str, bool], None]) -> None:
        """``listener(name, active)`` hears each change of every input (MQTT, the pages)."""
        self.gpio.add_listener(listener)
        self.motion.add_listener(listener)
