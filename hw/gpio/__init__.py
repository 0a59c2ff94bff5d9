"""GPIO: digital inputs (a doorbell button, a PIR sensor) and one status LED.

Inputs report debounced level changes on the asyncio event loop, each stamped
with the monotonic time of the edge (the camera's clock), so that a recording
can start exactly ``pre_seconds`` before a press even though the report itself
is delayed by the debounce time.

One implementation (``hw.gpio.zero``) runs on gpiozero with its default pin
factory on a Pi (lgpio). Its simulated twin (``hw.gpio.simulated``) runs on
gpiozero's ``MockFactory``, and only it has :meth:`~hw.gpio.simulated.SimulatedGpio.drive`,
which plays the part of the wire (as only gpiozero's mock pins can be driven).
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Protocol

# (active, edge_time_us): called on the event loop.
ChangeHandler = Callable[[bool, int], None]


class GpioError(RuntimeError):
    """A pin cannot be used (busy, absent, no GPIO chip on this machine)."""


class GpioUnavailable(GpioError):
    """No pin can be used, for a cause that can be fixed while the daemon runs (its message names it and the fix).

    lgpio not installed, the GPIO chip not there or not to be opened by this user: see :mod:`hw.gpio.access`.
    """


class DigitalInput(Protocol):
    pin: int

    @property
    def active(self) -> bool:
        """The debounced logical level (polarity applied)."""

    def close(self) -> None:
        """Release the pin; no more changes are reported."""


class DigitalOutput(Protocol):
    pin: int

    def set(self, on: bool) -> None: ...

    def close(self) -> None:
        """Release the pin (it stops being driven)."""


class Gpio(abc.ABC):
    """A set of pins opened for the daemon; ``close()`` releases them all."""

    backend: str

    @abc.abstractmethod
    def add_input(
        self, pin: int, *, pull: str, active_high: bool, debounce_s: float, on_change: ChangeHandler
    ) -> DigitalInput:
        """Open ``pin`` (BCM number) as an input; must be called on the event loop."""

    @abc.abstractmethod
    def add_output(self, pin: int, *, active_high: bool) -> DigitalOutput:
        """Open ``pin`` as an output, initially off."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release every pin still open."""


def open_gpio(simulated: bool) -> Gpio:
    """gpiozero's default pin factory on a Pi, the simulated twin on its mock factory.

    Nothing touches the hardware until the first pin is opened.
    """
    if simulated:
        from hw.gpio.simulated import SimulatedGpio

        return SimulatedGpio()
    from hw.gpio.zero import GpiozeroGpio

    return GpiozeroGpio()
