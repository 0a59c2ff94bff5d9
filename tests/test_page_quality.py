"""The page's Auto / HD / SD in Chromium: the picture changes size in the same session, and a reload keeps the choice.

The camera is 1280x720 with its low stream at 640x360 (the default ``[camera.low]``).
"""

from __future__ import annotations

from testbed.axe import violations
from tests.test_browser_live import CAMERA_720P, open_viewer, stats, wait_for_stats, wait_live

SWITCH_S = 5.0  # from the click to frames of the other size (a keyframe asked of the other encoder: ~0.1 s)


def frame_size(page) -> tuple[int, int]:
    video = stats(page)["video"]
    return video["frameWidth"], video["frameHeight"]


def checked(page) -> str:
    return page.eval_on_selector("#quality input:checked", "input => input.value")


def stream_stat(page) -> str:
    """The statistics' Stream line, with an x for the multiplication sign."""
    return page.eval_on_selector('[data-stat="stream"]', "dd => dd.textContent").replace("\u00d7", "x")


def wait_for_size(page, width: int, height: int) -> None:
    def shown(s: dict) -> bool:
        return bool(s["video"]) and (s["video"].get("frameWidth"), s["video"].get("frameHeight")) == (width, height)

    wait_for_stats(page, shown, SWITCH_S)


def test_sd_hd_and_auto_switch_the_picture_and_a_reload_keeps_the_choice(chromium, daemon_factory):
    daemon = daemon_factory(CAMERA_720P)
    page = open_viewer(chromium, daemon)
    wait_live(page)
    wait_for_size(page, 1280, 720)
    assert checked(page) == "auto"
    page.keyboard.press("s")  # the statistics, where the stream and its reason show
    page.wait_for_function("() => window.edgeViewer.quality && window.edgeViewer.quality.stream === 'main'")
    assert stream_stat(page).startswith("HD 1280x720 · auto: ")
    found = violations(page, "#quality")
    assert found == [], f"axe: {found}"

    page.click('label[for="quality-low"]')
    wait_for_size(page, 640, 360)
    page.wait_for_function("() => window.edgeViewer.quality.stream === 'low'")
    assert stream_stat(page) == "SD 640x360 · chosen: SD"
    (session,) = daemon.health()["sessions"]
    assert session["quality"] == {"mode": "low", "stream": "low", "reason": "chosen: SD", "switches": 1}

    page.focus("#quality-low")
    page.keyboard.press("ArrowLeft")  # the keyboard moves along Auto, HD, SD
    assert checked(page) == "high"
    wait_for_size(page, 1280, 720)
    assert page.evaluate("window.edgeViewer.sessionsStarted") == 1, "switched in the same session"

    page.click('label[for="quality-low"]')
    wait_for_size(page, 640, 360)
    page.reload()
    wait_live(page)
    assert checked(page) == "low"
    wait_for_size(page, 640, 360)
    assert stats(page)["video"]["keyFramesDecoded"] >= 1
    sessions = daemon.health()["sessions"]
    assert [s["quality"]["mode"] for s in sessions] == ["low"], sessions
    page.context.close()
