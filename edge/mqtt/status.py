"""The MQTT bridge's state, apart from the bridge (whose module loads an MQTT client)."""

from __future__ import annotations

from enum import StrEnum
from typing import TypedDict


class MqttState(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    ERROR = "error"  # retrying, with the reason in last_error


class MqttStatus(TypedDict):
    state: MqttState
    last_error: str | None
    broker: str
    topic_prefix: str


class Audience(TypedDict):
    """Who watches: the Viewers sensor's state is their sum, each count an attribute."""

    webrtc: int  # browsers and WHEP players
    rtsp: int  # RTSP clients (NVRs, Home Assistant's stream, VLC)
    publish: int  # WHIP targets being published to
