"""GPIO inputs as recording triggers, and the status LED that is lit while recording.

An ``event`` input records a clip around each activation; a ``hold`` input
records while it is active (and ``post_seconds`` after). Each change reaches the
recorder with the time of its edge, so the pre-roll is measured from the moment
of the press, not from when debouncing let it through.
"""

from __future__ import annotations

import logging

from edge.config import RecordingConfig, TriggerConfig
from edge.recording.recorder import Recorder
from hw.gpio import DigitalInput, Gpio, GpioError

log = logging.getLogger(__name__)


class GpioTriggers:
    def __init__(
        self, gpio: Gpio, triggers: tuple[TriggerConfig, ...], recording: RecordingConfig, recorder: Recorder
    ) -> None:
        self.gpio = gpio
        self._triggers = triggers
        self._led_pin = recording.led_pin
        self._led_active_high = recording.led_active == "high"
        self._recorder = recorder
        self._inputs: dict[str, DigitalInput] = {}
        self.errors: list[str] = []

    def start(self) -> None:
        """Open the pins (on the event loop). A pin that fails is reported; the others work."""
        for trigger in self._triggers:
            try:
                self._inputs[trigger.name] = self.gpio.add_input(
                    trigger.pin,
                    pull=trigger.pull,
                    active_high=trigger.active == "high",
                    debounce_s=trigger.debounce_ms / 1000,
                    on_change=lambda active, at_us, t=trigger: self._changed(t, active, at_us),
                )
            except GpioError as exc:
                self._fail(f'trigger "{trigger.name}": {exc}')
                continue
            if trigger.mode == "hold" and self._inputs[trigger.name].active:
                self._recorder.hold(trigger.name)  # held already at start-up
        if self._led_pin >= 0:
            try:
                led = self.gpio.add_output(self._led_pin, active_high=self._led_active_high)
            except GpioError as exc:
                self._fail(f"status LED: {exc}")
            else:
                led.set(self._recorder.recording)
                self._recorder.add_listener(led.set)

    def _fail(self, message: str) -> None:
        log.error("GPIO: %s", message)
        self.errors.append(message)

    def _changed(self, trigger: TriggerConfig, active: bool, at_us: int) -> None:
        log.info('trigger "%s" (GPIO%d) %s', trigger.name, trigger.pin, "active" if active else "inactive")
        if trigger.mode == "hold":
            if active:
                self._recorder.hold(trigger.name, at_us)
            else:
                self._recorder.release(trigger.name, at_us)
        elif active:
            self._recorder.event(trigger.name, at_us)

    def simulate(self, pin: int, active: bool) -> None:
        """Simulated hardware: as if the wire on ``pin`` changed. KeyError: no trigger on that pin."""
        if not any(t.pin == pin and t.name in self._inputs for t in self._triggers):
            raise KeyError(pin)
        self.gpio.drive(pin, active)

    def status(self) -> dict:
        return {
            "backend": self.gpio.backend,
            "simulated": self.gpio.simulated,
            "inputs": [
                {"name": t.name, "pin": t.pin, "mode": t.mode, "active": self._inputs[t.name].active}
                for t in self._triggers
                if t.name in self._inputs
            ],
            "led_pin": self._led_pin if self._led_pin >= 0 else None,
            "errors": self.errors,
        }

    def close(self) -> None:
        self.gpio.close()
