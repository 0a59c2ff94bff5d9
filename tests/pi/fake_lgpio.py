"""A stand-in for lgpio 0.2 (``python3-lgpio``), as far as gpiozero 2.0's ``LGPIOFactory`` uses it, over a fake /dev.

It fails as the real one does: ``gpiochip_open`` raises ``lgpio.error("can not open gpiochip")`` (lgpio's
``LG_CANNOT_OPEN_CHIP``, -78) whether ``/dev/gpiochipN`` is missing or forbidden: the real library opens it with
``open(O_RDWR)`` and keeps no errno. Edges reach callbacks as lgpio's notification thread delivers them:
``func(chip, gpio, level, tick)``, ``tick`` the kernel's event timestamp in ns (``CLOCK_MONOTONIC``: lgpio never
asks the kernel for the realtime clock). Install it as ``sys.modules["lgpio"]``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

# lgpio_extra.py's constants (lgpio 0.2.2.0).
SET_ACTIVE_LOW = 4
SET_OPEN_DRAIN = 8
SET_OPEN_SOURCE = 16
SET_PULL_UP = 32
SET_PULL_DOWN = 64
SET_PULL_NONE = 128
RISING_EDGE = 1
FALLING_EDGE = 2
BOTH_EDGES = 3
_GPIO_IS_OUTPUT = 1 << 1  # gpio_get_mode's bits, as gpiozero's LGPIOPin reads them
_GPIO_IS_PULL_UP = 1 << 5
_GPIO_IS_PULL_DOWN = 1 << 6


class error(Exception):
    """lgpio's exception: its value is the error's text, and str() is its repr, quotes and all."""

    def __init__(self, value: str) -> None:
        self.value = value

    def __str__(self) -> str:
        return repr(self.value)


class _Callback:
    def __init__(self, lines: FakeLgpio, chip: int, gpio: int, edge: int, func: Callable[..., None]) -> None:
        self._lines, self.chip, self.gpio, self.edge, self.func = lines, chip, gpio, edge, func

    def cancel(self) -> None:
        if self in self._lines.callbacks:
            self._lines.callbacks.remove(self)


class FakeLgpio(ModuleType):
    """The module, with one chip's lines; :meth:`edge` is the wire (and the kernel's timestamp of the change)."""

    def __init__(self, dev: Path) -> None:
        super().__init__("lgpio")
        self.dev = dev
        for name, value in globals().items():
            if name.isupper() and not name.startswith("_"):
                setattr(self, name, value)
        self.error = error
        self.levels: dict[int, int] = {}
        self.modes: dict[int, int] = {}
        self.callbacks: list[_Callback] = []

    def gpiochip_open(self, gpiochip: int) -> int:
        try:
            os.close(os.open(self.dev / f"gpiochip{gpiochip}", os.O_RDWR | os.O_CLOEXEC))
        except OSError:
            raise error("can not open gpiochip") from None
        return gpiochip << 16

    def gpiochip_close(self, handle: int) -> int:
        return 0

    def gpio_claim_input(self, handle: int, gpio: int, lFlags: int = 0) -> int:
        self.modes[gpio] = (_GPIO_IS_PULL_UP if lFlags & SET_PULL_UP else 0) | (
            _GPIO_IS_PULL_DOWN if lFlags & SET_PULL_DOWN else 0
        )
        if lFlags & (SET_PULL_UP | SET_PULL_DOWN):
            self.levels[gpio] = int(bool(lFlags & SET_PULL_UP))
        return 0

    def gpio_claim_output(self, handle: int, gpio: int, level: int = 0, lFlags: int = 0) -> int:
        self.modes[gpio] = _GPIO_IS_OUTPUT
        self.levels[gpio] = level
        return 0

    def gpio_claim_alert(self, handle: int, gpio: int, eFlags: int, lFlags: int = 0, notify_handle=None) -> int:
        return 0

    def gpio_free(self, handle: int, gpio: int) -> int:
        return 0

    def gpio_get_mode(self, handle: int, gpio: int) -> int:
        return self.modes.get(gpio, 0)

    def gpio_read(self, handle: int, gpio: int) -> int:
        return self.levels.get(gpio, 0)

    def gpio_write(self, handle: int, gpio: int, level: int) -> int:
        self.levels[gpio] = int(bool(level))
        return 0

    def gpio_set_debounce_micros(self, handle: int, gpio: int, debounce_micros: int) -> int:
        return 0

    def callback(self, handle: int, gpio: int, edge: int = RISING_EDGE, func: Callable[..., None] | None = None):
        assert func is not None, "gpiozero always passes its function"
        registered = _Callback(self, handle >> 16, gpio, edge, func)
        self.callbacks.append(registered)
        return registered

    def edge(self, gpio: int, level: int, timestamp_ns: int) -> None:
        """The wire on ``gpio`` changed to ``level`` at ``timestamp_ns``: report it as lgpio's thread does."""
        self.levels[gpio] = level
        wanted = RISING_EDGE if level else FALLING_EDGE
        for registered in list(self.callbacks):
            if registered.gpio == gpio and registered.edge & wanted:
                registered.func(registered.chip, gpio, level, timestamp_ns)
