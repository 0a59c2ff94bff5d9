"""GPIO through gpiozero: its default pin factory on a Pi (``hw.gpio.simulated`` gives it mock pins).

gpiozero calls back on its own threads (lgpio's) or, for mock pins, in the
thread that drives the pin; either way the callback only turns the edge's time
into the daemon's clock and hands the edge to the event loop, where
:class:`Debouncer` decides. lgpio's callbacks carry the kernel's timestamp of the
edge, so a callback that runs late (a busy thread) still reports when the wire
changed; other factories stamp in Python, so the time is taken there.

When gpiozero's default factory cannot be loaded (it tries every one and says
only "Unable to load any default pin factory!"), :mod:`hw.gpio.access` names the
real cause and the pin fails with :class:`~hw.gpio.GpioUnavailable`: worth
retrying once the cause is fixed.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from gpiozero import LED, InputDevice, PinFactoryFallback
from gpiozero.pins import Factory

from hw.clock import monotonic_us
from hw.gpio import ChangeHandler, Gpio, GpioError, GpioUnavailable
from hw.gpio.access import gpio_unavailable_reason
from hw.gpio.debounce import Debouncer

# Pin factories whose ``when_changed`` ticks are the time of the edge itself (lgpio: the kernel's event timestamp),
# by class name: importing them needs their hardware library.
_EDGE_TIMESTAMP_FACTORIES = frozenset({"LGPIOFactory"})
_Device = TypeVar("_Device", InputDevice, LED)


_WARNINGS_LOCK = threading.Lock()  # catch_warnings swaps process-wide state: one of ours at a time


@contextlib.contextmanager
def _catching_factory_fallbacks() -> Iterator[list[warnings.WarningMessage]]:
    """Catches gpiozero's ``PinFactoryFallback`` warnings (one per default factory it skips) raised within.

    They are for the error if no factory loads, and go nowhere else. Every other warning raised meanwhile (gpiozero's
    ``NativePinFactoryFallback``, or one from another thread while the warnings are caught: recording catches all) is
    shown as it would have been, once the block is over.
    """
    caught: list[warnings.WarningMessage] = []
    with _WARNINGS_LOCK:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", PinFactoryFallback)
                yield caught
        finally:  # the process's own warning setup is back: show the others there, whether make() worked or not
            for other in caught:
                if not issubclass(other.category, PinFactoryFallback):  # already filtered: shown, not warned again
                    warnings.showwarning(
                        other.message, other.category, other.filename, other.lineno, other.file, other.line
                    )


class _Input:
    def __init__(
        self,
        pin: int,
        active_high: bool,
        device: InputDevice,
        debouncer: Debouncer,
        on_change: Callable[[object, object], None],
        release: Callable[[int], object],
    ) -> None:
        self.pin = pin
        self._release = release
        self.active_high = active_high
        self.device = device
        self.debouncer = debouncer
        self.on_change = on_change  # gpiozero keeps only a weak reference to it

    @property
    def active(self) -> bool:
        return self.debouncer.level

    def close(self) -> None:
        self.debouncer.close()
        self.device.pin.when_changed = None
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
    """``factory``: a gpiozero pin factory, or None for gpiozero's default (lgpio on a Pi).

    ``root``: where ``/dev`` is, for finding out why the default factory fails (tests pass a fake tree).
    """

    def __init__(
        self, factory: Factory | None = None, clock: Callable[[], int] = monotonic_us, root: Path = Path("/")
    ) -> None:
        self._factory = factory
        self._clock = clock
        self._root = root
        self.backend = "gpiozero"
        self._inputs: dict[int, _Input] = {}
        self._outputs: dict[int, _Output] = {}

    def add_input(
        self, pin: int, *, pull: str, active_high: bool, debounce_s: float, on_change: ChangeHandler
    ) -> _Input:
        loop = asyncio.get_running_loop()
        pull_up = {"up": True, "down": False, "none": None}[pull]
        device = self._open(
            pin,
            lambda: InputDevice(
                pin, pull_up=pull_up, active_state=active_high if pull_up is None else None, pin_factory=self._factory
            ),
        )
        # The polarity is the config's, whatever gpiozero infers from the pull: the pin's level says it.
        debouncer = Debouncer(loop, debounce_s, bool(device.pin.state) == active_high, on_change)
        edge_time = self._edge_time(device.pin_factory)

        def changed(ticks: object, state: object) -> None:
            at_us = edge_time(ticks)
            if loop.is_closed():
                return
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: shutting down
                loop.call_soon_threadsafe(debouncer.edge, bool(state) == active_high, at_us)

        device.pin.edges = "both"
        gpio_input = _Input(pin, active_high, device, debouncer, changed, lambda pin: self._inputs.pop(pin, None))
        device.pin.when_changed = gpio_input.on_change
        self._inputs[pin] = gpio_input
        if self._factory is None:  # gpiozero chose its default factory with the first pin: name it
            self.backend = f"gpiozero ({type(device.pin_factory).__name__})"
        return gpio_input

    def _edge_time(self, factory: Factory) -> Callable[[object], int]:
        """The daemon's clock at an edge gpiozero reports with ``ticks`` (the factory's own time of it)."""
        if type(factory).__name__ not in _EDGE_TIMESTAMP_FACTORIES:
            return lambda ticks: self._clock()

        def from_ticks(ticks: object) -> int:
            age_s = factory.ticks_diff(factory.ticks(), ticks)  # how long ago the edge was, on the factory's clock
            return self._clock() - max(0, round(age_s * 1_000_000))

        return from_ticks

    def _open(self, pin: int, make: Callable[[], _Device]) -> _Device:
        """``make()`` the device for ``pin``, or raise the GpioError that says why it cannot be had."""
        with _catching_factory_fallbacks() as caught:
            try:
                return make()
            except Exception as exc:  # gpiozero's, lgpio's (not GPIOZeroError), OSError: a pin we cannot have
                if self._factory is None:
                    reason = gpio_unavailable_reason(self._root)
                    if reason is not None:
                        raise GpioUnavailable(f"GPIO{pin}: {reason}") from exc
                fallbacks: list[str] = [str(w.message) for w in caught if issubclass(w.category, PinFactoryFallback)]
                raise GpioError("; ".join([f"GPIO{pin}: {exc}", *fallbacks])) from exc

    def add_output(self, pin: int, *, active_high: bool) -> _Output:
        led = self._open(pin, lambda: LED(pin, active_high=active_high, initial_value=False, pin_factory=self._factory))
        self._outputs[pin] = _Output(pin, led, lambda pin: self._outputs.pop(pin, None))
        return self._outputs[pin]

    def close(self) -> None:
        pins: list[_Input | _Output] = [*self._inputs.values(), *self._outputs.values()]
        for pin in pins:
            pin.close()
