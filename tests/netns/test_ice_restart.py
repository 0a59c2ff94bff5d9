"""The stream survives network changes: Chromium keeps its RTCPeerConnection and frames come back.

The daemon runs in a network namespace, Chromium on the host watches it through
a veth pair and reaches the page through a loopback forwarder that follows the
camera's address (the camera's mDNS name). Target: frames back within 1 s of
the new path being usable, never later than 2 s; ``bench/ice_restart.py``
measures it precisely. The bound asserted here is the 2 s one: this machine is
shared and loaded.
"""

from __future__ import annotations

import time
from itertools import pairwise

import pytest

from testbed.clips import assert_contiguous
from testbed.netns import scenarios

LIMIT_S = 2.0


@pytest.mark.parametrize("name", list(scenarios.SCENARIOS))
def test_frames_come_back_on_the_same_peer_connection(name, chromium, tmp_path):
    recovery = scenarios.run(name, chromium, tmp_path)
    assert recovery.same_pc and recovery.new_sessions == 0, f"{name}: fell back to a new session: {recovery}"
    assert recovery.seconds < LIMIT_S, f"{name}: frames came back {recovery.seconds:.2f} s after the path was usable"
    assert recovery.frames_after >= 20, f"{name}: the frame code hardly advances afterwards: {recovery}"
    if name != "link down 3 s, same address":  # that one may resume on the old path before the restart lands
        assert recovery.page_restarts >= 1 and recovery.server["recoveries"] >= 1, recovery
    assert recovery.server["restarts"] >= 1 and recovery.server["last_recovery_s"] is not None, recovery
    # The clip recorded across the change has every frame, and no gap longer than the viewer's outage.
    # (Capture gaps of up to ~0.3 s happen on this loaded machine with no network change at all.)
    frames = recovery.recording
    assert_contiguous(frames)
    gap = max(b[1] - a[1] for a, b in pairwise(frames))
    assert gap < recovery.outage_s, (
        f"{name}: the recording has a {gap:.3f} s gap, the outage was {recovery.outage_s:.3f} s"
    )


def test_a_new_address_is_announced_on_the_data_channel_and_taken_up_without_a_stall(chromium, tmp_path):
    """The path still works, so the daemon's notice arrives: the page restarts at once and is offered
    the new address."""
    rig = scenarios.Rig(chromium, tmp_path)
    try:
        link = rig.links[0]
        rig.netns.add_address(link, link.address(55))
        rig.page.wait_for_function("() => window.edgeViewer.iceRestarts >= 1", timeout=5000)
        assert rig.page.evaluate("window.edgeViewer.state") == "live"
        assert rig.page.evaluate("window.edgeViewer.pc.__original") is True
        # No stall as the page counts one (15 frame intervals, 0.5 s); shorter gaps come with load.
        assert rig.page.evaluate("window.edgeViewer.lastRecoveryMs") is None, "the page saw a stall"
        times = [t / 1000 for t, _ in rig.page.evaluate("window.__frames")]
        assert max(b - a for a, b in pairwise(times)) < 0.5, "the picture paused"
        remote = rig.page.evaluate(
            "async () => (await window.edgeViewer.pc.getStats()).values().filter((s) => s.type === 'remote-candidate')"
            ".map((s) => s.address).toArray()"
        )
        assert link.address(55) in remote
    finally:
        rig.close()


def test_in_a_hidden_tab_ice_disconnected_starts_the_restart(chromium, tmp_path):
    """A background tab presents no frames, so no stall is seen there: ICE 'disconnected' is the trigger."""
    rig = scenarios.Rig(chromium, tmp_path)
    try:
        rig.page.evaluate(
            """() => {
                Object.defineProperty(document, 'hidden', {get: () => true});
                const pc = window.edgeViewer.pc;
                window.__ice = [];
                pc.addEventListener('iceconnectionstatechange', () => window.__ice.push(pc.iceConnectionState));
            }"""
        )
        scenarios.camera_address_changes(rig)
        rig.page.wait_for_function("() => window.edgeViewer.iceRestarts >= 1", timeout=20000)
        assert rig.page.evaluate("window.__ice")[0] == "disconnected"
        assert (
            rig.page.evaluate("window.edgeViewer.pc.__original && window.edgeViewer.sessionsStarted")
            == rig.sessions_at_start
        )
    finally:
        rig.close()


def test_after_two_failed_restarts_the_page_starts_a_fresh_session(chromium, tmp_path):
    """A link down for 10 s outlasts two restarts (4 s each): the page falls back, and plays again after."""
    rig = scenarios.Rig(chromium, tmp_path)
    try:
        link = rig.links[0]
        down_at = time.time()
        rig.netns.camera_link(link, up=False)
        rig.page.wait_for_function("() => window.edgeViewer.pc.__original !== true", timeout=15000)
        gave_up_after = time.time() - down_at
        assert 8 < gave_up_after < 12, f"gave up {gave_up_after:.1f} s into the outage"
        assert any("giving up on this session" in line for line in rig.console), rig.console
        time.sleep(max(0.0, down_at + 10 - time.time()))  # the outage lasts 10 s
        rig.netns.camera_link(link, up=True)
        back_at = time.time()
        rig.page.wait_for_function("() => window.edgeViewer.state === 'live'", timeout=15000)
        assert rig.page.evaluate("window.edgeViewer.sessionsStarted") == rig.sessions_at_start + 1
        rig.page.wait_for_function(
            f"() => window.__frames.filter(([t]) => t / 1000 > {back_at}).length > 15", timeout=15000
        )
        frames = [i for t, i in rig.page.evaluate("window.__frames") if t / 1000 > back_at]
        assert frames[-1] > frames[0], "the new session's picture does not advance"
    finally:
        rig.close()
