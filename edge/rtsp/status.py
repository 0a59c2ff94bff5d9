"""The RTSP server's state, apart from the server (whose module needs GStreamer)."""

from __future__ import annotations

from enum import StrEnum
from typing import TypedDict


class RtspState(StrEnum):
    STARTING = "starting"
    SERVING = "serving"
    FAILED = "failed"  # could not listen: last_error says why


class RtspStatus(TypedDict):
    state: RtspState
    url: str
    low_url: str | None  # the low stream's (/camera/low); None when the camera makes none
    clients: int
    refused: int
    last_error: str | None
