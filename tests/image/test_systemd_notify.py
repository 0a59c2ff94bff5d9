"""edge.systemd against a real AF_UNIX datagram socket standing in for systemd."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge import systemd


def _receive(sock: socket.socket) -> str:
    sock.settimeout(2)
    data = sock.recv(4096)
    return data.decode()


@pytest.fixture
def path_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    address = str(tmp_path / "notify.sock")
    sock.bind(address)
    monkeypatch.setenv("NOTIFY_SOCKET", address)
    yield sock
    sock.close()


@pytest.fixture
def abstract_socket(monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    name = f"edge-test-notify-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
    yield sock
    sock.close()


def test_ready_on_path_socket(path_socket: socket.socket) -> None:
    assert systemd.notify_ready() is True
    assert _receive(path_socket) == "READY=1"


def test_ready_with_status(path_socket: socket.socket) -> None:
    assert systemd.notify_ready("listening on :8080")
    assert _receive(path_socket) == "READY=1\nSTATUS=listening on :8080"


def test_abstract_socket(abstract_socket: socket.socket) -> None:
    assert systemd.notify_ready() is True
    assert _receive(abstract_socket) == "READY=1"
    assert systemd.notify_watchdog() is True
    assert _receive(abstract_socket) == "WATCHDOG=1"


def test_each_message_kind(path_socket: socket.socket) -> None:
    assert systemd.notify_watchdog()
    assert _receive(path_socket) == "WATCHDOG=1"
    assert systemd.notify_stopping()
    assert _receive(path_socket) == "STOPPING=1"
    assert systemd.notify_stopping("bye")
    assert _receive(path_socket) == "STOPPING=1\nSTATUS=bye"
    assert systemd.notify_reloading()
    assert _receive(path_socket) == "RELOADING=1"


def test_status_is_kept_on_one_line(path_socket: socket.socket) -> None:
    assert systemd.notify_status("2 viewers\nrecording")
    assert _receive(path_socket) == "STATUS=2 viewers recording"


def test_notify_sends_lines_as_one_datagram(path_socket: socket.socket) -> None:
    assert systemd.notify("READY=1", "STATUS=ok", "MAINPID=42")
    assert _receive(path_socket) == "READY=1\nSTATUS=ok\nMAINPID=42"


def test_no_socket_is_a_quiet_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert systemd.notify_ready() is False
    assert systemd.notify_watchdog() is False
    assert systemd.notify_status("x") is False
    assert systemd.notify_stopping() is False


def test_empty_notify_sends_nothing(path_socket: socket.socket) -> None:
    assert systemd.notify() is False
    path_socket.setblocking(False)
    with pytest.raises(BlockingIOError):
        path_socket.recv(16)


@pytest.mark.parametrize("value", ["", "relative/path", "vsock:2:1234"])
def test_unsupported_addresses(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", value)
    assert systemd.notify_ready() is False


def test_missing_socket_file_returns_false(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone.sock"))
    assert systemd.notify_ready() is False


def test_watchdog_period_is_half_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert systemd.watchdog_period() == pytest.approx(15.0)


def test_watchdog_period_without_pid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert systemd.watchdog_period() == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("usec", "pid"),
    [
        (None, None),
        ("", None),
        ("0", None),
        ("-5", None),
        ("abc", None),
        ("30000000", "1"),  # meant for another process
        ("30000000", "nope"),
    ],
)
def test_watchdog_period_disabled(monkeypatch: pytest.MonkeyPatch, usec: str | None, pid: str | None) -> None:
    for name, value in (("WATCHDOG_USEC", usec), ("WATCHDOG_PID", pid)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert not (pid == "1" and os.getpid() == 1), "this case cannot be checked when pytest itself is PID 1"
    assert systemd.watchdog_period() is None
