"""What we rely on inside aiortc/aioice. If one of these fails after an upgrade,
read edge/webrtc/aiortc_ext.py before anything else."""

import asyncio
import inspect
import socket
import time

import aioice
import aioice.ice
import aiortc
import ifaddr
import pytest
from aiortc import RTCRtpSender
from aiortc.codecs import CODECS
from aiortc.rtcdtlstransport import SRTP_AES128_CM_SHA1_80, RTCCertificate, RTCDtlsTransport
from OpenSSL import SSL

from edge.webrtc import aiortc_ext
from edge.webrtc.peer_state import DtlsState, PeerConnectionState
from hw import network_watch
from hw.host_addresses import host_addresses


def test_the_versions_we_were_built_against():
    assert aiortc.__version__.startswith("1.16."), aiortc.__version__
    assert aioice.__version__.startswith("0.13."), aioice.__version__


def test_codec_matching_is_by_profile_and_first_local_codec_wins():
    from aiortc.rtcpeerconnection import filter_preferred_codecs, find_common_codecs
    from aiortc.rtcrtpparameters import RTCRtpCodecParameters

    preferences = aiortc_ext.h264_preferences("42c028")
    browser = [
        RTCRtpCodecParameters(
            mimeType="video/H264",
            clockRate=90000,
            payloadType=109,
            parameters={"packetization-mode": "1", "profile-level-id": "42e01f"},
        ),
    ]
    common = filter_preferred_codecs(find_common_codecs(CODECS["video"], browser), preferences)
    assert common and common[0].parameters["profile-level-id"] == "42c028"
    assert common[0].payloadType == 109
    assert aiortc_ext.h264_preferences("42c028") == preferences  # registered once
    assert sum(c.parameters.get("profile-level-id") == "42c028" for c in CODECS["video"]) == 1


def test_host_addresses_come_from_a_module_function_we_can_replace():
    assert "get_host_addresses(" in inspect.getsource(aioice.ice.Connection.gather_candidates)
    try:
        aiortc_ext.restrict_host_interfaces(["lo"])
        assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False) == ["127.0.0.1"]
    finally:
        aiortc_ext.restrict_host_interfaces([])
    assert "127.0.0.1" not in aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False)


def _adapter(name: str, *ips: str | tuple[str, int, int]) -> ifaddr.Adapter:
    return ifaddr.Adapter(name, name, [ifaddr.IP(ip, 64, name) for ip in ips])


@pytest.fixture
def adapters(monkeypatch):
    """Loopback, a LAN with a link-local IPv6 beside its global one, and a second loopback address elsewhere."""
    fake = [
        _adapter("lo", "127.0.0.1", ("::1", 0, 0)),
        _adapter("eth0", "192.0.2.2", ("fd00::2", 0, 0), ("fe80::1", 0, 2)),
        _adapter("dummy0", "127.0.0.2"),
    ]
    monkeypatch.setattr(ifaddr, "get_adapters", lambda: fake)


@pytest.mark.parametrize(("use_ipv4", "use_ipv6"), [(True, True), (True, False), (False, True), (False, False)])
def test_with_no_interfaces_named_our_rule_is_aioices_own(adapters, use_ipv4, use_ipv6):
    """Without [webrtc] interfaces ICE gathers with aioice's rule, and the network watch with ours."""
    ours = [a for addresses in host_addresses(use_ipv4=use_ipv4, use_ipv6=use_ipv6).values() for a in addresses]
    assert ours == aiortc_ext._original_get_host_addresses(use_ipv4, use_ipv6)


@pytest.mark.parametrize(
    ("interfaces", "expected"),
    [
        ((), {"192.0.2.2", "fd00::2", "127.0.0.2"}),
        (("lo",), {"127.0.0.1", "::1"}),  # loopback only if named
        (("eth0", "dummy0"), {"192.0.2.2", "fd00::2", "127.0.0.2"}),
    ],
)
def test_the_network_watch_sees_the_addresses_ice_offers(adapters, interfaces, expected):
    try:
        aiortc_ext.restrict_host_interfaces(interfaces)
        offered = aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True)
    finally:
        aiortc_ext.restrict_host_interfaces([])
    assert set(offered) == expected
    assert network_watch.all_addresses(network_watch.read_snapshot(interfaces)) == expected


