"""WS-Discovery when the kernel or the address watch fails it: the rest carries on, and the log says so.

The socket is a real one on loopback (the event loop reads it); what would multicast (group
membership, Hello, Bye) is recorded instead of sent, so nothing leaves this machine.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import os
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from edge.onvif import discovery as discovery_module
from edge.onvif.discovery import MREQN, Discovery, Link
from edge.onvif.identity import Identity
from edge.onvif.status import DiscoveryState

LINKS = {
    1: Link("eth0", 1, (ipaddress.IPv4Interface("192.0.2.2/24"),)),
    2: Link("wlan0", 2, (ipaddress.IPv4Interface("198.51.100.2/24"),)),
}


class GroupsRecorded(socket.socket):
    """Joins on the interfaces in ``full`` fail as past ``igmp_max_memberships`` (ENOBUFS); sends are recorded."""

    def __init__(self) -> None:
        super().__init__(socket.AF_INET, socket.SOCK_DGRAM)
        self.full: set[int] = set()
        self.sent: list[bytes] = []
        self.joined: list[int] = []
        self.bind(("127.0.0.1", 0))
        self.setblocking(False)

    def setsockopt(self, level: int, option: int, value: Any, *rest: Any) -> None:  # type: ignore[override]
        if option == socket.IP_ADD_MEMBERSHIP:
            index = MREQN.unpack(value)[2]
            if index in self.full:
                raise OSError(errno.ENOBUFS, os.strerror(errno.ENOBUFS))
            self.joined.append(index)
        elif option not in (socket.IP_DROP_MEMBERSHIP, socket.IP_MULTICAST_IF):
            super().setsockopt(level, option, value, *rest)

    def sendto(self, data: Any, *rest: Any) -> int:  # type: ignore[override]
        self.sent.append(bytes(data))
        return len(data)


class BrokenWatch:
    async def changes(self) -> AsyncIterator[None]:
        raise RuntimeError("the watch broke")
        yield  # an async generator


@pytest.fixture
def recorded(monkeypatch) -> GroupsRecorded:
    sock = GroupsRecorded()
    monkeypatch.setattr(discovery_module, "open_socket", lambda address="": sock)  # the unicast one and the group's
    monkeypatch.setattr(discovery_module, "served_links", lambda host: dict(LINKS))
    return sock


def discovery() -> Discovery:
    return Discovery(Identity("simulated", "serial-1", "cam"), "0.0.0.0", "http", lambda: 8080, instance_id=1)


async def test_an_interface_whose_group_join_fails_is_not_counted_as_served(recorded, monkeypatch, caplog):
    monkeypatch.setattr(discovery_module, "open_netwatch", lambda *args: None)
    recorded.full = {2}
    served = discovery()
    await served.start()
    try:
        assert recorded.joined == [1]
        assert served.addresses == ["192.0.2.2"], "only where probes can arrive"
        assert sum(b"Hello" in message for message in recorded.sent) == 1, "Hello only where it joined"
        assert "cannot listen on wlan0" in caplog.text
        assert any(record.levelno == logging.WARNING for record in caplog.records)
    finally:
        await served.stop()


async def test_a_broken_address_watch_is_logged_and_stop_still_says_bye(recorded, monkeypatch, caplog):
    monkeypatch.setattr(discovery_module, "open_netwatch", lambda *args: BrokenWatch())
    served = discovery()
    await served.start()
    assert served._watching is not None
    await asyncio.wait([served._watching])
    assert "no longer follows address changes" in caplog.text
    await served.stop()
    assert served.state is DiscoveryState.STOPPED
    assert sum(b"Bye" in message for message in recorded.sent) == 2, "a Bye on each interface"
    assert recorded.fileno() == -1, "the socket is closed"
