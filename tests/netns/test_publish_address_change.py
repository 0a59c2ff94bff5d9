"""Publishing survives the Pi's address changing: an ICE restart as the WHIP client (PATCH), in place,
so that Janus keeps the same publisher and its viewers keep watching. The time is measured in
``bench/publish.py``; the test allows a loaded machine more."""

from __future__ import annotations

import pytest

from testbed.browser import FRAME_CODE_JS
from testbed.clips import wait_for
from testbed.janus_viewer import open_janus_viewer, viewer_state, wait_for_video
from testbed.netns.publish import PublishingCamera

pytestmark = pytest.mark.timeout(180)


def test_publishing_recovers_in_place_when_the_cameras_address_changes(chromium, tmp_path):
    camera = PublishingCamera(tmp_path)
    try:
        before = camera.wait_publishing()
        assert camera.server is not None
        page = open_janus_viewer(chromium, camera.server)
        wait_for_video(page)
        subscriptions = viewer_state(page)["subscriptions"]

        usable_at = camera.change_address()
        after, seconds = camera.recovery(before, usable_at)
        print(f"publishing again {seconds:.2f} s after the new address was usable: {after}")
        assert after["ice_restarts"] == before["ice_restarts"] + 1, after  # in place, no new session
        assert after["sessions"] == before["sessions"] and after["local"].startswith(camera.link.camera_address)
        assert seconds < 5, f"{seconds:.2f} s\n{camera.daemon.log()[-3000:]}"

        # Janus kept the same publisher: the viewer's subscription goes on, with new frames.
        code = page.evaluate(FRAME_CODE_JS)["frameIndex"]
        wait_for(lambda: page.evaluate(FRAME_CODE_JS)["frameIndex"], lambda i: i > code + 30, 15, "new frames")
        assert viewer_state(page)["subscriptions"] == subscriptions
    finally:
        camera.close()