def test_opus_is_available():
    assert [c.mimeType for c in aiortc_ext.opus_preferences()] == ["audio/opus"]
    assert RTCRtpSender.getCapabilities("audio")


# --- In-place ICE restart (edge/webrtc/ice_restart.py) ----------------------------


def test_what_the_ice_restart_relies_on_is_still_there():
    from aiortc.rtcicetransport import RTCIceGatherer, RTCIceTransport

    connection = aioice.Connection(ice_controlling=False)
    for name in (
        "_local_username",
        "_local_password",
        "_protocols",
        "_local_candidates",
        "_check_list",
        "_remote_candidates",
        "_remote_candidates_end",
        "_nominated",
        "turn_server",
        "remote_username",
        "remote_password",
        "_transport_policy",
    ):
        assert hasattr(connection, name), name
    assert connection._transport_policy is aioice.ice.TransportPolicy.ALL
    assert connection._components == {1}  # one component: ice_restart.COMPONENT
    # The public credentials are the private fields, read at each check.
    assert "self._local_username" in inspect.getsource(aioice.Connection.local_username.fget)
    assert "self._local_password" in inspect.getsource(aioice.Connection.local_password.fget)
    assert "self.local_password" in inspect.getsource(aioice.Connection.request_received)
    assert "self.local_username" in inspect.getsource(aioice.Connection._valid_username)
    # New pairs are nominated in check_complete, called through self (so an instance attribute wraps it).
    assert "self._nominated[pair.component] = pair" in inspect.getsource(aioice.Connection.check_complete)
    assert "self.check_complete(pair)" in inspect.getsource(aioice.Connection.check_incoming)
    assert "self.check_complete(pair)" in inspect.getsource(aioice.Connection.check_start)
    # Host sockets are bound, and added to _protocols, by get_component_candidates.
    assert list(inspect.signature(aioice.Connection.get_component_candidates).parameters) == [
        "self",
        "component",
        "addresses",
        "timeout",
    ]
    assert "self._protocols += host_protocols" in inspect.getsource(aioice.Connection.get_component_candidates)
    assert "if self.turn_server:" in inspect.getsource(aioice.Connection.get_component_candidates)
    # aiortc's side: the transport's connection, and the gatherer's own end-of-candidates flag.
    transport = RTCIceTransport(RTCIceGatherer(iceServers=[]))
    assert isinstance(transport._connection, aioice.Connection)
    assert "self.__iceGatherer._remote_candidates_end" in inspect.getsource(RTCIceTransport.addRemoteCandidate)
    assert "if self.__start is not None" in inspect.getsource(RTCIceTransport.start)  # why we restart in place
    # As the offerer (WHIP) the restart starts its pairs' checks itself, and aioice nominates
    # aggressively as the controlling agent: a pair that succeeds becomes the nominated one.
    assert callable(aioice.Connection.check_start_task)
    assert {"FROZEN", "WAITING"} <= set(aioice.ice.CandidatePair.State.__members__)
    assert "nominate = self.ice_controlling and not self.remote_is_lite" in inspect.getsource(
        aioice.Connection.check_start
    )


async def _connect(server_transport, client: aioice.Connection) -> None:
    """Plain ICE between our server transport (controlled) and a client connection (controlling)."""
    from aiortc.rtcicetransport import RTCIceParameters, candidate_from_aioice

    server = server_transport._connection
    await asyncio.gather(server_transport.iceGatherer.gather(), client.gather_candidates())
    for candidate in server.local_candidates:
        await client.add_remote_candidate(candidate)
    await client.add_remote_candidate(None)
    for candidate in client.local_candidates:
        await server_transport.addRemoteCandidate(candidate_from_aioice(candidate))
    client.remote_username, client.remote_password = server.local_username, server.local_password
    await asyncio.gather(
        server_transport.start(RTCIceParameters(client.local_username, client.local_password)),
        client.connect(),
    )


