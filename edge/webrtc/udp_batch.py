"""Sending a frame's packets to one address in a few system calls: UDP generic segmentation offload.

A video frame leaves as 10-150 RTP packets of (nearly) the same size. With
``UDP_SEGMENT`` (Linux 4.18+) one ``sendmsg`` hands the kernel a run of
equal-sized datagrams, which it splits as late as it can (on the wire they are
ordinary datagrams), saving most of the per-packet cost of a ``sendto`` each.
Where the kernel refuses (an interface without checksum offload, as many Wi-Fi
drivers, answers ``EIO``), the batcher falls back to one ``sendto`` per packet
for good, through asyncio's own transport, which also takes over whenever that
transport holds packets back (a full socket buffer) so that order is kept.

The batcher writes to its own duplicate of the transport's socket (``os.dup``
of ``get_extra_info("socket")``): asyncio's transport has no ``sendmsg``.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import struct
from collections.abc import Sequence

log = logging.getLogger(__name__)

UDP_SEGMENT = getattr(socket, "UDP_SEGMENT", 103)  # linux/udp.h; Python names it from 3.12
MAX_SEGMENTS = 32  # the kernel takes up to 64 (UDP_MAX_SEGMENTS)
MAX_BATCH_BYTES = 60_000  # one UDP send carries at most 65,507 bytes
# What a kernel or interface that cannot segment UDP answers: then never again on this path.
UNSUPPORTED = {errno.EIO, errno.EINVAL, errno.ENOPROTOOPT, errno.EOPNOTSUPP}


def runs(packets: Sequence[bytes]) -> list[list[bytes]]:
    """Consecutive packets that one segmented send can carry: equal sizes, and the last may be shorter."""
    batches: list[list[bytes]] = []
    for packet in packets:
        batch = batches[-1] if batches else None
        if (
            batch is not None
            and len(batch[0]) >= len(packet)
            and len(batch[-1]) == len(batch[0])
            and len(batch) < MAX_SEGMENTS
            and len(batch[0]) * (len(batch) + 1) <= MAX_BATCH_BYTES
        ):
            batch.append(packet)
        else:
            batches.append([packet])
    return batches


class DatagramBatcher:
    """Sends runs of datagrams to ``address`` through ``transport``'s socket, segmented by the kernel when it can."""

    def __init__(self, transport: asyncio.DatagramTransport, address: tuple[str | int, ...]) -> None:
        self.transport = transport
        self.address = address
        self._sock: socket.socket | None = None
        sock = transport.get_extra_info("socket")
        if sock is not None:
            self._sock = socket.socket(sock.family, sock.type, sock.proto, fileno=os.dup(sock.fileno()))
        self.segmented_sends = 0  # sendmsg calls that carried more than one datagram

    @property
    def segmenting(self) -> bool:
        return self._sock is not None

    def send(self, packets: Sequence[bytes]) -> None:
        for batch in runs(packets) if self._sock is not None else [list(packets)]:
            if len(batch) > 1 and self._sock is not None and not self._transport_queued():
                try:
                    self._sock.sendmsg(
                        [b"".join(batch)],
                        [(socket.SOL_UDP, UDP_SEGMENT, struct.pack("=H", len(batch[0])))],
                        0,
                        self.address,
                    )
                    self.segmented_sends += 1
                    continue
                except BlockingIOError:
                    pass  # the socket buffer is full: asyncio's transport queues them
                except OSError as exc:
                    if exc.errno in UNSUPPORTED:
                        log.info("UDP segmentation refused (%s): one send per packet from now on", exc.strerror)
                        self.close()
            for packet in batch:
                self.transport.sendto(packet, self.address)

    def _transport_queued(self) -> int:
        """Bytes asyncio's transport holds back (every selector transport has this; the abstract class lacks it)."""
        return self.transport.get_write_buffer_size()  # type: ignore[attr-defined]

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
