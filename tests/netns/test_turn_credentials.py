"""TURN REST credentials: coturn (docs/examples/turnserver.conf, ``use-auth-secret``) refuses a relay allocation
whose username's expiry has passed; the daemon hands its minted credentials (RFC 9725 ``Link`` headers) only to
authorised clients, and coturn grants them. The test process asks coturn with aioice's TURN client (the one the
daemon's own relay uses), through the host's link to the rig's internet."""

from __future__ import annotations

import asyncio
import time

import aioice.stun
import aioice.turn
import pytest
import requests

from edge.webrtc.ice_servers import ice_servers_from_links, rest_credentials
from testbed.coturn import Coturn
from testbed.daemon import DaemonProcess, start_daemon
from testbed.netns.internet import HTTP_PORT, Internet

LIFETIME_S = 600  # the shortest turn_credential_lifetime the daemon takes


@pytest.fixture
def internet(tmp_path):
    """(the rig's internet, coturn in it)."""
    net = Internet()
    server = None
    try:
        server = Coturn(net.internet, net.public_address, tmp_path / "coturn")
        yield net, server
    finally:
        if server is not None:
            server.stop()
        net.close()


async def allocate(server: Coturn, username: str, password: str, port: int = 3478) -> tuple[str, int]:
    """A UDP relay allocation's address; raises aioice's TransactionFailed when refused."""
    transport, _ = await aioice.turn.create_turn_endpoint(
        asyncio.DatagramProtocol, server_addr=(server.address, port), username=username, password=password
    )
    try:
        return transport.get_extra_info("sockname")
    finally:
        transport.close()


def test_an_expired_rest_username_is_refused_and_a_current_one_allocates(internet):
    _, coturn = internet
    relayed = asyncio.run(allocate(coturn, *coturn.credentials(lifetime_s=60)))
    assert relayed[0] == coturn.address

    expired = rest_credentials(coturn.secret, int(time.time()) - 60)  # coturn reads its clock about once a second
    with pytest.raises(aioice.stun.TransactionFailed) as refused:
        asyncio.run(allocate(coturn, *expired))
    assert refused.value.response.attributes["ERROR-CODE"][0] == 401, refused.value.response
    assert f"Cannot find credentials of user <{expired[0]}>" in coturn.log()

    # The right username with a password made from another secret: refused alike.
    forged = rest_credentials("not the secret", int(time.time()) + 60)[1]
    with pytest.raises(aioice.stun.TransactionFailed):
        asyncio.run(allocate(coturn, coturn.credentials()[0], forged))


@pytest.fixture
def daemon(internet, tmp_path):
    """The daemon behind NAT A with coturn's secret; the test reaches it through NAT A's forwarded port."""
    net, coturn = internet
    config = (
        f'[webrtc]\ninterfaces = ["{net.camera_if}"]\nice_servers = [{{ urls = ["{coturn.urls[0]}"] }}]\n'
        f'turn_secret = "{coturn.secret}"\nturn_credential_lifetime = {LIFETIME_S}\n'
    )
    process: DaemonProcess = start_daemon(
        config, tmp_path / "daemon", "--port", str(HTTP_PORT), prefix=net.exec_prefix(net.camera), host="0.0.0.0"
    )
    yield process
    process.stop()


def ice_server_links(response: requests.Response) -> list[str]:
    return [link for link in response.headers.get("Link", "").split(",") if 'rel="ice-server"' in link]


def test_only_an_authorised_client_gets_credentials_and_coturn_grants_them_until_they_expire(internet, daemon):
    net, coturn = internet
    whep = f"{net.camera_url}/whep"
    assert ice_server_links(requests.options(whep, timeout=10)) == []
    refused = requests.post(whep, data="v=0\r\n", headers={"Content-Type": "application/sdp"}, timeout=10)
    assert refused.status_code == 401 and ice_server_links(refused) == []

    asked_at = time.time()
    authorised = requests.options(whep, headers=daemon.auth, timeout=10)
    (server,) = ice_servers_from_links(ice_server_links(authorised))
    assert server["urls"] == coturn.urls[0] and coturn.secret not in authorised.headers["Link"]
    expiry, user = server["username"].split(":")
    assert user == "edge" and asked_at + LIFETIME_S - 5 <= int(expiry) <= time.time() + LIFETIME_S + 5, server
    relayed = asyncio.run(allocate(coturn, server["username"], server["credential"]))
    assert relayed[0] == coturn.address