async def test_an_ice_restart_moves_to_a_new_pair_in_place(monkeypatch):
    """The browser's side is played by aioice connections: one per ICE generation, as a browser's
    restart gathers anew. The server's address changes from 127.0.0.1 to 127.0.0.2 meanwhile."""
    from aioice import Candidate
    from aiortc.rtcicetransport import RTCIceGatherer, RTCIceTransport

    from edge.webrtc.ice_restart import IceAgent

    addresses = ["127.0.0.1"]
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: list(addresses))
    server_transport = RTCIceTransport(RTCIceGatherer(iceServers=[]))
    server = server_transport._connection
    selected = []
    agent = IceAgent(server_transport, selected.append)
    old_client = aioice.Connection(ice_controlling=True)
    new_client = aioice.Connection(ice_controlling=True)
    try:
        await asyncio.wait_for(_connect(server_transport, old_client), 10)
        await server.send(b"\x00first")
        assert await asyncio.wait_for(old_client.recv(), 5) == b"\x00first"
        old_protocol = server._nominated[1].protocol
        old_credentials = (server.local_username, server.local_password)

        addresses[:] = ["127.0.0.2"]  # the address changed
        await new_client.gather_candidates()
        local = await agent.restart(new_client.local_username, new_client.local_password)
        assert (local.ufrag, local.pwd) == (server.local_username, server.local_password) != old_credentials
        assert [Candidate.from_sdp(c).host for c in local.candidates] == ["127.0.0.2"]
        assert server_transport.state == "completed" and agent.generation == 1

        # Until a new pair is nominated the old one carries on, socket and all.
        await server.send(b"\x00still")
        assert await asyncio.wait_for(old_client.recv(), 5) == b"\x00still"
        assert not old_protocol.transport.is_closing()

        new_client.remote_username, new_client.remote_password = local.ufrag, local.pwd
        for line in local.candidates:
            await new_client.add_remote_candidate(Candidate.from_sdp(line))
        await new_client.add_remote_candidate(None)
        await asyncio.wait_for(new_client.connect(), 10)
        for _ in range(100):  # the browser nominated; aioice's triggered check completes it
            if selected:
                break
            await asyncio.sleep(0.02)
        assert selected and selected[0][0] == "127.0.0.2"
        assert agent.local_address == selected[0]
        await server.send(b"\x00moved")
        assert await asyncio.wait_for(new_client.recv(), 5) == b"\x00moved"
        await asyncio.sleep(0.05)
        assert old_protocol.transport.is_closing() and old_protocol not in server._protocols
        assert server_transport.state == "completed"

        # A second restart with the same addresses keeps the socket, and its candidate.
        again = await agent.restart("abcd", "0123456789012345678901")
        assert [Candidate.from_sdp(c).host for c in again.candidates] == ["127.0.0.2"]
        assert again.candidates[0].split()[5] == str(selected[0][1])
    finally:
        await asyncio.gather(server_transport.stop(), old_client.close(), new_client.close())


# --- DTLS cipher suites ---------------------------------------------------------------


