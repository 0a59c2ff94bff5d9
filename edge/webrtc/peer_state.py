"""aiortc's connection states, named once: what our sessions read from it.

aiortc reports them as plain strings (``RTCPeerConnection.connectionState``,
``RTCDtlsTransport.state``); these are its values, so a comparison is checked by the
type checker and a state aiortc renamed would fail ``tests/test_aiortc_ext.py``.
"""

from __future__ import annotations

from enum import StrEnum


class PeerConnectionState(StrEnum):
    NEW = "new"
    CONNECTING = "connecting"
    CONNECTED = "connected"  # aiortc has no "disconnected"
    FAILED = "failed"
    CLOSED = "closed"


# The states after which a peer connection carries nothing more.
ENDED = (PeerConnectionState.FAILED, PeerConnectionState.CLOSED)


class DtlsState(StrEnum):
    NEW = "new"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    CLOSED = "closed"
    FAILED = "failed"
