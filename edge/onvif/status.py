"""The ONVIF device's state, apart from the device (whose modules load WS-Discovery)."""

from __future__ import annotations

from enum import StrEnum
from typing import TypedDict


class OnvifState(StrEnum):
    STOPPED = "stopped"
    SERVING = "serving"


class DiscoveryState(StrEnum):
    OFF = "off"  # [onvif] discovery = false
    ANNOUNCING = "announcing"  # answering probes
    FAILED = "failed"  # could not start (the log says why)
    STOPPED = "stopped"


class OnvifStatus(TypedDict):
    state: OnvifState
    discovery: DiscoveryState
    discovery_addresses: list[str]  # where probes are answered
    subscriptions: int  # event pull points
