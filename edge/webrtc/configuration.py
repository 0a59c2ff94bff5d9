"""The peer connections' configuration: ICE servers, transport policy and bundling."""

from __future__ import annotations

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCIceServer, RTCIceTransportPolicy

from edge.config import IceServer


def rtc_configuration(
    ice_servers: tuple[IceServer, ...],
    bundle_policy: RTCBundlePolicy = RTCBundlePolicy.BALANCED,
    transport_policy: str = "all",
) -> RTCConfiguration:
    """Always explicit: ``RTCConfiguration()`` alone would use a public STUN server.

    ``transport_policy`` ``"relay"``: only relay candidates are gathered and offered.
    """
    return RTCConfiguration(
        iceServers=[RTCIceServer(**server) for server in ice_servers],
        iceTransportPolicy=RTCIceTransportPolicy(transport_policy),
        bundlePolicy=bundle_policy,
    )
