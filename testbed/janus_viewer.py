"""A Chromium viewer of the WHIP rig's room (``testbed/whip_rig.py``): Debian's janus.js subscribing
to the room's publisher through Janus, as docs/whip.md's last section does by hand.

The page is served once from loopback (janus.js, webrtc-adapter and itself) and then needs no
server. It subscribes to the first publisher in the room (``listparticipants`` until there is
one, ``join`` as a subscriber, answer Janus's offer, ``start``) and plays it in ``<video
id="video">``, so :data:`testbed.browser.FRAME_CODE_JS` reads our camera's frame code from it.
While subscribed it checks every second that the feed is still published. When the Janus
session fails (Janus killed or restarted), the PeerConnection goes down or the feed is gone, it
drops everything and starts again a second later: after a Janus restart or a publisher's new
session, wait for ``subscriptions`` to grow, no reload needed.

``window.janusViewer`` (also ``window.edgeViewer``, so :data:`testbed.browser.STATS_JS` reads its
PeerConnection): ``state`` (``connecting``, ``waiting`` for a publisher, ``joining``, ``up``,
``retrying``), ``error`` (the last reason to start again), ``pc``, ``feed`` (the publisher's
id), ``subscriptions`` (times it was ``up``), ``frames`` (shown since then: counted by
``requestVideoFrameCallback``), ``events`` (the last 100 changes, for failure messages).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from testbed.janus import JANUS_JS
from testbed.whip_rig import WhipServer

ADAPTER_JS = Path("/usr/share/javascript/webrtc-adapter/adapter.min.js")  # libjs-webrtc-adapter

PAGE = """<!doctype html>
<html>
<head>
<meta charset="utf-8">
<title>Janus viewer</title>
<script src="adapter.js"></script>
<script src="janus.js"></script>
</head>
<body>
<video id="video" autoplay playsinline></video>
<script>
(() => {
  const params = new URLSearchParams(location.search);
  const server = params.get('server');
  const room = Number(params.get('room'));
  const video = document.getElementById('video');
  const viewer = {state: 'starting', error: null, pc: null, feed: null, subscriptions: 0, frames: 0, events: []};
  window.janusViewer = window.edgeViewer = viewer;
  let generation = 0;  // callbacks of an abandoned session see a newer one and do nothing

  function countFrame() {
    viewer.frames += 1;
    video.requestVideoFrameCallback(countFrame);
  }
  video.requestVideoFrameCallback(countFrame);

  function note(text) {
    viewer.events.push(`${(performance.now() / 1000).toFixed(3)} ${text}`);
    if (viewer.events.length > 100) viewer.events.shift();
  }
  function setState(state, detail) {
    viewer.state = state;
    note(detail ? `${state}: ${detail}` : state);
  }
  function publisherIn(response) {
    return ((response && response.participants) || []).find((p) => p.publisher) || null;
  }

  function connect() {
    const session = ++generation;
    const current = () => session === generation;
    const seen = new Set();
    const stream = new MediaStream();
    let handle = null;
    setState('connecting');
    const janus = new Janus({
      server: server,
      iceServers: [],
      success: () => current() && attach(),
      error: (e) => current() && retry(janus, `session: ${e}`),
      destroyed: () => current() && retry(janus, 'session destroyed'),
    });

    function attach() {
      janus.attach({
        plugin: 'janus.plugin.videoroom',
        success: (h) => {
          handle = h;
          setState('waiting');
          waitForPublisher();
        },
        error: (e) => current() && retry(janus, `attach: ${e}`),
        onmessage: (msg, jsep) => {
          if (!current()) return;
          if (msg.error) {
            retry(janus, `videoroom: ${msg.error}`);
            return;
          }
          if (!jsep) return;
          handle.createAnswer({
            jsep: jsep,
            tracks: [{type: 'data'}],  // audio and video are accepted as recvonly
            success: (answer) => {
              viewer.pc = handle.webrtcStuff.pc;
              handle.send({message: {request: 'start', room: room}, jsep: answer});
            },
            error: (e) => current() && retry(janus, `answer: ${e}`),
          });
        },
        onremotetrack: (track, mid, on) => {
          // janus.js reports each track twice: keep the first
          if (!current() || !on || seen.has(track.id)) return;
          seen.add(track.id);
          stream.addTrack(track);
          if (video.srcObject !== stream) video.srcObject = stream;
          note(`track ${track.kind} (mid ${mid})`);
        },
        webrtcState: (up, reason) => {
          if (!current()) return;
          if (!up) {
            retry(janus, `PeerConnection down${reason ? ': ' + reason : ''}`);
            return;
          }
          viewer.subscriptions += 1;
          viewer.frames = 0;
          setState('up', `feed ${viewer.feed}`);
          setTimeout(watch, 1000);
        },
      });
    }

    function listParticipants(then) {
      handle.send({
        message: {request: 'listparticipants', room: room},
        success: (response) => current() && then(response),
        error: (e) => current() && retry(janus, `listparticipants: ${e}`),
      });
    }

    function waitForPublisher() {
      listParticipants((response) => {
        const publisher = publisherIn(response);
        if (!publisher) {
          setTimeout(() => current() && waitForPublisher(), 200);
          return;
        }
        viewer.feed = publisher.id;
        setState('joining', `feed ${publisher.id}`);
        handle.send({message: {request: 'join', ptype: 'subscriber', room: room, streams: [{feed: publisher.id}]}});
      });
    }

    function watch() {
      if (!current()) return;
      listParticipants((response) => {
        const publisher = publisherIn(response);
        if (publisher && publisher.id === viewer.feed) setTimeout(watch, 1000);
        else retry(janus, `feed ${viewer.feed} is no longer published`);
      });
    }
  }

  function retry(janus, reason) {
    generation++;
    viewer.error = reason;
    viewer.pc = null;
    viewer.feed = null;
    video.srcObject = null;
    setState('retrying', reason);
    janus.destroy({cleanupHandles: true, notifyDestroyed: false});  // closes its PeerConnection
    setTimeout(connect, 1000);
  }

  Janus.init({debug: false, callback: connect});
})();
</script>
</body>
</html>
"""

# True once the page has shown a frame since its ``subscriptions``-th subscription.
VIDEO_JS = """
(subscriptions) => {
  const viewer = window.janusViewer;
  return viewer.state === 'up' && viewer.subscriptions >= subscriptions && viewer.frames > 0;
}
"""


SCRIPTS_RAN_JS = "() => typeof Janus === 'function' && window.janusViewer !== undefined"


def _serve_once(server_url: str, room: int) -> tuple[ThreadingHTTPServer, str]:
    """A loopback HTTP server for the page and its two scripts, and the page's URL."""
    files = {
        "/": (PAGE.encode(), "text/html; charset=utf-8"),
        "/janus.js": (JANUS_JS.read_bytes(), "text/javascript"),
        "/adapter.js": (ADAPTER_JS.read_bytes(), "text/javascript"),
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = files.get(self.path.split("?")[0])
            if found is None:
                self.send_error(404)
                return
            body, content_type = found
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, name="janus-viewer-page", daemon=True).start()
    query = urlencode({"server": server_url, "room": room})
    return server, f"http://127.0.0.1:{server.server_address[1]}/?{query}"


