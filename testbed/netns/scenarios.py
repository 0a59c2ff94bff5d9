"""Network changes under a watching browser, and how long frames took to come back.

Shared by ``tests/netns/test_ice_restart.py`` (which asserts) and
``bench/ice_restart.py`` (which measures). A :class:`Rig` is the daemon in a
camera namespace (``CameraNamespace``), a loopback :class:`Forwarder` playing
its mDNS name, and a Chromium page on the host watching through it. Each
scenario makes one change and returns the wall-clock time at which the new
path was usable; :meth:`Rig.recovery` then reads the page's own log of
presented frames (frame index from the frame code, at each
``requestVideoFrameCallback``) to find when frames came back. A clip recorded
meanwhile shows whether the change disturbed the camera side at all.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import requests
from playwright.sync_api import Error as PlaywrightError

from testbed.browser import FRAME_CODE_JS
from testbed.clips import recordings_dir, wall_frame_codes
from testbed.daemon import DaemonProcess, start_daemon
from testbed.netns.forwarder import Forwarder
from testbed.netns.impair import Impairment
from testbed.netns.topology import CameraNamespace

CAMERA = "[camera]\nwidth = 640\nheight = 360\nframerate = 30\n"
OUTAGE_S = 3.0
GAP_S = 0.2  # a pause between presented frames this long is the outage (30 fps: 33 ms apart)

# Logs every presented frame as [Date.now(), frame index]; tags the peer connection.
WATCH_FRAMES_JS = """
() => {
  const video = document.getElementById('video');
  const read = READ_FRAME_CODE;
  window.__frames = [];
  const onFrame = () => {
    const code = read();
    if (code) window.__frames.push([Date.now(), code.frameIndex]);
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
  window.edgeViewer.pc.__original = true;
}
""".replace("READ_FRAME_CODE", FRAME_CODE_JS)


@dataclass
class Recovery:
    scenario: str
    seconds: float  # from the new path being usable to the first new frame presented
    outage_s: float  # the pause the viewer saw
    same_pc: bool
    new_sessions: int  # WHEP sessions the page started after the change (0: it never fell back to a fresh one)
    page_restarts: int
    server: dict  # the session's "ice" status in /api/status
    frames_after: int  # new frames presented in the second after recovery
    console: list[str]  # the page's console messages after the change
    recording: list[tuple[int, float, bool]] | None = None  # (index, capture time, key) of a clip made meanwhile


class Rig:
    def __init__(
        self,
        browser,
        tmp_path: Path,
        links: int = 1,
        impairment: Impairment | None = None,
        watch_js: str = WATCH_FRAMES_JS,
    ) -> None:
        """``impairment``: one link that delays and loses packets instead of ``links`` clean ones."""
        self.netns = CameraNamespace()
        self._daemon: DaemonProcess | None = None
        self._forwarder: Forwarder | None = None
        self.context = None
        try:
            if impairment is None:
                self.links = self.netns.add_links(links)
            else:
                self.links = [self.netns.add_impaired_link(impairment)]
            self._daemon = start_camera_daemon(self.netns, [link.camera_if for link in self.links], tmp_path)
            self._forwarder = Forwarder((self.links[0].camera_address, self._daemon.port))
            self.context = browser.new_context()
            self.page = self.context.new_page()
            self.console: list[str] = []  # the page's messages, for failure reports
            self.page.on("console", lambda message: self.console.append(f"{time.time():.3f} {message.text}"))
            self._load_page()
            self.sessions_at_start = self.page.evaluate("window.edgeViewer.sessionsStarted")
            self.page.evaluate(watch_js)
            # Watching for a while: trickle done, kept-alive HTTP connections closed (app.KEEPALIVE_S).
            self.page.wait_for_timeout(3000)
        except BaseException:
            self.close()
            raise

    def _load_page(self) -> None:
        load_until_playing(self.page, f"{self.forwarder.url}/?token={self.daemon.token}")

    def ice_status(self) -> dict:
        """The watching session's "ice" in /api/status (a spoilt start may have left another one pending)."""
        sessions = self._api("GET", "/api/status").json()["sessions"]
        return max(sessions, key=lambda session: session["video_frames_sent"])["ice"]

    def _api(self, method: str, path: str, **kwargs) -> requests.Response:
        response = requests.request(method, self.forwarder.url + path, headers=self.daemon.auth, timeout=5, **kwargs)
        response.raise_for_status()
        return response

    def metrics(self) -> str:
        """The daemon's ``GET /metrics`` (Prometheus text)."""
        return self._api("GET", "/metrics").text

    def start_recording(self) -> None:
        self._api("POST", "/api/recordings", json={"seconds": 60})

    def recorded_frames(self) -> list[tuple[int, float, bool]]:
        """Stops the clip; its frames once it is finished."""
        self._api("POST", "/api/recordings/stop")
        deadline = time.time() + 15
        while True:
            clips = self._api("GET", "/api/recordings").json()
            if clips and all(clip["complete"] for clip in clips):
                break
            if time.time() > deadline:
                raise AssertionError(f"the clip was not finished: {clips}")
            time.sleep(0.1)
        (clip,) = clips
        return wall_frame_codes(recordings_dir(self.daemon) / clip["name"])

    def selected_link(self):
        local = self.ice_status()["local"]
        return next(link for link in self.links if local.startswith(link.camera_address + ":"))

    def follow(self, address: str) -> None:
        """The camera's name now resolves to ``address``."""
        self.forwarder.target = (address, self.daemon.port)

    def recovery(self, scenario: str, changed_at: float, usable_at: float, timeout: float = 15) -> Recovery:
        """Wait for frames to come back after a change made at ``changed_at`` (wall clock)."""
        deadline = time.time() + timeout
        resumed = None
        while resumed is None and time.time() < deadline:
            self.page.wait_for_timeout(100)
            resumed = resumption(self.page.evaluate("window.__frames"), changed_at)
        if resumed is None:
            raise AssertionError(
                f"{scenario}: frames did not come back within {timeout} s\n{self.daemon.log()[-3000:]}"
            )
        self.page.wait_for_timeout(1000)
        frames = self.page.evaluate("window.__frames")
        paused_at, resumed_at = resumed
        index_then = max(i for t, i in frames if t <= resumed_at * 1000)
        hooks = self.page.evaluate(
            "({same: window.edgeViewer.pc.__original === true, sessions: window.edgeViewer.sessionsStarted,"
            " restarts: window.edgeViewer.iceRestarts})"
        )
        return Recovery(
            scenario=scenario,
            seconds=max(0.0, resumed_at - usable_at),
            outage_s=resumed_at - paused_at,
            same_pc=hooks["same"],
            new_sessions=hooks["sessions"] - self.sessions_at_start,
            page_restarts=hooks["restarts"],
            server=self.ice_status(),
            frames_after=frames[-1][1] - index_then,
            console=[line for line in self.console if float(line.split()[0]) >= changed_at],
        )

    @property
    def daemon(self) -> DaemonProcess:
        assert self._daemon is not None, "started in __init__"
        return self._daemon

    @property
    def forwarder(self) -> Forwarder:
        assert self._forwarder is not None, "started in __init__"
        return self._forwarder

    def close(self) -> None:
        if self.context is not None:
            self.context.close()
        if self._forwarder is not None:
            self._forwarder.close()
        if self._daemon is not None:
            self._daemon.stop()
        self.netns.close()


def start_camera_daemon(
    netns: CameraNamespace, interfaces: Iterable[str], tmp_path: Path, extra_config: str = ""
) -> DaemonProcess:
    """The daemon in ``netns`` on all its addresses, candidates on ``interfaces`` only, network changes seen at once."""
    offered = ", ".join(f'"{name}"' for name in interfaces)
    config = f"{CAMERA}[webrtc]\ninterfaces = [{offered}]\n[network]\ndebounce = 0.1\n{extra_config}"
    return start_daemon(config, tmp_path, prefix=netns.exec_prefix, host="0.0.0.0")


def load_until_playing(page, url: str, attempts: int = 3) -> None:
    """Open ``url`` until the page plays; again if its start was spoilt.

    Making links or tunnels changes the host's network, and Chromium aborts loads
    under way when that happens (ERR_NETWORK_CHANGED): a module or the first
    POST may be lost. Only what happens after a clean start is under test.
    """
    for attempt in range(attempts):
        # An aborted load leaves Chromium's error page, which reloads the page itself: wait for that too.
        with contextlib.suppress(PlaywrightError):
            page.goto(url)
        try:
            page.wait_for_function(
                "() => window.edgeViewer && window.edgeViewer.firstFrameAt !== null"
                " && window.edgeViewer.sessionsStarted === 1",
                timeout=12000,
            )
            return
        except PlaywrightError:  # no picture in time, or the page navigated meanwhile
            if attempt == attempts - 1:
                raise


def resumption(frames: list[list[int]], changed_at: float) -> tuple[float, float] | None:
    """(last frame before the pause, first frame after it), in seconds, for the first pause after the change."""
    after = [(t / 1000, i) for t, i in frames if t / 1000 >= changed_at - GAP_S]
    for (t0, i0), (t1, i1) in pairwise(after):
        if t1 - t0 >= GAP_S and i1 > i0:
            return t0, t1
    return None


# --- the scenarios: each makes its change and returns (changed_at, usable_at) ----------


def link_down_and_up(rig: Rig) -> tuple[float, float]:
    """The Pi's link goes down for 3 s and comes back with the same address."""
    link = rig.links[0]
    changed_at = time.time()
    rig.netns.camera_link(link, up=False)
    time.sleep(OUTAGE_S)
    rig.netns.camera_link(link, up=True)
    return changed_at, time.time()


def camera_address_changes(rig: Rig) -> tuple[float, float]:
    """The Pi's address changes (old removed, new added), as on a new DHCP lease."""
    link = rig.links[0]
    changed_at = time.time()
    rig.netns.camera_readdress(link, link.address(77))
    rig.follow(link.camera_address)
    return changed_at, time.time()


def link_in_use_goes_away(rig: Rig) -> tuple[float, float]:
    """The Pi has two links and the one in use goes away (the other was usable all along)."""
    gone = rig.selected_link()
    other = next(link for link in rig.links if link is not gone)
    changed_at = time.time()
    rig.netns.remove_link(gone)
    rig.follow(other.camera_address)
    return changed_at, changed_at


def viewer_address_changes(rig: Rig) -> tuple[float, float]:
    """The viewer's own address changes (the host's end of the link: where Chromium runs)."""
    link = rig.links[0]
    changed_at = time.time()
    rig.netns.host_readdress(link, link.address(99))
    return changed_at, time.time()


SCENARIOS: dict[str, tuple[int, Callable[[Rig], tuple[float, float]]]] = {
    "link down 3 s, same address": (1, link_down_and_up),
    "camera address changes": (1, camera_address_changes),
    "link in use goes away (2 links)": (2, link_in_use_goes_away),
    "viewer address changes": (1, viewer_address_changes),
}


def run(name: str, browser, tmp_path: Path) -> Recovery:
    """The scenario, with a clip being recorded across the change."""
    links, change = SCENARIOS[name]
    rig = Rig(browser, tmp_path, links)
    try:
        rig.start_recording()
        changed_at, usable_at = change(rig)
        recovery = rig.recovery(name, changed_at, usable_at)
        recovery.recording = rig.recorded_frames()
        return recovery
    finally:
        rig.close()
