"""Several sources of triggers as one, for whoever follows every trigger (the MQTT bridge)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class TriggerSource(Protocol):
    def status(self) -> dict: ...  # with "inputs": [{"name": ..., "active": ...}, ...]

    def add_listener(self, listener: Callable[[str, bool], None]) -> None: ...


class Triggers:
    def __init__(self, *sources: TriggerSource) -> None:
        self._sources = sources

    def status(self) -> dict:
        return {"inputs": [i for source in self._sources for i in source.status()["inputs"]]}

    def add_listener(self, listener: Callable[[str, bool], None]) -> None:
        for source in self._sources:
            source.add_listener(listener)
