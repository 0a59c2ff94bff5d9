"""The peer connections' configuration: ICE servers and bundling."""

from __future__ import annotations

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCIceServer

from edge.config import IceServer


def rtc_configuration(
    ice_servers: tuple[IceServer, ...], bundle_policy: RTCBundlePolicy = RTCBundlePolicy.BALANCED
) -> RTCConfiguration:
    """Always explicit: ``RTCConfiguration()`` alone would use a public STUN server."""
    return RTCConfiguration(iceServers=[RTCIceServer(**server) for server in ice_servers], bundlePolicy=bundle_policy)