def open_janus_viewer(browser: Browser, rig: WhipServer, room: int | None = None) -> Page:
    """A new page subscribing to the publisher of ``room`` (default: the rig's) through the rig's Janus.

    Returns once the page has loaded; the subscription goes on in the page (see :func:`wait_for_video`).
    """
    for path in (JANUS_JS, ADAPTER_JS):
        if not path.exists():
            pytest.fail(f"{path} is missing: make test-deps installs it (docs/whip.md)")
    server, url = _serve_once(rig.janus_ws_url, rig.room if room is None else room)
    page = browser.new_page()
    try:
        # Loaded again until its scripts run: the rig's veth is a network change to Chromium,
        # which then aborts loads under way (ERR_NETWORK_CHANGED).
        for attempt in range(3):
            page.goto(url, wait_until="load")
            try:
                page.wait_for_function(SCRIPTS_RAN_JS, timeout=5000)
                break
            except PlaywrightTimeout:
                if attempt == 2:
                    raise
    finally:
        server.shutdown()
        server.server_close()
    return page


def viewer_state(page: Page) -> dict:
    """``window.janusViewer`` without its PeerConnection: for failure messages."""
    return page.evaluate("() => { const {pc, ...rest} = window.janusViewer; return rest; }")


def wait_for_video(page: Page, timeout: float = 20, subscriptions: int = 1) -> None:
    """Until the page has shown a frame of its ``subscriptions``-th subscription (or a later one).

    After a Janus restart, pass the ``subscriptions`` seen before it plus one.
    """
    try:
        page.wait_for_function(VIDEO_JS, arg=subscriptions, timeout=timeout * 1000, polling=100)
    except PlaywrightTimeout as error:
        state = json.dumps(viewer_state(page), indent=1)
        raise AssertionError(f"no video in the Janus viewer within {timeout} s: {error}\n{state}") from error
