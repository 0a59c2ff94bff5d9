from __future__ import annotations

from collections.abc import Callable, Iterator
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


class Daemons:
    """Daemons started in one directory, each in a subdirectory of its own, all stopped at the end."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.started: list[DaemonProcess] = []

    def start(
        self, config_text: str = "", *, loopback_only: bool = True, state_from: DaemonProcess | None = None, **kwargs
    ) -> DaemonProcess:
        """Start a daemon; ``state_from`` reuses another's directory (a restart)."""
        directory = state_from.directory if state_from else self.directory / f"d{len(self.started)}"
        d = start_daemon((LOOPBACK_ONLY if loopback_only else "") + config_text, directory, **kwargs)
        self.started.append(d)
        return d

    def stop(self) -> None:
        for d in self.started:
            d.stop()


@pytest.fixture
def daemon_factory(tmp_path: Path) -> Iterator[Callable[..., DaemonProcess]]:
    daemons = Daemons(tmp_path)
    yield daemons.start
    daemons.stop()


@pytest.fixture(scope="module")
def module_daemon_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., DaemonProcess]]:
    """Daemons a module's tests share: for tests that change nothing another of them reads (a daemon
    costs about a second of CPU to start and stop). ``make test-fast``'s ``--dist worksteal`` hands
    each worker a run of tests in file order, so a module's tests mostly share one worker's daemon."""
    daemons = Daemons(tmp_path_factory.mktemp("module"))
    yield daemons.start
    daemons.stop()
