"""Watching from away over a VPN: Chromium plays the camera through a WireGuard tunnel that came up after the daemon.

The rig (``testbed/netns/vpn_rig.py``): the daemon in the camera's namespace
offers candidates on the tunnel's interface only; the tunnel's two ends are
``wireguard-go`` interfaces configured from ``docs/examples/wireguard-*.conf``,
the phone's end on the host, where Chromium runs. The daemon starts before the
camera's end exists (a Pi that boots before its VPN): its network watch sees the
tunnel's address come, and the page, opened at the camera's tunnel address,
plays video and sound over the tunnel.
"""

from __future__ import annotations

from bench.procstat import cpu_seconds
from testbed.browser import SELECTED_PAIR_JS, STATS_JS
from testbed.clips import wait_for
from testbed.netns.vpn_rig import VpnRig


def test_chromium_plays_through_a_tunnel_that_came_up_after_the_daemon(chromium, tmp_path):
    rig = VpnRig(tmp_path)
    try:
        assert rig.tunnel is not None
        camera, phone = rig.tunnel.camera, rig.tunnel.phone
        assert rig.status()["camera"]["state"] == "running"  # the Pi is up, its VPN not yet
        rig.camera_tunnel_up()
        network = wait_for(
            lambda: rig.status()["network"],
            lambda n: f"+{camera.address}" in (n["last_change"] or ""),
            15,
            "the network watch to see the tunnel's address",
        )
        assert network["backend"] == "netlink", network

        page = rig.open_page(chromium, camera.address)
        first_frame_ms = page.evaluate("window.edgeViewer.firstFrameAt")
        cpu_before = cpu_seconds(camera.pid) + cpu_seconds(phone.pid)
        stats = wait_for(
            lambda: page.evaluate(STATS_JS),
            lambda s: s["video"] and s["video"].get("framesDecoded", 0) >= 60,
            15,
            "60 frames decoded",
        )
        assert stats["video"]["mimeType"] == "video/H264"
        assert (stats["video"]["frameWidth"], stats["video"]["frameHeight"]) == (640, 360)
        page.click("#unmute")
        stats = wait_for(
            lambda: page.evaluate(STATS_JS),
            lambda s: s["audio"] and s["audio"].get("audioLevel", 0) > 0.03,
            15,
            "sound",
        )
        assert stats["audio"]["mimeType"] == "audio/opus"

        # Both ends of the media path are the tunnel's: Chromium's selected pair, and the camera's session.
        pair = page.evaluate(SELECTED_PAIR_JS)
        own, camera_seen = pair["local"]["address"], pair["remote"]["address"]
        assert own in ("", phone.address) and camera_seen == camera.address, (own, camera_seen)
        (session,) = rig.status()["sessions"]
        assert session["ice"]["local"].startswith(f"{camera.address}:"), session["ice"]
        # And the media came out of the tunnel at the phone's end: 60 frames of 640x360 and more.
        assert phone.received_bytes() > 100_000

        # Plain http over a VPN is not a secure context (docs/remote.md): no microphone for the page.
        assert page.evaluate("window.isSecureContext") is False
        frames = stats["video"]["framesDecoded"]
        wireguard_cpu = cpu_seconds(camera.pid) + cpu_seconds(phone.pid) - cpu_before
        print(
            f"first frame {first_frame_ms:.0f} ms after navigation; wireguard-go (both ends) used"
            f" {wireguard_cpu:.2f} s of CPU over {frames} frames"
        )
    finally:
        rig.close()