def _rsa_dtls_server() -> SSL.Context:
    """A DTLS server as webrtcbin's: an RSA certificate, OpenSSL's default suites."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "webrtcbin")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    context = SSL.Context(SSL.DTLS_METHOD)
    context.use_certificate(certificate)
    context.use_privatekey(key)
    context.set_verify(SSL.VERIFY_PEER, lambda *args: True)
    context.set_tlsext_use_srtp(b"SRTP_AES128_CM_SHA1_80")
    return context


def _handshake(client_context: SSL.Context, server_context: SSL.Context) -> str:
    """Run a DTLS handshake in memory; return the negotiated cipher."""
    client, server = SSL.Connection(client_context), SSL.Connection(server_context)
    client.set_connect_state()
    server.set_accept_state()
    done = {client: False, server: False}
    for _ in range(20):
        for side, other in ((client, server), (server, client)):
            if not done[side]:
                try:
                    side.do_handshake()
                    done[side] = True
                except SSL.WantReadError:
                    pass
            while True:
                try:
                    other.bio_write(side.bio_read(65536))
                except SSL.WantReadError:
                    break
        if all(done.values()):
            return client.get_cipher_name()
    raise AssertionError("DTLS handshake did not finish")


def test_aiortc_still_builds_its_dtls_context_where_we_wrap_it():
    source = inspect.getsource(RTCCertificate._create_ssl_context)
    assert "set_cipher_list(" in source and "ECDHE-RSA" not in source, "aiortc changed its DTLS suites: re-check"
    assert "self.__local_certificate._create_ssl_context(" in inspect.getsource(RTCDtlsTransport.start)


def test_dtls_client_agrees_with_an_rsa_certificate_server(monkeypatch):
    monkeypatch.setattr(RTCCertificate, "_create_ssl_context", RTCCertificate._create_ssl_context)  # restored after
    srtp = [SRTP_AES128_CM_SHA1_80]
    certificate = RTCCertificate.generateCertificate()
    stock = aiortc_ext._original_create_ssl_context(certificate, srtp)
    with pytest.raises(SSL.Error, match=r"no shared cipher|handshake failure"):
        _handshake(stock, _rsa_dtls_server())  # aiortc as it comes: what webrtcbin saw

    aiortc_ext.offer_dtls_ciphers_for_rsa_peers()
    aiortc_ext.offer_dtls_ciphers_for_rsa_peers()  # idempotent: still one wrap
    ours = certificate._create_ssl_context(srtp)
    offered = [name for name in SSL.Connection(ours).get_cipher_list() if not name.startswith("TLS_")]  # TLS 1.3 only
    assert offered[:2] == ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256"]
    assert all(name.startswith("ECDHE-") for name in offered)
    assert _handshake(ours, _rsa_dtls_server()) == "ECDHE-RSA-AES128-GCM-SHA256"


async def test_aiortc_reports_the_connection_states_we_name():
    """edge.webrtc.peer_state names aiortc's states: a state aiortc renamed must fail here."""
    pc = aiortc.RTCPeerConnection(aiortc.RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    dtls = pc.getTransceivers()[0].sender.transport
    assert pc.connectionState == PeerConnectionState.NEW
    assert dtls.state == DtlsState.NEW
    source = inspect.getsource(aiortc.RTCPeerConnection) + inspect.getsource(RTCDtlsTransport)
    for state in [*PeerConnectionState, *DtlsState]:
        assert f'"{state}"' in source, f"aiortc no longer has the state {state!r}"
    await pc.close()
    assert pc.connectionState == PeerConnectionState.CLOSED


async def test_a_restart_with_the_relay_policy_offers_no_host_candidate(monkeypatch):
    """``ice_transport_policy = "relay"``: the camera's addresses stay out of every generation's answer."""
    from aiortc import RTCIceTransportPolicy
    from aiortc.rtcicetransport import RTCIceGatherer, RTCIceTransport

    from edge.webrtc.ice_restart import IceAgent

    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
    transport = RTCIceTransport(RTCIceGatherer(iceServers=[], iceTransportPolicy=RTCIceTransportPolicy.RELAY))
    await transport.iceGatherer.gather()
    assert transport._connection.local_candidates == []  # no TURN server here: nothing at all
    local = await IceAgent(transport, lambda address: None).restart("abcd", "p" * 22)
    assert local.candidates == () and transport._connection._protocols == []
    await transport.stop()


async def test_gathering_waits_no_longer_than_its_bound_for_a_turn_server_that_does_not_answer():
    """aioice waits 5 s for STUN/TURN servers; ``bound_gathering`` shortens that per connection."""
    from aiortc import RTCIceServer
    from aiortc.rtcicetransport import RTCIceGatherer, RTCIceTransport

    from edge.webrtc.aiortc_ext import bound_gathering

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # reads, never answers
        silent.bind(("127.0.0.1", 0))
        server = RTCIceServer(f"turn:127.0.0.1:{silent.getsockname()[1]}", username="u", credential="c")
        transport = RTCIceTransport(RTCIceGatherer(iceServers=[server]))
        bound_gathering(transport, 0.2)
        started = time.monotonic()
        await transport.iceGatherer.gather()
        took = time.monotonic() - started
        await transport.stop()
    assert took < 3, f"gathering took {took:.1f} s: the bound did not reach aioice (its own wait is 5 s)"
    assert not [c for c in transport.iceGatherer.getLocalCandidates() if c.type == "relay"]
