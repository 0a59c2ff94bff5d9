"""The RTSP port's accept loop, on GStreamer's thread: connections over the caps are closed at once.

gst-rtsp-server's own loop (``gst_rtsp_server_io_func``) takes every connection, and when
``accept`` fails for want of a file descriptor it logs nothing (GStreamer's debug log) and
returns to a listening socket that is still readable: its thread spins on it. This one
takes the listening socket gst-rtsp-server makes (``create_socket``: address, port and
backlog as set on the server), accepts up to ``BATCH`` connections per wake-up, closes
those :class:`Admission` refuses and hands the others to the server
(``transfer_connection``, which makes a client as its own loop would). When ``accept``
fails it stops accepting for ``RETRY_S`` and logs once per burst.
"""

from __future__ import annotations

import logging

from gi.repository import Gio, GLib, GstRtspServer

from edge.rtsp.admission import Admission
from edge.rtsp.bursts import BurstLog

log = logging.getLogger(__name__)

BATCH = 64  # connections accepted per wake-up: the thread gets back to its clients in between
BACKLOG = 64  # the kernel's queue of connections not yet accepted (gst-rtsp-server's default is 5)
RETRY_S = 1  # after accept failed (out of file descriptors), accept again this much later


class Listener:
    """Accepts on the server's port; everything from :meth:`attach` on runs on ``context``'s thread."""

    def __init__(self, server: GstRtspServer.RTSPServer, context: GLib.MainContext, admission: Admission) -> None:
        self._server = server
        self._context = context
        self._admission = admission
        self._socket: Gio.Socket | None = None
        self._source: GLib.Source | None = None
        self._refused = BurstLog(log)
        self._failed = BurstLog(log)
        self.refused = 0

    def open(self) -> int:
        """Listen; the port. Raises ``GLib.Error`` (for the caller to say) when it cannot be had."""
        self._server.set_backlog(BACKLOG)
        self._socket = self._server.create_socket(None)
        return self._socket.get_local_address().get_port()

    def attach(self) -> None:
        assert self._socket is not None  # opened
        self._source = GLib.unix_fd_source_new(self._socket.get_fd(), GLib.IOCondition.IN)
        self._source.set_callback(self._on_readable)
        self._source.attach(self._context)

    def close(self) -> None:
        if self._source is not None:
            self._source.destroy()
            self._source = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _on_readable(self, *_: object) -> bool:
        assert self._socket is not None  # attached
        for _accepted in range(BATCH):
            try:
                connection = self._socket.accept(None)
            except GLib.Error as exc:
                if exc.matches(Gio.io_error_quark(), Gio.IOErrorEnum.WOULD_BLOCK):
                    return GLib.SOURCE_CONTINUE
                self._failed.warning("RTSP: cannot accept connections (%s); again in %d s", exc.message, RETRY_S)
                self._pause()
                return GLib.SOURCE_REMOVE
            self._take(connection)
        return GLib.SOURCE_CONTINUE

    def _pause(self) -> None:
        self._source = None  # removed by returning SOURCE_REMOVE

        def resume(*_: object) -> bool:
            if self._socket is not None:  # not closed meanwhile
                self.attach()
            return GLib.SOURCE_REMOVE

        timer = GLib.timeout_source_new_seconds(RETRY_S)
        timer.set_callback(resume)
        timer.attach(self._context)

    def _take(self, connection: Gio.Socket) -> None:
        try:
            remote = connection.get_remote_address()
        except GLib.Error:  # gone already
            connection.close()
            return
        ip, port = remote.get_address().to_string(), remote.get_port()
        clients = self._server.client_filter(None)
        open_ips = [conn.get_ip() for conn in (client.get_connection() for client in clients) if conn is not None]
        reason = self._admission.refusal(ip, open_ips)
        if reason is not None:
            connection.close()
            self.refused += 1
            self._refused.warning("RTSP: refusing connections: %s; the latest from %s", reason, ip)
            return
        self._server.transfer_connection(connection, ip, port, None)
