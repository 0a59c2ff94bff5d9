"""The RTSP server: gst-rtsp-server through PyGObject, fed with the camera's H.264 and the microphone's sound.

One shared media per path: ``/camera`` sends the camera's main stream, ``/camera/low``
(mounted only when the camera makes one) its small low stream, for an NVR's detection;
every client of a path gets the same RTP streams, over UDP or interleaved in the RTSP
connection (TCP). A media's pipeline starts at ``appsrc`` elements: while the media exists
(from its first client to its last), one consumer queue of its stream and one of the
microphone feed them from the asyncio loop (pushing to an ``appsrc`` is thread-safe). The
camera's H.264 goes as it is, keyframes asked of that stream's encoder only; the sound
(``[rtsp] audio``) as AAC-LC, encoded once for both paths from the microphone's PCM
(:mod:`edge.rtsp.shared_aac`; RFC 3640 ``mpeg4-generic``, what ffmpeg, Home Assistant and
NVRs read, by ``rtpmp4gpay``), or as the hub's Opus packets. Buffer times are the capture times mapped
onto the pipeline's running time through its clock, buffer by buffer, so audio and video
stay in step. GStreamer's own main loop runs on a thread of its own; what it tells the
daemon (a client plays) goes to the asyncio loop with ``call_soon_threadsafe``.

Clients log in with RTSP Basic auth: user ``edge``, the access token as password;
wrong passwords count per address in a :class:`FailureLimiter` (five a minute).
Connections are let in by :class:`Listener` up to ``[rtsp] max_clients`` (in all) and
``max_clients_per_address``; one that has not been answered a DESCRIBE or a SETUP (which
needs the password when auth is on) within ``HANDSHAKE_S`` is closed. Floods are
logged once per burst (:mod:`edge.rtsp.bursts`), asyncio's accept failures included.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol, TypeVar

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gio, GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

from edge.addresses import url_host  # noqa: E402
from edge.config import RtspConfig  # noqa: E402
from edge.media.aac import FRAME_NS, AacEncoder  # noqa: E402
from edge.media.audio import AudioHub  # noqa: E402
from edge.media.video import EncodedStream, VideoHub  # noqa: E402
from edge.rtsp.admission import Admission, client_budget, fd_limit  # noqa: E402
from edge.rtsp.bursts import AcceptFailureFilter, BurstLog  # noqa: E402
from edge.rtsp.listener import Listener  # noqa: E402
from edge.rtsp.shared_aac import SharedAac, drain  # noqa: E402
from edge.rtsp.status import RtspState, RtspStatus  # noqa: E402
from edge.security.auth import BASIC_USER  # noqa: E402
from edge.security.ratelimit import FailureLimiter  # noqa: E402
from hw.camera import StreamName  # noqa: E402
from hw.clock import monotonic_us  # noqa: E402
from hw.microphone import CHUNK_SAMPLES, SAMPLE_RATE  # noqa: E402
from hw.port_holders import port_use  # noqa: E402

log = logging.getLogger(__name__)

PATH = "/camera"
LOW_PATH = "/camera/low"  # the low stream's, when the camera makes one
ROLE = "viewer"
VIDEO_CAPS = "video/x-h264,stream-format=byte-stream,alignment=au"
OPUS_CAPS = f"audio/x-opus,channel-mapping-family=0,channels=1,rate={SAMPLE_RATE}"
OPUS_PACKET_NS = CHUNK_SAMPLES * Gst.SECOND // SAMPLE_RATE
SOURCE = "is-live=true format=time do-timestamp=false min-latency=0"
STOP_TIMEOUT_S = 3.0
HANDSHAKE_S = 5  # a connection not answered a DESCRIBE or SETUP by then is closed


def audio_caps(codec: str) -> str:
    """What the audio ``appsrc`` is fed: Opus packets, or raw AAC frames described by their AudioSpecificConfig."""
    if codec == "opus":
        return OPUS_CAPS
    config = AacEncoder().audio_specific_config.hex()
    return f"audio/mpeg,mpegversion=4,stream-format=raw,channels=1,rate={SAMPLE_RATE},codec_data=(buffer){config}"


def launch_line(audio: str | None) -> str:
    """The media's pipeline: H.264 access units and ``audio`` ("aac", "opus" or None) in, RTP out (pay0, pay1)."""
    video = (
        f'appsrc name=video {SOURCE} caps="{VIDEO_CAPS}" ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1'
    )
    if audio is None:
        return f"( {video} )"
    payloader = "rtpopuspay" if audio == "opus" else "rtpmp4gpay"
    return f'( {video}  appsrc name=audio {SOURCE} caps="{audio_caps(audio)}" ! {payloader} name=pay1 pt=97 )'


