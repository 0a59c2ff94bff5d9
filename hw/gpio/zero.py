"""GPIO through gpiozero: its default pin factory on a Pi (``hw.gpio.simulated`` gives it mock pins).

gpiozero calls back on its own threads (lgpio's) or, for mock pins, in the
thread that drives the pin; either way the callback only stamps the time and
hands the edge to the event loop, where :class:`Debouncer` decides.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from gpiozero import LED, DigitalInputDevice
from gpiozero.pins import Factory

from hw.clock import monotonic_us
from hw.gpio import ChangeHandler, Gpio, GpioError
from hw.gpio.debounce import Debouncer


class _Input:
    def __init__(
        self,
        pin: int,
        active_high: bool,
        device: DigitalInputDevice,
        debouncer: Debouncer,
        release: Callable[[int], object],
    ) -> None:
        self.pin = pin
        self._release = release
        self.active_high = active_high
        self.device = device
        self.debouncer = debouncer

    @property
    def active(self) -> bool:
        return self.debouncer.level

    def close(self) -> None:
        self.debouncer.close()
        self.device.close()
        self._release(self.pin)


class _Output:
    def __init__(self, pin: int, led: LED, release: Callable[[int], object]) -> None:
        self.pin = pin
        self._led = led
        self._release = release

    def set(self, on: bool) -> None:
        if on:
            self._led.on()
        else:
            self._led.off()

    def close(self) -> None:
        self._led.close()
        self._release(self.pin)


class GpiozeroGpio(Gpio):
    """``factory``: a gpiozero pin factory, or None for gpiozero's default (lgpio on a Pi)."""

    def __init__(self, factory: Factory | None = None, clock: Callable[[], int] = monotonic_us) -> None:
        self._factory = factory
        self._clock = clock
        self.backend = "gpiozero"
        self._inputs: dict[int, _Input] = {}
        self._outputs: dict[int, _Output] = {}

    def add_input(
        self, pin: int, *, pull: str, active_high: bool, debounce_s: float, on_change: ChangeHandler
    ) -> _Input:
        loop = asyncio.get_running_loop()
        pull_up = {"up": True, "down": False, "none": None}[pull]
        try:
            device = DigitalInputDevice(
                pin, pull_up=pull_up, active_state=active_high if pull_up is None else None, pin_factory=self._factory
            )
        except Exception as exc:  # gpiozero's, lgpio's (not GPIOZeroError), OSError: a pin we cannot have
            raise GpioError(f"GPIO{pin}: {exc}") from exc
        # With a pull resistor gpiozero infers the polarity (pulled up: active low);
        # the config may say otherwise, so translate here.
        invert = pull_up is not None and pull_up == active_high
        debouncer = Debouncer(loop, debounce_s, device.is_active != invert, on_change)

        def edge(raw_active: bool) -> None:
            at_us = self._clock()
            if loop.is_closed():
                return
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: shutting down
                loop.call_soon_threadsafe(debouncer.edge, raw_active != invert, at_us)

        device.when_activated = lambda: edge(True)
        device.when_deactivated = lambda: edge(False)
        self._inputs[pin] = _Input(pin, active_high, device, debouncer, lambda pin: self._inputs.pop(pin, None))
        if self._factory is None:  # gpiozero chose its default factory with the first pin: name it
            self.backend = f"gpiozero ({type(device.pin_factory).__name__})"
        return self._inputs[pin]

    def add_output(self, pin: int, *, active_high: bool) -> _Output:
        try:
            led = LED(pin, active_high=active_high, initial_value=False, pin_factory=self._factory)
        except Exception as exc:
            raise GpioError(f"GPIO{pin}: {exc}") from exc
        self._outputs[pin] = _Output(pin, led, lambda pin: self._outputs.pop(pin, None))
        return self._outputs[pin]

    def close(self) -> None:
        pins: list[_Input | _Output] = [*self._inputs.values(), *self._outputs.values()]
        for pin in pins:
            pin.close()
