"""What the camera says it is: ONVIF's device information, its scopes, its addresses."""

from __future__ import annotations

import re
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

from edge import __version__
from edge.addresses import WILDCARDS
from hw.host_addresses import Ipv4Interface, hardware_interfaces, ipv4_interfaces
from hw.platform import Platform

MANUFACTURER = "edge"
SIMULATED_MODEL = "simulated"
NOT_IN_A_SCOPE = re.compile(r"[^A-Za-z0-9._~-]+")  # what is not an unreserved URI character


@dataclass(frozen=True)
class Identity:
    model: str  # the Pi's model, or "simulated" off a Pi
    serial: str
    hostname: str
    audio: bool = False  # the media profile has an AAC audio encoder
    firmware: str = __version__
    manufacturer: str = MANUFACTURER

    @property
    def endpoint_reference(self) -> str:
        """WS-Discovery's stable address of this device: a UUID made from the serial number."""
        return uuid.uuid5(uuid.NAMESPACE_URL, f"edge-camera:{self.serial}").urn

    def scopes(self) -> list[str]:
        """ONVIF's discovery scopes: Profile S, video (and audio when there is), the camera's name and hardware."""
        return [
            "onvif://www.onvif.org/Profile/Streaming",
            "onvif://www.onvif.org/type/video_encoder",
            *(["onvif://www.onvif.org/type/audio_encoder"] if self.audio else []),
            f"onvif://www.onvif.org/name/{scope_segment(self.hostname)}",
            f"onvif://www.onvif.org/hardware/{scope_segment(self.model)}",
        ]


def scope_segment(text: str) -> str:
    """``text`` as one path segment of a scope, readable as it is: "Raspberry Pi 4 Model B" -> "Raspberry_Pi_4_Model_B".

    Home Assistant shows what follows the scope's last "/" without percent-decoding it, and
    scopes are separated by spaces: so neither is kept, nor anything else a URI would encode.
    """
    return NOT_IN_A_SCOPE.sub("_", text).strip("_") or "_"


def read_identity(audio: bool, platform: Platform | None = None) -> Identity:
    platform = platform or Platform()
    hostname = socket.gethostname()
    return Identity(
        model=platform.model or SIMULATED_MODEL,
        serial=platform.serial_number or hostname,
        hostname=hostname,
        audio=audio,
    )


def listed_interfaces(listen_host: str, sys_net: Path = Path("/sys/class/net")) -> list[Ipv4Interface]:
    """What GetNetworkInterfaces lists: the board's own network devices, whether connected or not.

    Home Assistant keys the camera on the MAC of the first interface listed (and its device
    on the last): listing the hardware interfaces by name, addresses or not, keeps both the
    same when Wi-Fi or a cable comes and goes. Where there are none (a container, a network
    namespace), or with ``[server] host`` naming one address, the served interfaces.
    """
    served = served_interfaces(listen_host)
    hardware = hardware_interfaces(sys_net)
    if listen_host not in WILDCARDS or not hardware:
        return served
    by_name = {interface.name: interface for interface in served}
    return [by_name.get(name, Ipv4Interface(name, mac, ())) for name, mac in hardware]


def served_interfaces(listen_host: str) -> list[Ipv4Interface]:
    """The interfaces clients can reach the HTTP server on: all with IPv4, or the one ``[server] host`` names."""
    interfaces = ipv4_interfaces()
    if listen_host in WILDCARDS:
        return interfaces
    return [
        Ipv4Interface(i.name, i.hardware_address, tuple(a for a in i.addresses if a[0] == listen_host))
        for i in interfaces
        if any(address == listen_host for address, _ in i.addresses)
    ]
