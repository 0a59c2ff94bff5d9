"""Debian's Firefox ESR as a viewer, driven by Mozilla's own Marionette client (marionette-driver).

Firefox plays H.264 in WebRTC only through Cisco's OpenH264 plugin, which it normally
downloads on first start. Tests never let it download: they give it the plugin that
``make test-deps`` builds into the venv (``<venv>/gmp-gmpopenh264/<version>``, from the
sources in ``testbed/firefox_openh264``), or the folder ``EDGE_FIREFOX_OPENH264`` names
(it ends in ``gmp-gmpopenh264/<version>``). Playwright's Firefox is a patched build that
cannot be installed here; Marionette drives the stock one.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from marionette_driver.marionette import Marionette
from marionette_driver.wait import Wait

from testbed.processes import free_port

FIREFOX = shutil.which("firefox-esr") or "/usr/bin/firefox-esr"
OPENH264_ENV = "EDGE_FIREFOX_OPENH264"

PREFS: dict[str, Any] = {
    "media.autoplay.default": 0,  # allowed, as a person's click would
    "media.autoplay.blocking_policy": 0,
    "browser.shell.checkDefaultBrowser": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    # The daemon offers only 127.0.0.1 in tests: let Firefox's ICE use loopback too.
    "media.peerconnection.ice.loopback": True,
    # The plugin the tests give it, or none: never download one.
    "media.gmp-manager.updateEnabled": False,
    "media.gmp-gmpopenh264.autoupdate": False,
}


# Firefox's own log (Marionette writes ./gecko.log otherwise): read it when a Firefox test fails.
GECKO_LOG = str(Path(tempfile.gettempdir()) / "edge-firefox-gecko.log")


# Where `make firefox-openh264` (part of `make test-deps`) builds the plugin: one <version> folder.
BUILT_OPENH264 = Path(sys.prefix) / "gmp-gmpopenh264"


def openh264_path() -> str:
    """The OpenH264 plugin folder for ``MOZ_GMP_PATH``: ``EDGE_FIREFOX_OPENH264``, else the one built in the venv."""
    path = os.environ.get(OPENH264_ENV)
    if path:
        if not os.path.isdir(path):
            raise RuntimeError(f"{OPENH264_ENV}={path} is not a folder (it ends in gmp-gmpopenh264/<version>)")
        return path
    built = sorted(BUILT_OPENH264.glob("*/libgmpopenh264.so"))
    if len(built) != 1:
        found = ", ".join(str(p.parent) for p in built) or "none"
        raise RuntimeError(
            f"Firefox needs one OpenH264 plugin in {BUILT_OPENH264}/<version> (found: {found}): "
            f"`make test-deps` builds it, or set {OPENH264_ENV} to a plugin folder"
        )
    return str(built[0].parent)


class FirefoxPage:
    """The one tab of a Firefox, with what tests need: navigate, run script, wait for a condition."""

    def __init__(self, marionette: Marionette) -> None:
        self.marionette = marionette

    def goto(self, url: str) -> None:
        self.marionette.navigate(url)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        return self.marionette.execute_script(f"return ({expression});", sandbox=None)

    def evaluate_async(self, body: str) -> Any:
        """Runs ``body``, an async function's body; its return value is the result."""
        return self.marionette.execute_async_script(
            f"const done = arguments[arguments.length - 1]; (async () => {{ {body} }})().then(done, (e) => done("
            "{error: String(e)}));",
            sandbox=None,
        )

    def wait_for(self, expression: str, timeout: float = 15, what: str = "") -> Any:
        """Until the expression is truthy in the page (polled, as Playwright's wait_for_function does)."""
        return Wait(self.marionette, timeout=timeout, interval=0.05).until(
            lambda m: m.execute_script(f"return ({expression});", sandbox=None),
            message=what or f"waiting for {expression}",
        )

    def click(self, selector: str) -> None:
        self.evaluate(f"document.querySelector({selector!r}).click()")


@contextmanager
def firefox(*, openh264: bool = True, mdns: bool = True, accept_insecure_certs: bool = False) -> Iterator[FirefoxPage]:
    """A fresh headless Firefox ESR (new profile). ``openh264=False``: a Firefox without H.264;
    ``mdns``: Firefox hides its host addresses behind mDNS names (its default) or not;
    ``accept_insecure_certs``: a self-signed certificate is taken as a person who accepted it once."""
    prefs = {**PREFS, "media.peerconnection.ice.obfuscate_host_addresses": mdns}
    saved = os.environ.get("MOZ_GMP_PATH")
    if openh264:
        os.environ["MOZ_GMP_PATH"] = openh264_path()  # read when Firefox starts (marionette copies the environment)
    else:
        prefs["media.gmp-gmpopenh264.enabled"] = False
        os.environ.pop("MOZ_GMP_PATH", None)
    marionette = Marionette(
        host="127.0.0.1",
        port=free_port(),
        bin=FIREFOX,
        headless=True,
        prefs=prefs,
        startup_timeout=90,
        gecko_log=GECKO_LOG,
    )
    try:
        marionette.start_session({"acceptInsecureCerts": accept_insecure_certs})
        marionette.timeout.script = 60
        yield FirefoxPage(marionette)
    finally:
        try:
            marionette.delete_session()
        finally:
            marionette.cleanup()
            if saved is None:
                os.environ.pop("MOZ_GMP_PATH", None)
            else:
                os.environ["MOZ_GMP_PATH"] = saved
