"""Reviewing clips on the page, as a phone and a laptop show it: posters, the 24-hour timeline,
playing a clip in place of the live view, the filter by trigger, the phone layout, accessibility.

Three clips from three triggers (a GPIO doorbell, motion, a manual recording) are made once for
the module. Screenshots of each layout and state go to ``$EDGE_SCREENSHOTS`` (default
``build/screenshots``); the README shows copies of them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from testbed.axe import violations
from testbed.browser import FRAME_CODE_JS
from testbed.clips import (
    CAMERA,
    drive,
    recordings_dir,
    simulate,
    wait_buffered,
    wait_finished,
    wait_for,
    wall_frame_codes,
)
from testbed.daemon import LOOPBACK_ONLY, DaemonProcess, start_daemon
from tests.test_browser_live import wait_live

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

SCREENSHOTS = Path(os.environ.get("EDGE_SCREENSHOTS", Path(__file__).resolve().parents[2] / "build" / "screenshots"))
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 768}
CONFIG = (
    CAMERA
    + """
[recording]
pre_seconds = 1
post_seconds = 1

[motion]
enabled = true
hold_seconds = 0.5

[[triggers]]
name = "doorbell"
pin = 17
"""
)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    """A daemon with three finished clips: doorbell, motion, manual (oldest first)."""
    d = start_daemon(LOOPBACK_ONLY + CONFIG, tmp_path_factory.mktemp("review"))
    try:
        wait_buffered(d, 1.5)
        drive(d, 17, True)
        wait_for(d.health, lambda h: h["recording"]["state"] == "recording", 10, "the doorbell's clip")
        drive(d, 17, False)  # held past the debounce time
        wait_finished(d, 1)
        simulate(d, "/api/sim/motion", {"active": True})
        wait_for(d.health, lambda h: h["motion"]["active"], 15, "motion to be seen")
        simulate(d, "/api/sim/motion", {"active": False})
        wait_finished(d, 2)
        d.request("POST", "/api/recordings", json={"seconds": 1.5}).raise_for_status()
        made = wait_finished(d, 3)
        assert [c["trigger"] for c in made] == ["doorbell", "motion", "manual"]
        yield d
    finally:
        d.stop()


def open_page(chromium, daemon: DaemonProcess, viewport: dict, **context_options):
    context = chromium.new_context(viewport=viewport, has_touch=viewport is PHONE, **context_options)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("requestfailed", lambda request: errors.append(f"{request.url}: {request.failure}"))
    page.goto(daemon.page_url)
    try:
        wait_live(page)
    except AssertionError as error:
        raise AssertionError(f"{error}; errors on the page: {errors}") from error
    page.wait_for_function("() => window.edgeRecordings && window.edgeRecordings.recording")
    return page


def open_clips(page) -> None:
    page.click("#recordings-toggle")
    page.wait_for_function("() => document.querySelectorAll('#rec-list li').length === 3")


def box(page, selector: str) -> dict:
    return page.locator(selector).bounding_box()


def assert_no_blocking_violations(page, state: str) -> None:
    found = violations(page)
    described = "; ".join(f"{v['impact']} {v['id']}: {v['help']} {v['nodes']}" for v in found)
    assert found == [], f"axe, {state}: {described}"


def frame_range(daemon: DaemonProcess, name: str) -> range:
    indexes = [index for index, _, _ in wall_frame_codes(recordings_dir(daemon) / name)]
    return range(indexes[0], indexes[-1] + 1)


def wait_playing(page, name: str) -> int:
    """Until the player shows ``name`` with a picture; the frame code of the picture shown."""
    page.wait_for_function(
        """(name) => { const v = document.querySelector('#rec-player video');
                       return window.edgeRecordings.playing === name && v.readyState >= 2 && v.currentTime > 0.2; }""",
        arg=name,
        timeout=15000,
    )
    return page.evaluate(FRAME_CODE_JS, "#rec-player video")["frameIndex"]


@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["phone", "laptop"])
def test_screenshots_and_accessibility_live_and_with_clips_open(chromium, daemon, viewport):
    page = open_page(chromium, daemon, viewport, color_scheme="dark")
    size = f"{viewport['width']}x{viewport['height']}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{size}-live.png"))
    assert_no_blocking_violations(page, f"{size} live")

    open_clips(page)
    background = page.eval_on_selector("#recordings", "e => getComputedStyle(e).backgroundColor")
    assert background == "rgb(20, 20, 20)", "the panel follows the system's dark setting"
    page.wait_for_function("() => [...document.querySelectorAll('#rec-list img')].every((i) => i.complete)")
    page.screenshot(path=str(SCREENSHOTS / f"{size}-clips.png"))
    assert_no_blocking_violations(page, f"{size} clips open")

    page.locator(".tl-mark").first.click()
    wait_playing(page, daemon.request("GET", "/api/recordings").json()[-1]["name"])
    page.screenshot(path=str(SCREENSHOTS / f"{size}-playing.png"))
    assert_no_blocking_violations(page, f"{size} clip playing")
    page.context.close()


def test_light_scheme_and_shortcut_list_pass_axe(chromium, daemon):
    page = open_page(chromium, daemon, PHONE, color_scheme="light")
    open_clips(page)
    background = page.eval_on_selector("#recordings", "e => getComputedStyle(e).backgroundColor")
    assert background == "rgb(250, 250, 250)", "the panel follows the system's light setting"
    assert_no_blocking_violations(page, "light, clips open")
    page.screenshot(path=str(SCREENSHOTS / "390x844-clips-light.png"))

    page.keyboard.press("?")
    assert page.is_visible("#shortcuts")
    listed = page.eval_on_selector_all("#shortcuts kbd", "keys => keys.map((k) => k.textContent)")
    assert {"m", "f", "s", "r", "l", "Esc", "?"} <= set(listed)
    assert_no_blocking_violations(page, "shortcut list")
    page.keyboard.press("Escape")
    assert not page.is_visible("#shortcuts")
    page.context.close()


def test_phone_layout_keeps_the_video_above_an_opaque_list(chromium, daemon):
    page = open_page(chromium, daemon, PHONE)
    open_clips(page)
    video, panel = box(page, "#video"), box(page, "#recordings")
    assert video["y"] == 0 and video["width"] == PHONE["width"] and video["height"] > 150
    assert video["y"] + video["height"] <= panel["y"], f"the list overlaps the video: {video} {panel}"
    assert panel["y"] + panel["height"] == PHONE["height"] and panel["width"] == PHONE["width"]
    alpha = page.eval_on_selector(
        "#recordings",
        """e => { const c = getComputedStyle(e).backgroundColor.match(/[\\d.]+/g).map(Number);
                  return c.length === 4 ? c[3] : 1; }""",
    )
    assert alpha == 1, "the list's background must be opaque"
    # The controls stay on the video, not over the list.
    controls = box(page, ".controls")
    assert controls["y"] + controls["height"] <= panel["y"]

    # A clip plays in place of the live video, above the list; "Back to live" is one tap.
    page.locator(".tl-mark").first.tap()
    page.wait_for_function("() => window.edgeRecordings.playing !== null")
    player = box(page, "#rec-player")
    assert player["y"] + player["height"] <= panel["y"] and player["height"] == video["height"]
    page.locator(".player-live").tap()
    assert not page.is_visible("#rec-player")
    before = page.evaluate(FRAME_CODE_JS)["frameIndex"]
    # Live again at once (the live session kept running: no new connection to wait for).
    page.wait_for_function(f"() => ({FRAME_CODE_JS})().frameIndex > {before + 10}", timeout=5000)

    # Turned to landscape: the list moves beside the video.
    page.set_viewport_size({"width": PHONE["height"], "height": PHONE["width"]})
    page.wait_for_function("() => document.getElementById('recordings').getBoundingClientRect().top === 0")
    video, panel = box(page, "#video"), box(page, "#recordings")
    assert video["x"] + video["width"] <= panel["x"] and video["height"] == panel["height"] == PHONE["width"]
    page.context.close()


def test_posters_timeline_marks_play_their_clip_and_the_filter(chromium, daemon):
    page = open_page(chromium, daemon, LAPTOP)
    open_clips(page)
    made = daemon.request("GET", "/api/recordings").json()  # newest first, as the page lists them
    assert page.eval_on_selector_all("#rec-list li", "items => items.map((li) => li.dataset.name)") == [
        c["name"] for c in made
    ]

    # Each poster: HTTP 200, a JPEG, and it decodes to the camera's size.
    for clip in made:
        response = page.request.get(daemon.url + clip["poster"])
        assert response.status == 200 and response.headers["content-type"] == "image/jpeg"
    sizes = page.evaluate(
        """() => Promise.all([...document.querySelectorAll('#rec-list img.rec-poster')].map(
                   async (img) => { await img.decode(); return [img.naturalWidth, img.naturalHeight]; }))"""
    )
    assert sizes == [[640, 360]] * 3

    # The timeline: one mark per clip; a tap on each plays that clip (its frame code is the clip's).
    marks = page.locator(".tl-mark")
    assert marks.count() == 3
    names = marks.evaluate_all("marks => marks.map((m) => m.dataset.name)")
    assert sorted(names) == sorted(c["name"] for c in made)
    for i, name in enumerate(names):
        marks.nth(i).click()
        code = wait_playing(page, name)
        assert code in frame_range(daemon, name), f"mark {i} played frame {code}, not one of {name}'s"
        assert page.get_attribute(f'#rec-list li[data-name="{name}"]', "aria-current") == "true"

    # Back to live from the keyboard.
    page.keyboard.press("l")
    page.wait_for_function("() => window.edgeRecordings.playing === null")
    assert not page.is_visible("#rec-player") and page.is_visible("#video")

    # The filter: each trigger shows its clip only, in the list and on the timeline; All shows all.
    for clip in made:
        page.click(f'.rec-chip[data-trigger="{clip["trigger"]}"]')
        shown = page.eval_on_selector_all("#rec-list li", "items => items.map((li) => li.dataset.name)")
        assert shown == [clip["name"]]
        assert page.locator(".tl-mark").evaluate_all("m => m.map((x) => x.dataset.name)") == [clip["name"]]
    page.click('.rec-chip[data-trigger=""]')
    assert page.locator("#rec-list li").count() == 3 and page.locator(".tl-mark").count() == 3
    page.context.close()


def test_keyboard_alone_opens_the_clips_and_plays_one(chromium, daemon):
    page = open_page(chromium, daemon, LAPTOP)
    page.keyboard.press("r")
    page.wait_for_function("() => document.querySelectorAll('#rec-list li').length === 3")
    newest = daemon.request("GET", "/api/recordings").json()[0]["name"]
    page.locator(f'#rec-list li[data-name="{newest}"] .rec-play').focus()
    ring = page.evaluate("() => (s => [s.outlineStyle, s.outlineWidth])(getComputedStyle(document.activeElement))")
    assert ring == ["solid", "3px"], "the focused control shows the page's focus ring (the browser's is 'auto')"
    page.keyboard.press("Enter")
    wait_playing(page, newest)
    assert page.evaluate("() => document.activeElement.classList.contains('player-live')")
    page.keyboard.press("m")  # the live sound stays off under the clip
    assert page.evaluate("() => document.getElementById('video').muted")
    page.keyboard.press("Escape")
    page.wait_for_function("() => window.edgeRecordings.playing === null")
    # Focus returns to the clip it came from.
    assert page.evaluate("() => document.activeElement.closest('li')?.dataset.name") == newest

    # A filter chosen by keyboard redraws the list and the chips, and the chip keeps the focus.
    page.locator('.rec-chip[data-trigger="motion"]').focus()
    page.keyboard.press("Enter")
    assert page.locator("#rec-list li").count() == 1
    focused = "() => [document.activeElement.dataset.trigger, document.activeElement.getAttribute('aria-pressed')]"
    assert page.evaluate(focused) == ["motion", "true"]
    page.keyboard.press("Shift+Tab")  # manual
    page.keyboard.press("Shift+Tab")  # doorbell
    page.keyboard.press("Shift+Tab")  # All
    page.keyboard.press("Enter")
    assert page.locator("#rec-list li").count() == 3 and page.evaluate(focused) == ["", "true"]

    # Esc closes the panel, and the focus goes to the button that opens it again.
    page.keyboard.press("Escape")
    assert not page.is_visible("#recordings")
    assert page.evaluate("() => document.activeElement.id") == "recordings-toggle"
    page.context.close()
