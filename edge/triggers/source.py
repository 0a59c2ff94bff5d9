"""What every trigger is to the rest of the daemon: it drives a recorder and reports its inputs."""

from __future__ import annotations

from collections.abc import Callable
from typing import NotRequired, Protocol, TypedDict


class ClipRecorder(Protocol):
    """What triggers need of the recorder (``edge.recording.recorder.Recorder``)."""

    @property
    def recording(self) -> bool: ...

    def event(self, name: str, at_us: int) -> None: ...

    def hold(self, name: str, at_us: int | None = None) -> None: ...

    def release(self, name: str, at_us: int) -> None: ...

    def add_listener(self, listener: Callable[[bool], None]) -> None: ...


class InputStatus(TypedDict):
    """One input of a trigger (a GPIO pin, the camera's motion) in ``/api/status``."""

    name: str
    mode: str  # "event" or "hold" (GPIO), "motion"
    active: bool
    events: int  # activations since start: the page flashes each new one
    pin: NotRequired[int]  # GPIO inputs


class TriggerSource(Protocol):
    """Inputs that change (GPIO pins, the camera's motion, all of them together)."""

    def inputs(self) -> list[InputStatus]: ...

    def add_listener(self, listener: Callable[[str, bool], None]) -> None:
        """``listener(name, active)`` hears each change of an input."""
