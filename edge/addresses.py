"""How the daemon names itself in the URLs it hands out (the page, RTSP, Home Assistant's link)."""

from __future__ import annotations

import socket

WILDCARDS = ("0.0.0.0", "::", "")


def url_host(host: str) -> str:
    """``host`` as a URL's host: the mDNS name for a wildcard listen address, IPv6 in brackets."""
    if host in WILDCARDS:
        return f"{socket.gethostname()}.local"
    return f"[{host}]" if ":" in host else host
