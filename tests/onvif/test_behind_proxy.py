"""ONVIF behind a trusted reverse proxy at ``/cam/``: every address the camera hands out (the services'
XAddrs, the snapshot URI, a subscription's address) is under the proxy's prefix, and HTTP Digest,
whose signed uri is the prefixed path, works through Debian's nginx running docs/examples' configuration."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import requests
from defusedxml import ElementTree

from testbed.daemon import DaemonProcess
from testbed.onvif import ONVIF_CONFIG, soap, username_token
from testbed.proxy import PREFIX, Certificate, Nginx, Proxy, running

CONFIG = ONVIF_CONFIG + '[server]\ntrusted_proxies = ["127.0.0.1"]\n'
# What nginx and Caddy send in front of the daemon at https://home.example:8443/cam/ (docs/examples/).
FROM_PROXY = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "home.example:8443", "X-Forwarded-Prefix": "/cam"}
OUTSIDE = "https://home.example:8443/cam"
TT = "{http://www.onvif.org/ver10/schema}"
TDS = "{http://www.onvif.org/ver10/device/wsdl}"
WSA = "{http://www.w3.org/2005/08/addressing}"
TEV = "http://www.onvif.org/ver10/events/wsdl"
SOAP_TYPE = {"Content-Type": "application/soap+xml; charset=utf-8"}


@pytest.fixture(scope="module")
def behind_proxy(module_daemon_factory) -> DaemonProcess:
    return module_daemon_factory(CONFIG)


@pytest.fixture
def nginx(behind_proxy: DaemonProcess, tmp_path: Path) -> Iterator[Proxy]:
    with running(Nginx(tmp_path / "nginx", behind_proxy.port, Certificate.make(tmp_path))) as proxy:
        yield proxy


def ask(daemon: DaemonProcess, path: str, body: str) -> ElementTree.Element:
    """An authenticated request as the trusted proxy passes it on; the answer's parsed XML."""
    response = requests.post(
        daemon.url + path,
        data=soap(body, username_token("edge", daemon.token)),
        headers={**SOAP_TYPE, **FROM_PROXY},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return ElementTree.fromstring(response.content)


def texts(root: ElementTree.Element, tag: str) -> list[str]:
    return [element.text or "" for element in root.iter(tag)]


def test_every_address_handed_out_is_under_the_proxys_prefix(behind_proxy):
    capabilities = ask(behind_proxy, "/onvif/device_service", '<tds:GetCapabilities Category="All"/>')
    assert sorted(texts(capabilities, f"{TT}XAddr")) == [
        f"{OUTSIDE}/onvif/device_service",
        f"{OUTSIDE}/onvif/events_service",
        f"{OUTSIDE}/onvif/media_service",
    ]
    services = ask(behind_proxy, "/onvif/device_service", "<tds:GetServices/>")
    assert all(xaddr.startswith(f"{OUTSIDE}/onvif/") for xaddr in texts(services, f"{TDS}XAddr"))
    profile = "<trt:ProfileToken>main</trt:ProfileToken>"
    snapshot = ask(behind_proxy, "/onvif/media_service", f"<trt:GetSnapshotUri>{profile}</trt:GetSnapshotUri>")
    assert texts(snapshot, f"{TT}Uri") == [f"{OUTSIDE}/api/snapshot.jpg"]
    subscribed = ask(behind_proxy, "/onvif/events_service", f'<tev:CreatePullPointSubscription xmlns:tev="{TEV}"/>')
    [address] = texts(subscribed, f"{WSA}Address")
    assert address.startswith(f"{OUTSIDE}/onvif/subscription/")


async def test_http_digest_works_through_nginx_for_the_services_the_snapshot_and_a_subscription(behind_proxy, nginx):
    """aiohttp's Digest client signs the path it asks for, /cam/...; the daemon gets it without /cam."""
    base = f"https://127.0.0.1:{nginx.port}{PREFIX}"
    tls = ssl.create_default_context(cafile=str(nginx.cert))
    digest = aiohttp.DigestAuthMiddleware("edge", behind_proxy.token)
    async with aiohttp.ClientSession(middlewares=(digest,), connector=aiohttp.TCPConnector(ssl=tls)) as session:

        async def call(url: str, body: str) -> ElementTree.Element:
            async with session.post(url, data=soap(body), headers=SOAP_TYPE) as response:
                assert response.status == 200, await response.text()
                return ElementTree.fromstring(await response.read())

        profiles = await call(f"{base}/onvif/media_service", "<trt:GetProfiles/>")
        assert texts(profiles, f"{TT}Encoding")[0] == "H264"
        subscribed = await call(f"{base}/onvif/events_service", f'<tev:CreatePullPointSubscription xmlns:tev="{TEV}"/>')
        [address] = texts(subscribed, f"{WSA}Address")
        assert address.startswith(f"{base}/onvif/subscription/"), "the address the client reached, /cam and all"
        pull = "<tev:Timeout>PT0S</tev:Timeout><tev:MessageLimit>10</tev:MessageLimit>"
        await call(address, f'<tev:PullMessages xmlns:tev="{TEV}">{pull}</tev:PullMessages>')
        async with session.get(f"{base}/api/snapshot.jpg") as response:
            assert response.status == 200, await response.text()
            assert (await response.read())[:2] == b"\xff\xd8"
    assert all(r.path.startswith(f"{PREFIX}/") for r in nginx.requests()), "nothing left the proxy's prefix"
