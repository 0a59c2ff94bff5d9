"""The page: REC badge with the reason, simulated inputs as buttons, the clip list (play, delete), Record/Stop."""

from __future__ import annotations

import pytest

from testbed.clips import CAMERA, clips, wait_buffered, wait_for
from tests.test_browser_live import open_viewer

pytestmark = pytest.mark.timeout(120)

CONFIG = (
    CAMERA
    + """
[recording]
pre_seconds = 1
post_seconds = 1

[[triggers]]
name = "doorbell"
pin = 17
mode = "hold"

[[triggers]]
name = "motion"
pin = 27
pull = "down"
active = "high"
"""
)


def wait_js(page, expression: str, timeout_ms: int = 15000) -> None:
    page.wait_for_function(expression, timeout=timeout_ms)


def test_hold_a_simulated_input_then_play_and_delete_the_clip(daemon_factory, chromium, tmp_path):
    daemon = daemon_factory(CONFIG)
    wait_buffered(daemon, 2)
    page = open_viewer(chromium, daemon)
    wait_js(page, "() => window.edgeRecordings && window.edgeRecordings.gpio")
    page.click("#recordings-toggle")
    assert page.is_visible("#recordings")
    buttons = page.locator("#rec-inputs .rec-input")
    assert buttons.count() == 2 and buttons.nth(0).inner_text() == "doorbell · GPIO17"

    # Hold the simulated doorbell: the badge says what records and why.
    page.locator('[data-pin="17"]').hover()
    page.mouse.down()
    wait_js(page, "() => document.getElementById('rec-badge').textContent.includes('doorbell (held)')")
    assert page.is_visible("#rec-badge")
    # The trigger firing shows briefly on the live view; the camera told the page on its data channel.
    wait_js(page, "() => window.edgeRecordings.notices.includes('doorbell')")
    assert page.evaluate("() => window.edgeRecordings.flashes") == ["doorbell"]  # once, not again from the status
    assert page.text_content("#trigger-flash") == "⚡ doorbell"
    assert "doorbell" in page.text_content("#rec-announce")  # and a screen reader hears it
    wait_js(page, "() => document.querySelector('#rec-list li .rec-info')?.textContent === 'recording…'")
    page.screenshot(path=str(tmp_path / "recording.png"))
    page.mouse.up()
    wait_js(page, "() => window.edgeRecordings.clips.length === 1 && window.edgeRecordings.clips[0].complete")
    wait_js(page, "() => document.getElementById('rec-badge').hidden")
    # Its first picture shows in the list.
    wait_js(
        page,
        "() => (i => i && i.complete && i.naturalWidth === 640)(document.querySelector('#rec-list img.rec-poster'))",
    )

    # Play it in the page's player, then back to live.
    page.click("#rec-list li .rec-play")
    wait_js(
        page,
        """() => { const v = document.querySelector('#rec-player video');
                             return v.readyState >= 2 && v.currentTime > 1; }""",
    )
    page.screenshot(path=str(tmp_path / "player.png"))
    page.click("#rec-player .player-live")
    assert not page.is_visible("#rec-player")
    wait_js(page, "() => document.getElementById('trigger-flash').hidden")  # the flash was brief

    # Record / Stop by hand; the list shows the newest first.
    page.click("#rec-record")
    wait_js(page, "() => document.getElementById('rec-record').textContent === 'Stop'")
    page.click("#rec-record")
    wait_js(
        page, "() => window.edgeRecordings.clips.length === 2 && window.edgeRecordings.clips.every((c) => c.complete)"
    )
    names = page.eval_on_selector_all("#rec-list li", "items => items.map((li) => li.dataset.name)")
    assert names == [c["name"] for c in clips(daemon)] and names[0].endswith("_manual.mp4")

    # Delete the doorbell clip: gone from the list at once, and Undo brings it back.
    page.click(f'#rec-list li[data-name="{names[1]}"] .rec-delete')
    assert page.locator("#rec-list li").count() == 1 and page.is_visible("#rec-toast")
    assert "Deleted the doorbell clip" in page.inner_text("#rec-toast")
    page.click("#rec-toast .toast-undo")
    assert page.locator("#rec-list li").count() == 2 and not page.is_visible("#rec-toast")
    # The manual clip deleted and not undone: the camera deletes it a few seconds later. (A new
    # deletion first sends any still pending, so had Undo not cancelled the doorbell's, it would go too.)
    page.click(f'#rec-list li[data-name="{names[0]}"] .rec-delete')
    wait_for(lambda: clips(daemon), lambda c: len(c) == 1, 20, "the clip to be deleted")
    assert [c["name"] for c in clips(daemon)] == [names[1]]
    wait_js(page, "() => window.edgeRecordings.clips.length === 1")
    assert not page.is_visible("#rec-toast")
    page.screenshot(path=str(tmp_path / "list.png"))

    # Deleted, and the page closed before the undo time is over: the deletion still happens.
    page.click(f'#rec-list li[data-name="{names[1]}"] .rec-delete')
    page.close()
    wait_for(lambda: clips(daemon), lambda c: c == [], 5, "the deletion sent as the page closed")
    page.context.close()