class TokenAuth(GstRtspServer.RTSPAuth):
    """Basic auth with the access token; wrong passwords are counted per client address."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.limiter = FailureLimiter()
        viewer = GstRtspServer.RTSPToken()
        viewer.set_string("media.factory.role", ROLE)
        self.add_basic(GstRtspServer.RTSPAuth.make_basic(BASIC_USER, token), viewer)

    def do_authenticate(self, ctx: Any) -> bool:
        """Called (on GStreamer's thread) for a request without a token yet; False answers 401."""
        address = ctx.conn.get_ip()
        if self.limiter.retry_after(address) is not None:
            return False
        GstRtspServer.RTSPAuth.do_authenticate(self, ctx)  # sets ctx.token when the password is right
        result, _ = ctx.request.get_header(GstRtsp.RTSPHeaderField.AUTHORIZATION, 0)
        if ctx.token is None and result == GstRtsp.RTSPResult.OK:
            self.limiter.record_failure(address)
            log.warning("RTSP: wrong user name or password from %s", address)
        return True


class _Timed(Protocol):
    """What an ``appsrc`` is fed: an access unit, an Opus packet or an AAC frame."""

    @property
    def data(self) -> bytes: ...

    @property
    def timestamp_us(self) -> int: ...

    @property
    def keyframe(self) -> bool: ...


Item = TypeVar("Item", bound=_Timed)


class _Feed:
    """One media's appsrcs and the asyncio tasks that feed them from the hubs."""

    def __init__(self, element: Gst.Element) -> None:
        self._element = element
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, video: EncodedStream, opus: AudioHub | None, aac: SharedAac | None) -> None:
        """Feed ``video``, and the sound as ``opus`` or ``aac`` gives it (neither: no sound)."""
        self._tasks.append(asyncio.create_task(self._video(video), name="rtsp video"))
        if opus is not None:
            self._tasks.append(asyncio.create_task(self._opus(opus), name="rtsp audio"))
        elif aac is not None:
            self._tasks.append(asyncio.create_task(self._aac(aac), name="rtsp audio"))

    def cancel(self) -> list[asyncio.Task[None]]:
        """Stop feeding; the tasks (returned, to be awaited) give their queues back as they end."""
        for task in self._tasks:
            task.cancel()
        return self._tasks

    def _pts(self, timestamp_us: int) -> int | None:
        """The capture time as the pipeline's running time, each buffer mapped through the clock now.

        Before the media plays (while it is prepared, for its caps) buffers go untimed: a
        running time taken then would be off by however long the client took to PLAY, and
        every later buffer would wait for it. Captured before the media started: dropped.
        """
        _, state, _ = self._element.get_state(0)
        clock = self._element.get_clock()
        if state != Gst.State.PLAYING or clock is None:
            return Gst.CLOCK_TIME_NONE
        running_now = clock.get_time() - self._element.get_base_time()
        pts = running_now - (monotonic_us() - timestamp_us) * 1000
        return pts if pts >= 0 else None

    async def _video(self, stream: EncodedStream) -> None:
        queue = stream.subscribe()
        try:
            # What came before the media played reached no client: a keyframe for them.
            await self._pump("video", drain(queue), 0, stream.request_keyframe)
        finally:
            stream.unsubscribe(queue)

    async def _opus(self, hub: AudioHub) -> None:
        queue = hub.subscribe()
        try:
            await self._pump("audio", drain(queue), OPUS_PACKET_NS)
        finally:
            hub.unsubscribe(queue)

    async def _aac(self, aac: SharedAac) -> None:
        queue = aac.subscribe()
        try:
            await self._pump("audio", drain(queue), FRAME_NS)
        finally:
            aac.unsubscribe(queue)

    async def _pump(
        self, name: str, items: AsyncIterator[Item], duration_ns: int, on_playing: Callable[[], None] = lambda: None
    ) -> None:
        source = self._element.get_by_name(name)
        playing = False
        async for item in items:
            pts = self._pts(item.timestamp_us)
            if pts is None:
                continue
            if pts != Gst.CLOCK_TIME_NONE and not playing:
                playing = True
                on_playing()
            buffer = Gst.Buffer.new_wrapped(item.data)
            buffer.pts = pts
            if duration_ns:
                buffer.duration = duration_ns
            if not item.keyframe:
                buffer.set_flags(Gst.BufferFlags.DELTA_UNIT)
            source.emit("push-buffer", buffer)  # refused only while the media goes away ("unprepared")


