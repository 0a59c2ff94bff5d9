from __future__ import annotations

from pathlib import Path

import pytest

from testbed.browser import CHROMIUM, CHROMIUM_ARGS, warm_up_webrtc
from testbed.daemon import LOOPBACK_ONLY, DaemonProcess, start_daemon

TESTS = Path(__file__).parent
# Whole files whose tests need root: network namespaces, chroots, mounts.
NEEDS_ROOT = ("netns/", "image/test_install_chroot.py", "image/test_check_whep.py", "publish/test_publish_")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tiers: ``browser`` (a real Chromium) and ``root`` are marked here, so that
    ``make test-fast`` can leave them out; ``make test`` runs everything."""
    for item in items:
        relative = item.path.relative_to(TESTS).as_posix()
        if "chromium" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
        if relative.startswith(NEEDS_ROOT):
            item.add_marker(pytest.mark.root)


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
