"""Simulated GPIO: gpiozero's mock pins, with :meth:`SimulatedGpio.drive` in place of the wire.

The daemon uses it off a Pi (or with ``--simulate``); the simulation API drives its
inputs as a button or a sensor would.
"""

from __future__ import annotations

from collections.abc import Callable

from gpiozero.pins.mock import MockFactory

from hw.clock import monotonic_us
from hw.gpio.zero import GpiozeroGpio


class SimulatedGpio(GpiozeroGpio):
    """``factory``: the mock factory whose pins these are (a new one by default; tests pass their own)."""

    def __init__(self, factory: MockFactory | None = None, clock: Callable[[], int] = monotonic_us) -> None:
        super().__init__(factory or MockFactory(), clock)
        self.backend = "simulated"

    def drive(self, pin: int, active: bool) -> None:
        """Set the input on ``pin`` as if its wire changed (polarity applied); KeyError: no input there."""
        gpio_input = self._inputs.get(pin)
        if gpio_input is None:
            raise KeyError(pin)
        mock_pin = gpio_input.device.pin
        if active == gpio_input.active_high:
            mock_pin.drive_high()
        else:
            mock_pin.drive_low()