class RtspServer:
    """A service: started, gst-rtsp-server listens and serves on a GLib thread of its own."""

    name = "rtsp"

    def __init__(
        self, config: RtspConfig, host: str, video: VideoHub, audio: AudioHub | None, token: str | None
    ) -> None:
        Gst.init(None)
        self._host = host
        self._video = video
        self._audio_codec = None if audio is None or config.audio == "off" else config.audio
        self._opus = audio if self._audio_codec == "opus" else None
        self._aac = SharedAac(audio) if audio is not None and self._audio_codec == "aac" else None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._context = GLib.MainContext.new()
        self._mainloop = GLib.MainLoop.new(self._context, False)
        self._thread: threading.Thread | None = None
        self._feeds: set[_Feed] = set()
        self.clients = 0
        self.port = config.port
        self.state = RtspState.STARTING
        self.last_error: str | None = None
        self._config = config
        self._accept_filter = AcceptFailureFilter()
        self._timed_out = BurstLog(log)

        self._server = GstRtspServer.RTSPServer()
        self._server.set_address(host or "0.0.0.0")
        self._server.set_service(str(config.port))
        if token is not None:
            self._server.set_auth(TokenAuth(token))
        self._mounts = self._server.get_mount_points()
        # What each path sends, by the stream's name: looked up when a client plays, since a Pi's low stream
        # may fail to start (``low_error``), and /camera/low then sends main rather than nothing.
        self._streams: dict[GstRtspServer.RTSPMediaFactory, StreamName] = {}
        paths: dict[str, StreamName] = {PATH: "main"} if video.low is None else {PATH: "main", LOW_PATH: "low"}
        for path, name in paths.items():
            factory = self._factory(name, auth=token is not None)
            self._streams[factory] = name
            self._mounts.add_factory(path, factory)
        self._server.connect("client-connected", self._on_client_connected)
        self._listener = Listener(self._server, self._context, self._admission())

    def _factory(self, stream: StreamName, auth: bool) -> GstRtspServer.RTSPMediaFactory:
        """One path's shared media: the camera's ``stream`` and the sound; with ``auth``, for the viewer role only."""
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch_line(self._audio_codec))
        factory.set_shared(True)
        factory.set_protocols(GstRtsp.RTSPLowerTrans.UDP | GstRtsp.RTSPLowerTrans.TCP)
        factory.connect("media-configure", self._on_media_configure, stream)
        if auth:
            permissions = GstRtspServer.RTSPPermissions()
            permissions.add_permission_for_role(ROLE, "media.factory.access", True)
            permissions.add_permission_for_role(ROLE, "media.factory.construct", True)
            factory.set_permissions(permissions)
        return factory

    def _admission(self) -> Admission:
        """The configured caps, the total lowered (and said so) when the file descriptor limit is too low."""
        limit = fd_limit()
        budget = client_budget(self._config.max_clients, limit)
        if budget < self._config.max_clients:
            log.warning(
                "RTSP: rtsp.max_clients %d lowered to %d: the process may open %s files (LimitNOFILE) "
                "and RTSP gets at most a quarter of them",
                self._config.max_clients,
                budget,
                limit,
            )
        return Admission(budget, min(budget, self._config.max_clients_per_address))

    @property
    def url(self) -> str:
        return f"rtsp://{url_host(self._host)}:{self.port}{PATH}"

    @property
    def low_url(self) -> str | None:
        """The low stream's URL; None when the camera makes no low stream (nothing is mounted there)."""
        return None if self._video.low is None else f"rtsp://{url_host(self._host)}:{self.port}{LOW_PATH}"

    async def start(self) -> None:
        """Listen and serve; when the port cannot be had, the state says so (and the log)."""
        self._loop = asyncio.get_running_loop()
        try:
            port = self._listener.open()
        except GLib.Error as exc:
            in_use = exc.matches(Gio.io_error_quark(), Gio.IOErrorEnum.ADDRESS_IN_USE)
            if in_use:
                use = await asyncio.to_thread(port_use, self.port)  # reads every process's descriptors
                reason = str(use) if use is not None else f"port {self.port} is in use"
            else:
                reason = f"cannot listen on {self._host or '0.0.0.0'} port {self.port} ({exc.message})"
            self.state, self.last_error = RtspState.FAILED, reason
            log.error("RTSP: %s: no RTSP%s", reason, "; set [rtsp] port to a free one" if in_use else "")
            return
        self.state = RtspState.SERVING
        self.port = port
        self._listener.attach()
        # The HTTP server shares the process's descriptors: its accept failures, one line per burst.
        logging.getLogger("asyncio").addFilter(self._accept_filter)
        self._thread = threading.Thread(target=self._run, name="rtsp", daemon=True)
        self._thread.start()
        urls = self.url if self.low_url is None else f"{self.url} and {self.low_url} (the low stream)"
        log.info("RTSP on %s (user %s, the access token as password)", urls, BASIC_USER)

    def _run(self) -> None:
        self._context.push_thread_default()
        try:
            self._mainloop.run()
        finally:
            self._context.pop_thread_default()

    async def stop(self) -> None:
        logging.getLogger("asyncio").removeFilter(self._accept_filter)
        if self._thread is not None:
            self._in_glib(self._shut_down)
            await asyncio.to_thread(self._thread.join, STOP_TIMEOUT_S)
            self._thread = None
        tasks = [task for feed in self._feeds for task in feed.cancel()]
        self._feeds.clear()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._aac is not None:
            await self._aac.stop()

    def _shut_down(self) -> None:
        self._listener.close()
        self._server.client_filter(lambda *_: GstRtspServer.RTSPFilterResult.REMOVE)
        self._mainloop.quit()

    def _in_glib(self, func: Callable[[], None]) -> None:
        def once(*_: object) -> bool:
            func()
            return GLib.SOURCE_REMOVE

        source = GLib.Idle()
        source.set_callback(once)
        source.attach(self._context)

    def _to_asyncio(self, func: Callable[..., object], *args: object) -> None:
        assert self._loop is not None  # started
        with contextlib.suppress(RuntimeError):  # the loop has closed: shutting down
            self._loop.call_soon_threadsafe(func, *args)

    # GStreamer's threads from here on.

    def _on_media_configure(
        self, _factory: GstRtspServer.RTSPMediaFactory, media: GstRtspServer.RTSPMedia, stream: StreamName
    ) -> None:
        feed = _Feed(media.get_element())
        media.connect("unprepared", lambda _media: self._to_asyncio(self._end_feed, feed))
        self._to_asyncio(self._start_feed, feed, self._video.stream(stream))

    def _on_client_connected(self, _server: GstRtspServer.RTSPServer, client: GstRtspServer.RTSPClient) -> None:
        self.clients += 1
        client.connect("closed", self._on_client_closed)
        client.connect("play-request", self._on_play_request)
        self._deadline(client)

    def _on_play_request(self, _client: GstRtspServer.RTSPClient, ctx: GstRtspServer.RTSPContext) -> None:
        """A client joining a shared stream gets a fresh IDR of that stream rather than waiting for the next one."""
        factory, _matched = self._mounts.match(ctx.uri.abspath)  # the path's, as the server found it for PLAY
        name = self._streams.get(factory)
        if name is not None:
            self._to_asyncio(self._video.stream(name).request_keyframe)

    def _deadline(self, client: GstRtspServer.RTSPClient) -> None:
        """Close ``client`` in HANDSHAKE_S unless it has been answered a DESCRIBE or SETUP by then.

        gst-rtsp-server emits those signals only after answering 200, so past authentication
        (with auth on); an idle connection would otherwise be kept 60 s.
        """
        settled = threading.Event()  # set on GStreamer's client thread, read on the server's
        for signal in ("describe-request", "setup-request", "closed"):
            client.connect(signal, lambda *_: settled.set())

        def expire(*_: object) -> bool:
            if not settled.is_set():
                ip = client.get_connection().get_ip()
                client.close()
                self._timed_out.warning(
                    "RTSP: closed a connection from %s: no DESCRIBE or SETUP answered within %d s", ip, HANDSHAKE_S
                )
            return GLib.SOURCE_REMOVE

        timer = GLib.timeout_source_new_seconds(HANDSHAKE_S)
        timer.set_callback(expire)
        timer.attach(self._context)

    def _on_client_closed(self, _client: GstRtspServer.RTSPClient) -> None:
        self.clients -= 1

    # The asyncio loop's side.

    def _start_feed(self, feed: _Feed, stream: EncodedStream) -> None:
        self._feeds.add(feed)
        feed.start(stream, self._opus, self._aac)
        log.info("RTSP: streaming the %s stream (a client asked)", stream.name)

    def _end_feed(self, feed: _Feed) -> None:
        if feed in self._feeds:
            self._feeds.discard(feed)
            feed.cancel()
            log.info("RTSP: stream stopped (no clients left)")

    def status(self) -> RtspStatus:
        return {
            "state": self.state,
            "url": self.url,
            "low_url": self.low_url,
            "clients": self.clients,
            "refused": self._listener.refused,
            "last_error": self.last_error,
        }
