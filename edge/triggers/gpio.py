"""GPIO inputs as recording triggers, and the status LED that is lit while recording.

An ``event`` input records a clip around each activation; a ``hold`` input
records while it is active (and ``post_seconds`` after). Each change reaches the
recorder with the time of its edge, so the pre-roll is measured from the moment
of the press, not from when debouncing let it through.

The pins are opened through a :class:`~hw.gpio.Gpio` that belongs to whoever
made it (the daemon, from ``edge.hardware``), who also closes it. When GPIO as a
whole cannot be used (lgpio missing, the chip not there or forbidden), the cause
is logged and shown as ``last_error``, and the pins are tried again with back-off
until they open: a udev rule or a module installed later takes effect without a
restart.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import TypedDict

from edge.backoff import Backoff
from edge.config import RecordingConfig, TriggerConfig
from edge.service import BackgroundTask
from edge.triggers.source import ClipRecorder, InputStatus
from hw.gpio import DigitalInput, DigitalOutput, Gpio, GpioError, GpioUnavailable

log = logging.getLogger(__name__)


class GpioStatus(TypedDict):
    backend: str
    simulated: bool
    inputs: list[InputStatus]
    led_pin: int | None
    errors: list[str]  # pins that cannot be had (busy, not a GPIO): not retried
    last_error: str | None  # why GPIO cannot be used at all, while it is retried


class GpioTriggers:
    """The GPIO inputs and the LED, as a service: started, the pins are open; stopped, closed."""

    name = "gpio triggers"

    def __init__(
        self,
        gpio: Gpio,
        triggers: tuple[TriggerConfig, ...],
        recording: RecordingConfig,
        recorder: ClipRecorder,
        *,
        simulated: bool,
        backoff: Backoff | None = None,
    ) -> None:
        """``simulated``: whether ``gpio`` is the simulated twin, as ``edge.hardware`` says (the status shows it).

        ``backoff``: the waits between attempts while GPIO is unavailable (1 s, doubling up to a minute).
        """
        self.gpio = gpio
        self._simulated = simulated
        self._triggers = triggers
        self._led_pin = recording.led_pin
        self._led_active_high = recording.led_active == "high"
        self._recorder = recorder
        self._inputs: dict[str, DigitalInput] = {}
        self._led: DigitalOutput | None = None
        self.errors: list[str] = []
        self.last_error: str | None = None
        self._given_up: set[int] = set()  # pins that failed for a reason of their own
        self._backoff = backoff or Backoff(1.0, 60.0)
        self._retry = BackgroundTask("GPIO retry")
        self._closed = False
        self._listeners: list[Callable[[str, bool], None]] = []
        self._events: dict[str, int] = {}  # activations per input, for the page's "trigger fired" flash

    def add_listener(self, listener: Callable[[str, bool], None]) -> None:
        """``listener(name, active)`` hears each debounced change of an input (MQTT publishes them)."""
        self._listeners.append(listener)

    @property
    def names(self) -> list[str]:
        return [t.name for t in self._triggers]

    async def start(self) -> None:
        """Open the pins (on the event loop). A pin that fails is reported; the others work.

        While GPIO as a whole is unavailable, the pins not open yet are tried again in the background.
        """
        self._open_pins()
        if self.last_error is not None:
            self._retry.start(self._retry_until_open())

    def _open_pins(self) -> None:
        """Open each pin that is neither open nor given up; ``last_error`` says why some could not be, or is None."""
        unavailable: str | None = None
        for trigger in self._triggers:
            if trigger.name in self._inputs or trigger.pin in self._given_up:
                continue
            try:
                self._inputs[trigger.name] = self.gpio.add_input(
                    trigger.pin,
                    pull=trigger.pull,
                    active_high=trigger.active == "high",
                    debounce_s=trigger.debounce_ms / 1000,
                    on_change=functools.partial(self._changed, trigger),
                )
            except GpioUnavailable as exc:
                unavailable = unavailable or f'trigger "{trigger.name}": {exc}'
                continue
            except GpioError as exc:
                self._give_up(trigger.pin, f'trigger "{trigger.name}": {exc}')
                continue
            if trigger.mode == "hold" and self._inputs[trigger.name].active:
                self._recorder.hold(trigger.name)  # held already at start-up
        if self._led_pin >= 0 and self._led is None and self._led_pin not in self._given_up:
            try:
                self._led = self.gpio.add_output(self._led_pin, active_high=self._led_active_high)
            except GpioUnavailable as exc:
                unavailable = unavailable or f"status LED: {exc}"
            except GpioError as exc:
                self._give_up(self._led_pin, f"status LED: {exc}")
            else:
                self._led.set(self._recorder.recording)
                self._recorder.add_listener(self._show_recording)
        if unavailable is not None and unavailable != self.last_error:
            log.error("GPIO: %s; trying again until it can be opened", unavailable)
        elif unavailable is None and self.last_error is not None:
            log.info("GPIO: the pins are open now (%s)", self.gpio.backend)
        self.last_error = unavailable

    async def _retry_until_open(self) -> None:
        while self.last_error is not None:
            await asyncio.sleep(self._backoff.next_delay())
            self._open_pins()

    def _give_up(self, pin: int, message: str) -> None:
        """``pin`` cannot be had for a reason of its own (busy, not a GPIO): reported, not retried."""
        log.error("GPIO: %s", message)
        self._given_up.add(pin)
        self.errors.append(message)

    def _show_recording(self, recording: bool) -> None:
        if self._led is not None and not self._closed:
            self._led.set(recording)

    def _changed(self, trigger: TriggerConfig, active: bool, at_us: int) -> None:
        if self._closed:
            return
        log.info('trigger "%s" (GPIO%d) %s', trigger.name, trigger.pin, "active" if active else "inactive")
        if active:
            self._events[trigger.name] = self._events.get(trigger.name, 0) + 1
        if trigger.mode == "hold":
            if active:
                self._recorder.hold(trigger.name, at_us)
            else:
                self._recorder.release(trigger.name, at_us)
        elif active:
            self._recorder.event(trigger.name, at_us)
        for listener in self._listeners:
            listener(trigger.name, active)

    def inputs(self) -> list[InputStatus]:
        return [
            {
                "name": t.name,
                "pin": t.pin,
                "mode": t.mode,
                "active": self._inputs[t.name].active,
                "events": self._events.get(t.name, 0),
            }
            for t in self._triggers
            if t.name in self._inputs
        ]

    def status(self) -> GpioStatus:
        return {
            "backend": self.gpio.backend,
            "simulated": self._simulated,
            "inputs": self.inputs(),
            "led_pin": self._led_pin if self._led_pin >= 0 else None,
            "errors": self.errors,
            "last_error": self.last_error,
        }

    async def stop(self) -> None:
        """Close the pins this opened (the Gpio itself belongs to whoever opened it)."""
        self._closed = True
        await self._retry.stop()
        for gpio_input in self._inputs.values():
            gpio_input.close()
        if self._led is not None:
            self._led.close()
