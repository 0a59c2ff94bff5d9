#!/usr/bin/python3
"""A WHEP viewer built on GStreamer's webrtcbin: an independent WebRTC stack.

    /usr/bin/python3 tests/players/webrtcbin_whep.py --url http://127.0.0.1:8080/whep \
        --token TOKEN --seconds 4

webrtcbin is the stack under ``whepsrc``, ``simple-whep-client`` and many NVR and
robotics pipelines: libnice for ICE, GStreamer's own DTLS (an RSA certificate) and
SRTP. Run with Debian's Python and its GStreamer bindings (``python3-gi``,
``gir1.2-gst-plugins-bad-1.0``), not the project's venv.

Offers recvonly H.264 video and Opus audio (ICE gathered first, no trickle, no
STUN), decodes both and prints one JSON line per event on stdout:

- ``{"event": "answer", "status": 201}``
- ``{"event": "frame", "width": W, "height": H, "band": BASE64}`` for each decoded
  picture; ``band`` is the top 16 rows of its luma plane (the frame code, read by
  the test with ``hw.camera.framecode``);
- ``{"event": "audio", "rms_db": [...]}`` per 100 ms of decoded audio;
- ``{"event": "state", "ice": ..., "connection": ...}`` on changes;
- ``{"event": "end", "reason": ...}`` last.

Stops ``--seconds`` after the first decoded picture (or after ``--timeout``), then
DELETEs the session. Host candidates are loopback only (``--local-address``):
the test's traffic never leaves this machine.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import sys
import threading
import urllib.error
import urllib.request
from urllib.parse import urljoin

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstSdp", "1.0")
gi.require_version("GstWebRTC", "1.0")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402

FRAME_CODE_ROWS = 16
VIDEO_CAPS = (
    "application/x-rtp,media=video,encoding-name=H264,payload=102,clock-rate=90000,"
    "packetization-mode=(string)1,profile-level-id=(string)42e01f"
)
AUDIO_CAPS = "application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000"


_stdout = threading.Lock()  # frames come from a streaming thread, the rest from the main loop


_ended = threading.Event()  # nothing is printed after "end": it is the last line


def emit(event: str, **fields) -> None:
    line = json.dumps({"event": event, **fields})
    with _stdout:
        if _ended.is_set():
            return
        if event == "end":
            _ended.set()
        print(line, flush=True)


class WhepViewer:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.loop = GLib.MainLoop()
        self.resource: str | None = None
        self.first_frame = False
        self.pipeline = Gst.Pipeline.new("viewer")
        self.webrtc = Gst.ElementFactory.make("webrtcbin", "webrtc")
        self.webrtc.set_property("bundle-policy", GstWebRTC.WebRTCBundlePolicy.MAX_BUNDLE)
        # Keep a Python reference for the pipeline's lifetime: PyGObject takes webrtcbin's
        # floating reference to its ICE agent, and would free the agent with the wrapper.
        self.ice_agent = self.webrtc.get_property("ice-agent")
        self.ice_agent.set_property("ice-tcp", False)
        self.ice_agent.emit("add-local-ip-address", args.local_address)
        self.pipeline.add(self.webrtc)
        for caps in (VIDEO_CAPS, AUDIO_CAPS):
            self.webrtc.emit(
                "add-transceiver", GstWebRTC.WebRTCRTPTransceiverDirection.RECVONLY, Gst.Caps.from_string(caps)
            )
        self.webrtc.connect("notify::ice-gathering-state", self.on_gathering_state)
        self.webrtc.connect("notify::ice-connection-state", self.on_state)
        self.webrtc.connect("notify::connection-state", self.on_state)
        self.webrtc.connect("pad-added", self.on_incoming_stream)
        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message", self.on_message)

    # --- signaling -------------------------------------------------------------

    def create_offer(self) -> bool:
        self.webrtc.emit("create-offer", None, Gst.Promise.new_with_change_func(self.on_offer_created))
        return False

    def on_offer_created(self, promise: Gst.Promise) -> None:
        reply = promise.get_reply()
        offer = reply.get_value("offer") if reply.has_field("offer") else None
        if offer is None:
            emit("error", message=f"webrtcbin made no offer: {reply.to_string()}")
            GLib.idle_add(self.stop, "error")
            return
        self.webrtc.emit("set-local-description", offer, Gst.Promise.new())

    def on_gathering_state(self, *_args) -> None:
        if self.webrtc.get_property("ice-gathering-state") == GstWebRTC.WebRTCICEGatheringState.COMPLETE:
            GLib.idle_add(self.post_offer)

    def post_offer(self) -> bool:
        offer = self.webrtc.get_property("local-description").sdp.as_text()
        request = urllib.request.Request(
            self.args.url,
            data=offer.encode(),
            method="POST",
            headers={"Content-Type": "application/sdp", "Authorization": f"Bearer {self.args.token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                answer = response.read().decode()
                self.resource = urljoin(self.args.url, response.headers["Location"])
                emit("answer", status=response.status)
        except urllib.error.HTTPError as error:
            emit("answer", status=error.code, reason=error.read().decode(errors="replace"))
            self.stop("offer rejected")
            return False
        _, message = GstSdp.SDPMessage.new_from_text(answer)
        description = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, message)
        self.webrtc.emit("set-remote-description", description, Gst.Promise.new())
        return False

    def delete_session(self) -> None:
        if self.resource:
            request = urllib.request.Request(
                self.resource, method="DELETE", headers={"Authorization": f"Bearer {self.args.token}"}
            )
            with contextlib.suppress(urllib.error.URLError, OSError):
                urllib.request.urlopen(request, timeout=5).close()

    def on_state(self, *_args) -> None:
        emit(
            "state",
            ice=self.webrtc.get_property("ice-connection-state").value_nick,
            connection=self.webrtc.get_property("connection-state").value_nick,
        )

    # --- media -------------------------------------------------------------------

    def on_incoming_stream(self, _element, pad: Gst.Pad) -> None:
        if pad.get_direction() != Gst.PadDirection.SRC:
            return
        decode = Gst.ElementFactory.make("decodebin")
        decode.connect("pad-added", self.on_decoded_pad)
        self.pipeline.add(decode)
        decode.sync_state_with_parent()
        pad.link(decode.get_static_pad("sink"))

    def on_decoded_pad(self, _decodebin, pad: Gst.Pad) -> None:
        caps = pad.get_current_caps() or pad.query_caps(None)
        if caps.get_structure(0).get_name().startswith("video"):
            description = "videoconvert ! video/x-raw,format=I420 ! appsink name=frames emit-signals=true sync=false"
        else:
            description = "audioconvert ! level interval=100000000 post-messages=true ! fakesink sync=false"
        branch = Gst.parse_bin_from_description(description, True)
        self.pipeline.add(branch)
        branch.sync_state_with_parent()
        pad.link(branch.get_static_pad("sink"))
        sink = branch.get_by_name("frames")
        if sink is not None:
            sink.connect("new-sample", self.on_frame)

    def on_frame(self, sink) -> Gst.FlowReturn:
        sample = sink.emit("pull-sample")
        structure = sample.get_caps().get_structure(0)
        width, height = structure.get_value("width"), structure.get_value("height")
        buffer = sample.get_buffer()
        ok, mapping = buffer.map(Gst.MapFlags.READ)
        if ok:
            band = bytes(mapping.data[: width * FRAME_CODE_ROWS])  # I420: luma rows first, stride = width
            buffer.unmap(mapping)
            emit("frame", width=width, height=height, band=base64.b64encode(band).decode())
        if not self.first_frame:
            self.first_frame = True
            GLib.timeout_add(int(self.args.seconds * 1000), self.stop, "done")
        return Gst.FlowReturn.OK

    def on_message(self, _bus, message: Gst.Message) -> None:
        if message.type == Gst.MessageType.ERROR:
            error, debug = message.parse_error()
            emit("error", message=error.message, debug=debug)
            self.stop("error")
        elif message.type == Gst.MessageType.ELEMENT:
            structure = message.get_structure()
            if structure and structure.get_name() == "level":
                emit("audio", rms_db=list(structure.get_value("rms")))

    # --- lifetime -----------------------------------------------------------------

    def stop(self, reason: str) -> bool:
        if self.loop.is_running():
            emit("end", reason=reason)
            self.loop.quit()
        return False

    def run(self) -> None:
        GLib.timeout_add(int(self.args.timeout * 1000), self.stop, "timeout")
        self.pipeline.set_state(Gst.State.PLAYING)
        GLib.idle_add(self.create_offer)
        try:
            self.loop.run()
        finally:
            self.pipeline.set_state(Gst.State.NULL)
            self.delete_session()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the WHEP endpoint")
    parser.add_argument("--token", default="", help="Bearer token")
    parser.add_argument("--seconds", type=float, default=4, help="how long to watch after the first picture")
    parser.add_argument("--timeout", type=float, default=60, help="give up after this long")
    parser.add_argument("--local-address", default="127.0.0.1", help="the only address ICE may use")
    args = parser.parse_args()
    Gst.init(None)
    WhepViewer(args).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
