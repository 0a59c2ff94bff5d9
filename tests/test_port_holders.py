"""Who holds a TCP port, read from this machine's /proc: sockets this test opens and closes."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from hw.port_holders import PortHolder, PortUse, port_use


def listening(family: socket.AddressFamily, address: str) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.bind((address, 0))
    sock.listen()
    return sock


def test_a_listening_socket_is_held_by_this_process_by_name_and_pid():
    me = Path(f"/proc/{os.getpid()}/comm").read_text().strip()
    for family, address in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::")):
        with listening(family, address) as sock:
            port = sock.getsockname()[1]
            use = port_use(port)
            assert use is not None, f"{address} port {port} not seen"
            (holder,) = use.holders
            assert (holder.pid, holder.name) == (os.getpid(), me)
            assert holder.cmdline == tuple(Path("/proc/self/cmdline").read_text().split("\0")[:-1])
            assert str(use) == f"port {port} is in use (by {me}, pid {os.getpid()})"


def test_a_free_port_and_a_connected_one_are_not_in_use():
    with listening(socket.AF_INET, "127.0.0.1") as server:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            client_port = client.getsockname()[1]
            assert port_use(client_port) is None  # the client's end: connected, not listening
    assert port_use(port) is None  # closed


def test_in_use_by_a_process_that_cannot_be_seen():
    assert str(PortUse(8554, ())) == "port 8554 is in use"
    two = PortUse(8554, (PortHolder(1, "mediamtx", ()), PortHolder(2, "mediamtx", ())))
    assert str(two) == "port 8554 is in use (by mediamtx, pid 1, mediamtx, pid 2)"
