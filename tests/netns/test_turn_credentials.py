"""TURN REST credentials expire: coturn (docs/examples/turnserver.conf, ``use-auth-secret``) refuses a relay
allocation whose username's expiry has passed, and grants one that has not. The test process asks, with
aioice's TURN client (the one the daemon's own relay uses), through the host's link to the rig's internet."""

from __future__ import annotations

import asyncio
import time

import aioice.stun
import aioice.turn
import pytest

from testbed.coturn import Coturn, rest_credentials
from testbed.netns.internet import Internet


@pytest.fixture
def coturn(tmp_path):
    net = Internet()
    server = None
    try:
        server = Coturn(net.internet, net.public_address, tmp_path)
        yield server
    finally:
        if server is not None:
            server.stop()
        net.close()


async def allocate(server: Coturn, username: str, password: str) -> tuple[str, int]:
    """A UDP relay allocation's address; raises aioice's TransactionFailed when refused."""
    transport, _ = await aioice.turn.create_turn_endpoint(
        asyncio.DatagramProtocol, server_addr=(server.address, 3478), username=username, password=password
    )
    try:
        return transport.get_extra_info("sockname")
    finally:
        transport.close()


def test_an_expired_rest_username_is_refused_and_a_current_one_allocates(coturn):
    relayed = asyncio.run(allocate(coturn, *coturn.credentials(lifetime_s=60)))
    assert relayed[0] == coturn.address

    expired = rest_credentials(coturn.secret, time.time() - 1)
    with pytest.raises(aioice.stun.TransactionFailed) as refused:
        asyncio.run(allocate(coturn, *expired))
    assert refused.value.response.attributes["ERROR-CODE"][0] == 401, refused.value.response
    assert f"Cannot find credentials of user <{expired[0]}>" in coturn.log()

    # The right username with a password made from another secret: refused alike.
    with pytest.raises(aioice.stun.TransactionFailed):
        asyncio.run(allocate(coturn, coturn.credentials()[0], rest_credentials("not the secret", time.time() + 60)[1]))
