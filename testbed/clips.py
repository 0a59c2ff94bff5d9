"""Driving a real daemon's recordings from a test: simulated inputs, waiting for clips, reading them."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from hw.camera.framecode import capture_time_ms_near
from testbed.daemon import DaemonProcess
from testbed.media import decode_frame_codes

FPS = 30
T = TypeVar("T")

CAMERA = f"[camera]\nwidth = 640\nheight = 360\nframerate = {FPS}\nkeyframe_interval = 1\n"


def wait_for(fetch: Callable[[], T], predicate: Callable[[T], bool], timeout: float, what: str) -> T:
    """Poll ``fetch()`` every 100 ms until ``predicate`` holds; bounded."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if predicate(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; last: {value}")
        time.sleep(0.1)


def wait_buffered(daemon: DaemonProcess, seconds: float) -> None:
    """Until the pre-trigger buffer holds ``seconds`` (so a clip can have all its pre-roll)."""
    wait_for(daemon.health, lambda h: h["recording"]["buffer"]["seconds"] >= seconds, 30, f"{seconds} s buffered")


def simulate(daemon: DaemonProcess, path: str, body: dict) -> float:
    """POST to one of the simulated hardware's routes; returns the daemon's time of it (Unix seconds)."""
    response = daemon.request("POST", path, json=body)
    response.raise_for_status()
    return response.json()["at"]


def drive(daemon: DaemonProcess, pin: int, active: bool) -> float:
    """Press or release a simulated input; returns the daemon's time of it (Unix seconds)."""
    return simulate(daemon, f"/api/sim/gpio/{pin}", {"active": active})


def clips(daemon: DaemonProcess) -> list[dict]:
    response = daemon.request("GET", "/api/recordings")
    response.raise_for_status()
    return response.json()


def wait_finished(daemon: DaemonProcess, count: int = 1, timeout: float = 30) -> list[dict]:
    """The daemon's clips once ``count`` are finished, oldest first."""
    done = wait_for(
        lambda: clips(daemon),
        lambda c: len(c) >= count and all(x["complete"] for x in c),
        timeout,
        f"{count} finished clip(s)",
    )
    return list(reversed(done))


def play_in_the_recordings_panel(page, name: str) -> None:
    """Open the page's recordings, play the newest clip (``name``), until it is past its first second.

    ``page``: a :class:`testbed.firefox.FirefoxPage` or :class:`testbed.browser.ChromiumPage`."""
    page.wait_for("window.edgeRecordings && window.edgeRecordings.gpio", 20, what="the recordings panel")
    page.click("#recordings-toggle")
    page.wait_for("window.edgeRecordings.clips.some((c) => c.complete)", 20, what="the clip in the list")
    page.wait_for("document.querySelector('#rec-list li .rec-play') !== null", 10)
    page.click("#rec-list li .rec-play")
    page.wait_for(
        "(v => v && v.readyState >= 2 && v.currentTime > 1)(document.querySelector('#rec-player video'))",
        20,
        what=f"{name} to play",
    )


def recordings_dir(daemon: DaemonProcess) -> Path:
    return daemon.directory / "state" / "recordings"


def wall_frame_codes(path: Path) -> list[tuple[int, float, bool]]:
    """(frame index, capture time as Unix seconds, keyframe) of every frame of a clip."""
    now_ms = int(time.time() * 1000)
    return [(index, capture_time_ms_near(ms, now_ms) / 1000, key) for index, ms, key in decode_frame_codes(path)]


def assert_contiguous(codes: list) -> None:
    indexes = [c[0] for c in codes]
    assert indexes == list(range(indexes[0], indexes[0] + len(indexes))), "a frame is missing or repeated"
