"""A viewer away from home: the daemon behind NAT A, Chromium behind NAT B, coturn on the internet between.

:class:`RemoteRig` builds the :class:`~testbed.netns.internet.Internet`, starts coturn at its public
address (``testbed/coturn.py``), the daemon in the camera's namespace (``turn_secret``: it mints TURN
REST credentials; the test CA for ``turns:``) and Chromium in the viewer's namespace, which opens the
page through NAT A's forwarded port and gets the TURN servers from the daemon, as any viewer does. The
page records every WHEP answer it receives (the POST's SDP, each PATCH's sdpfrag) and every presented
frame's frame code, so that tests can say which candidates the viewer was offered and when frames
stopped and came back.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import requests
from playwright.sync_api import Error as PlaywrightError

from testbed.browser import CHROMIUM, CHROMIUM_ARGS, SELECTED_PAIR_JS, STATS_JS, warm_up_webrtc
from testbed.certificates import spki_sha256
from testbed.coturn import Coturn
from testbed.daemon import DaemonProcess, start_daemon
from testbed.netns.internet import HTTP_PORT, Internet
from testbed.netns.scenarios import CAMERA, WATCH_FRAMES_JS, load_until_playing

# Every WHEP response's arrival (Date.now()), method, status and body, as the page received them: window.__whep.
RECORD_WHEP_JS = """
(() => {
  window.__whep = [];
  const fetch = window.fetch.bind(window);
  window.fetch = async (resource, init) => {
    const response = await fetch(resource, init);
    const url = String(resource instanceof Request ? resource.url : resource);
    if (url.includes('/whep')) {
      const method = (init && init.method) || 'GET';
      const status = response.status;
      response.clone().text().then((body) => window.__whep.push({at: Date.now(), method, status, body}));
    }
    return response;
  };
})();
"""

TURN_CREDENTIAL_LIFETIME_S = 3600


def chromium_in_namespace(playwright: Any, ns: str, directory: Path, trusted_spki: str | None = None) -> Any:
    """Debian's Chromium launched inside ``ns`` (Playwright drives it over a pipe, which crosses namespaces),
    trusting the certificate whose public key hash is ``trusted_spki`` (``testbed/certificates.py``), if given."""
    directory.mkdir(parents=True, exist_ok=True)
    wrapper = directory / "chromium-in-netns"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {ns} {CHROMIUM} "$@"\n')
    wrapper.chmod(0o755)
    # Chromium checks a turns: server's certificate against its own trust store, and refused the rig's
    # self-signed one (coturn logged each TLS handshake cut short): it trusts that one key, as a person's
    # browser that accepted the certificate would.
    trust = [f"--ignore-certificate-errors-spki-list={trusted_spki}"] if trusted_spki else []
    browser = playwright.chromium.launch(executable_path=str(wrapper), args=[*CHROMIUM_ARGS, *trust], headless=True)
    warm_up_webrtc(browser)
    return browser


class RemoteRig:
    def __init__(
        self,
        playwright: Any,
        tmp_path: Path,
        webrtc: str = "",
        viewer_tcp_ports: tuple[int, ...] = (),
        only_turn: str | None = None,
        at_home: bool = False,
    ) -> None:
        """``webrtc``: more ``[webrtc]`` lines for the daemon. ``viewer_tcp_ports``: NAT B lets out no UDP, only
        TCP to these ports of the TURN server (and to the camera's page). ``only_turn``: the daemon and the page
        are given only the TURN server's URL for this transport ("udp", "tcp" or "tls"), not all three.
        ``at_home``: Chromium runs on the camera's side of NAT A instead, and opens the page at the camera's
        own address (a viewer at home, for comparison)."""
        self.net = Internet()
        self.coturn: Coturn | None = None
        self._daemon: DaemonProcess | None = None
        self.browser = None
        self.console: list[str] = []  # the pages' messages, for failure reports
        try:
            if viewer_tcp_ports:
                self.net.viewer_tcp_only(viewer_tcp_ports)
            self.coturn = Coturn(self.net.internet, self.net.public_address, tmp_path / "coturn")
            urls = [self.coturn.urls_by_transport[only_turn]] if only_turn else self.coturn.urls
            config = (
                f'{CAMERA}[webrtc]\ninterfaces = ["{self.net.camera_if}"]\n'
                f"ice_servers = [{{ urls = {json.dumps(urls)} }}]\n"
                f'turn_secret = "{self.coturn.secret}"\nturn_credential_lifetime = {TURN_CREDENTIAL_LIFETIME_S}\n'
                f"{webrtc}[network]\ndebounce = 0.1\n"
            )
            self._daemon = start_daemon(
                config,
                tmp_path / "daemon",
                "--port",
                str(HTTP_PORT),
                prefix=self.net.exec_prefix(self.net.camera),
                host="0.0.0.0",
                env={"SSL_CERT_FILE": str(self.coturn.cert_file)},
            )
            viewer = self.net.add_lan_viewer() if at_home else self.net.viewer
            self.page_url = f"http://{self.net.camera_address}:{HTTP_PORT}" if at_home else self.net.camera_url
            self.browser = chromium_in_namespace(playwright, viewer, tmp_path, spki_sha256(self.coturn.cert_file))
            self.page = self.open_page()
            self.page.evaluate(WATCH_FRAMES_JS)
        except BaseException:
            self.close()
            raise

    def open_page(self) -> Any:
        """The page in a new browser context (no cache, no open connections), once it shows its first frame."""
        assert self.browser is not None, "launched in __init__"
        page = self.browser.new_context().new_page()
        page.on("console", lambda message: self.console.append(f"{time.time():.3f} {message.text}"))
        page.add_init_script(RECORD_WHEP_JS)
        try:
            load_until_playing(page, f"{self.page_url}/?token={self.daemon.token}")
        except PlaywrightError:
            state = page.evaluate("window.edgeViewer && [window.edgeViewer.state, window.edgeViewer.lastError]")
            raise AssertionError(f"the page did not play in 3 loads: {state}\n{self.failure_report()}") from None
        return page

    @property
    def daemon(self) -> DaemonProcess:
        assert self._daemon is not None, "started in __init__"
        return self._daemon

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """The daemon's HTTP API, reached from the host as the viewer reaches it (NAT A's forwarded port)."""
        kwargs.setdefault("timeout", 10)
        return requests.request(method, self.net.camera_url + path, **kwargs)

    def status(self) -> dict:
        return self.api("GET", "/api/status", headers=self.daemon.auth).json()

    def selected_pair(self) -> dict | None:
        return self.page.evaluate(SELECTED_PAIR_JS)

    def wait_for_stats(self, predicate: str, timeout_s: float = 20) -> dict:
        """Waits until the page's inbound RTP stats (``testbed/browser.py``'s STATS_JS) satisfy ``predicate``
        (JavaScript over ``s``) and returns them."""
        deadline = time.monotonic() + timeout_s
        while True:
            stats = self.page.evaluate(STATS_JS)
            if stats and self.page.evaluate(f"(s) => Boolean({predicate})", stats):
                return stats
            if time.monotonic() > deadline:
                raise AssertionError(f"stats never satisfied {predicate}: {stats}\n{self.failure_report()}")
            self.page.wait_for_timeout(200)

    def failure_report(self) -> str:
        coturn_log = self.coturn.log()[-2000:] if self.coturn else ""
        console = "\n".join(self.console[-30:])
        return f"page:\n{console}\ndaemon:\n{self.daemon.log()[-3000:]}\ncoturn:\n{coturn_log}"

    def close(self) -> None:
        if self.browser is not None:
            self.browser.close()
        if self._daemon is not None:
            self._daemon.stop()
        if self.coturn is not None:
            self.coturn.stop()
        self.net.close()
