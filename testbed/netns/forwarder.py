"""A loopback TCP port standing in for the camera's mDNS name.

Each new connection goes to wherever ``target`` points at that moment, as a
browser resolving ``camera.local`` afresh would. Connections made before keep
their old target, and hang when it is gone: exactly what a browser's
kept-alive connection to the camera's old address does.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

CONNECT_TIMEOUT_S = 10  # a SYN to a vanished address is retried, not refused


class Forwarder:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        # A loop in a thread of its own (Playwright's sync API keeps one in the caller's).
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="forwarder", daemon=True)
        self._thread.start()
        start = asyncio.start_server(self._handle, "127.0.0.1", 0)
        self._server = asyncio.run_coroutine_threadsafe(start, self._loop).result(5)
        self.port: int = self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(*self.target), CONNECT_TIMEOUT_S)
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        except (TimeoutError, OSError, asyncio.CancelledError):  # cancelled: closing down
            writer.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(OSError):
            writer.close()

    def close(self) -> None:
        async def shut() -> None:
            self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shut(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
