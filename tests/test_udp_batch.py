"""Segmented UDP sends (edge/webrtc/udp_batch.py): the receiver gets every datagram, whole and in order."""

from __future__ import annotations

import asyncio
import errno
import os

import pytest

from edge.webrtc.udp_batch import MAX_SEGMENTS, DatagramBatcher, runs

pytestmark = pytest.mark.timeout(30)


def test_runs_are_equal_sizes_and_may_end_shorter():
    sizes = [20, 1301, 1301, 1300, 1300, 1300, 500, 500]
    assert [[len(p) for p in run] for run in runs([bytes(n) for n in sizes])] == [
        [20],
        [1301, 1301, 1300],
        [1300, 1300, 500],
        [500],
    ]
    assert [len(run) for run in runs([bytes(1300)] * 70)] == [MAX_SEGMENTS, MAX_SEGMENTS, 70 - 2 * MAX_SEGMENTS]


class Receiver(asyncio.DatagramProtocol):
    def __init__(self, expected: int) -> None:
        self.datagrams: list[bytes] = []
        self.expected = expected
        self.done = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr) -> None:
        self.datagrams.append(data)
        if len(self.datagrams) == self.expected and not self.done.done():
            self.done.set_result(None)


async def exchange(packets: list[bytes], breaking_socket: bool = False) -> tuple[list[bytes], DatagramBatcher]:
    loop = asyncio.get_running_loop()
    receiving, receiver = await loop.create_datagram_endpoint(
        lambda: Receiver(len(packets)), local_addr=("127.0.0.1", 0)
    )
    sending, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
    batcher = DatagramBatcher(sending, receiving.get_extra_info("sockname"))
    try:
        if breaking_socket:
            batcher._sock = RefusingSocket()  # type: ignore[assignment]
        batcher.send(packets)
        await asyncio.wait_for(receiver.done, 10)
        return receiver.datagrams, batcher
    finally:
        batcher.close()
        sending.close()
        receiving.close()


class RefusingSocket:
    """A socket on an interface that cannot segment UDP (no checksum offload)."""

    def sendmsg(self, *args) -> int:
        raise OSError(errno.EIO, "Input/output error")

    def close(self) -> None:
        pass


def frame() -> list[bytes]:
    """An IDR's packets as they leave: a short STAP-A, then FU-As of two sizes one byte apart."""
    return [os.urandom(40)] + [os.urandom(1338) for _ in range(7)] + [os.urandom(1337) for _ in range(60)]


async def test_a_frame_arrives_whole_and_in_order_in_few_sends():
    packets = frame()
    received, batcher = await exchange(packets)
    assert received == packets
    assert 0 < batcher.segmented_sends <= 4


async def test_where_the_kernel_refuses_segmentation_it_sends_one_by_one_from_then_on():
    packets = frame()
    received, batcher = await exchange(packets, breaking_socket=True)
    assert received == packets
    assert not batcher.segmenting and batcher.segmented_sends == 0
