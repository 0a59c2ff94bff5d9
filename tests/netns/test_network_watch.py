"""The network watch, run inside a namespace, sees what a Pi would see on a DHCP change or a link loss."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading

import pytest

WAIT_S = 5


@pytest.fixture
def watch(netns):
    """``python -m hw.network_watch`` in the namespace; yields a function returning its next line."""
    proc = subprocess.Popen(
        [*netns.exec_prefix, sys.executable, "-m", "hw.network_watch", "--debounce", "0.2", "--poll-interval", "30"],
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[dict] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(json.loads(line)) for line in proc.stdout], daemon=True).start()

    def next_line(timeout: float = WAIT_S) -> dict:
        return lines.get(timeout=timeout)

    try:
        assert next_line(30) == {"watching": "netlink"}
        yield next_line
        with pytest.raises(queue.Empty):
            next_line(0.5)  # nothing unaccounted for
    finally:
        proc.terminate()
        proc.wait(10)


def new_link(netns, watch):
    """A link with an address, once the watch has seen it usable (made in a few steps, so seen in one or two)."""
    (link,) = netns.add_links(1)
    while watch()["usable"] != [link.camera_address]:
        pass
    return link


def test_address_and_link_changes_are_seen_once_each(netns, watch):
    link = new_link(netns, watch)

    # A new lease: old removed, new added. One change, not two (debounced).
    old = link.camera_address
    netns.camera_readdress(link, link.address(77))
    assert watch() == {"change": f"+{link.address(77)}, -{old}", "usable": [link.address(77)]}

    netns.camera_link(link, up=False)
    assert watch() == {"change": f"{link.camera_if} down", "usable": []}
    netns.camera_link(link, up=True)
    assert watch() == {"change": f"{link.camera_if} up", "usable": [link.address(77)]}

    netns.remove_link(link)
    assert watch() == {"change": f"-{link.address(77)}", "usable": []}


def test_a_burst_of_changes_makes_one(netns, watch):
    link = new_link(netns, watch)
    for n in (10, 11, 12):
        netns.add_address(link, link.address(n))
    change = watch()
    assert change["change"] == ", ".join(f"+{link.address(n)}" for n in (10, 11, 12))
