"""When the current clip ends, from everything that asked for it.

Times are the camera's clock (monotonic microseconds): an input's edge time, a
request's arrival. An *event* (a doorbell press, a manual clip) records until
``at + after``; a *hold* (a PIR sensor that stays active, a held button) records
while it is held and for ``after`` more once released. Any request during a clip
extends that clip: it never starts a second file.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ClipPlan:
    held: dict[str, int] = field(default_factory=dict)  # name -> microseconds to add after its release
    until_us: int | None = None  # when the events (and released holds) run out
    names: list[str] = field(default_factory=list)  # who asked, in order, once each

    @property
    def active(self) -> bool:
        return bool(self.held) or self.until_us is not None

    @property
    def end_us(self) -> int | None:
        """The end of the clip as planned now; None while something is held (open-ended)."""
        return None if self.held else self.until_us

    def event(self, name: str, at_us: int, after_us: int) -> None:
        self._extend(at_us + after_us)
        self._named(name)

    def hold(self, name: str, after_us: int) -> None:
        self.held[name] = after_us
        self._named(name)

    def release(self, name: str, at_us: int) -> None:
        after_us = self.held.pop(name, None)
        if after_us is not None:
            self._extend(at_us + after_us)

    def _extend(self, until_us: int) -> None:
        self.until_us = until_us if self.until_us is None else max(self.until_us, until_us)

    def _named(self, name: str) -> None:
        if name not in self.names:
            self.names.append(name)

    def reset(self) -> None:
        self.held.clear()
        self.until_us = None
        self.names.clear()
