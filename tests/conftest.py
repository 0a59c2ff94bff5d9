from __future__ import annotations

import pytest

from tests.browser import CHROMIUM, CHROMIUM_ARGS, warm_up_webrtc
from tests.daemon import LOOPBACK_ONLY, DaemonProcess, start_daemon


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        warm_up_webrtc(browser)
        yield browser
        browser.close()


@pytest.fixture
def daemon_factory(tmp_path):
    started: list[DaemonProcess] = []

    def start(
        config_text: str = "", *, loopback_only: bool = True, state_from: DaemonProcess | None = None, **kwargs
    ) -> DaemonProcess:
        """Start a daemon; ``state_from`` reuses another's directory (a restart)."""
        directory = state_from.directory if state_from else tmp_path / f"d{len(started)}"
        d = start_daemon((LOOPBACK_ONLY if loopback_only else "") + config_text, directory, **kwargs)
        started.append(d)
        return d

    yield start
    for d in started:
        d.stop()
