"""HTTP Digest as the daemon checks it, answered by the standard library's Digest client
(``urllib.request``'s, which counts its requests per nonce as browsers and NVRs do)."""

from __future__ import annotations

import urllib.request
from unittest import mock

from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.onvif.auth import OnvifAuth
from edge.onvif.soap import SoapFault, parse
from edge.security.auth import AUTHENTICATOR_KEY, Authenticator, authorised
from edge.security.digest import NONCE_SECONDS, DigestAuth, DigestResult
from edge.web.errors import ErrorResponse
from testbed.onvif import soap

TOKEN = "the-token-0123456789abcdef"
PATH = "/api/snapshot.jpg"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def client(password: str = TOKEN) -> urllib.request.AbstractDigestAuthHandler:
    passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    passwords.add_password(None, "http://camera/", "edge", password)
    return urllib.request.AbstractDigestAuthHandler(passwords)


def answer(
    handler: urllib.request.AbstractDigestAuthHandler, challenge: str, path: str = PATH, method: str = "GET"
) -> str:
    fields = urllib.request.parse_keqv_list(urllib.request.parse_http_list(challenge.removeprefix("Digest ")))
    authorization = handler.get_authorization(urllib.request.Request("http://camera" + path, method=method), fields)
    assert authorization is not None
    return "Digest " + authorization


def test_the_right_password_passes_and_a_wrong_one_or_user_does_not():
    auth = DigestAuth("edge", TOKEN)
    md5 = auth.challenge()
    assert auth.check(answer(client(), md5), "GET", PATH) is DigestResult.OK
    assert auth.check(answer(client("guess-0123456789"), md5), "GET", PATH) is DigestResult.WRONG
    other_user = answer(client(), md5).replace('username="edge"', 'username="admin"')
    assert auth.check(other_user, "GET", PATH) is DigestResult.WRONG


def test_a_captured_answer_does_not_work_twice_nor_for_another_path_or_method():
    auth = DigestAuth("edge", TOKEN)
    handler = client()
    challenge = auth.challenge()
    first = answer(handler, challenge)
    assert auth.check(first, "GET", PATH) is DigestResult.OK
    assert auth.check(first, "GET", PATH) is DigestResult.WRONG, "the same nonce count again: a replay"
    second = answer(handler, challenge)  # the client's next request on that nonce counts on
    assert auth.check(second, "GET", PATH) is DigestResult.OK
    assert auth.check(answer(handler, challenge), "GET", "/api/status") is DigestResult.WRONG
    assert auth.check(answer(handler, challenge), "POST", PATH) is DigestResult.WRONG


def test_an_old_nonce_is_stale_and_a_made_up_one_is_wrong():
    clock = Clock()
    auth = DigestAuth("edge", TOKEN, clock=clock)
    challenge = auth.challenge()
    clock.now += NONCE_SECONDS + 1
    assert auth.check(answer(client(), challenge), "GET", PATH) is DigestResult.STALE
    made_up = challenge.replace('nonce="', 'nonce="1000.000:0000')
    assert auth.check(answer(client(), made_up), "GET", PATH) is DigestResult.WRONG
    for garbage in ("Digest garbage", "Digest nonce=", 'Digest nonce="x", uri', "Digest "):
        assert auth.check(garbage, "GET", PATH) is DigestResult.WRONG, garbage


FIELDS = st.lists(
    st.tuples(
        st.sampled_from(["username", "realm", "nonce", "uri", "response", "qop", "nc", "cnonce", "algorithm", ""]),
        st.one_of(st.text(max_size=20), st.sampled_from(['"edge"', "00000001", PATH, "auth", "MD5"])),
        st.sampled_from(["=", '="', "", '=""', ",", " "]),
    ),
    max_size=12,
).map(lambda parts: ", ".join(f"{key}{separator}{value}" for key, value, separator in parts))


@settings(max_examples=2000, deadline=None, derandomize=True, database=None)
@given(FIELDS)
def test_any_made_up_header_is_wrong_never_an_exception(fields: str):
    assert DigestAuth("edge", TOKEN).check("Digest " + fields, "GET", PATH) is DigestResult.WRONG


STALE_TIMES = 10  # more than the 5 wrong passwords an address may send


def mocked(app: web.Application, method: str, path: str, header: str) -> web.Request:
    transport = mock.Mock()
    transport.get_extra_info.return_value = ("192.0.2.10", 40000)
    return make_mocked_request(method, path, headers={"Authorization": header}, app=app, transport=transport)


async def test_a_stale_nonce_with_the_right_password_is_no_wrong_guess_for_the_api_nor_onvif(tmp_path):
    """An NVR that keeps a nonce too long is challenged again (stale=true) as often as that happens,
    and is never slowed down or locked out for it, by the HTTP API or by ONVIF."""
    clock = Clock()
    authenticator = Authenticator(TOKEN, 1, tmp_path)
    authenticator.digest = DigestAuth("edge", TOKEN, clock=clock)
    onvif = OnvifAuth(TOKEN)
    onvif.digest = DigestAuth("edge", TOKEN, realm="edge-onvif", clock=clock)
    app = web.Application()
    app[AUTHENTICATOR_KEY] = authenticator
    operation = parse(soap("<tds:GetDeviceInformation/>"))

    async def api(challenge: str) -> int:
        try:
            assert await authorised(mocked(app, "GET", PATH, answer(client(), challenge)))
        except ErrorResponse as refused:
            return refused.status
        return 200

    async def device_service(challenge: str) -> str:
        path = "/onvif/device_service"
        try:
            await onvif.check(mocked(app, "POST", path, answer(client(), challenge, path, "POST")), operation)
        except SoapFault as refused:
            return refused.reason
        return "ok"

    for _ in range(STALE_TIMES):
        old_api, old_onvif = authenticator.digest.challenge(), onvif.digest.challenge()
        clock.now += NONCE_SECONDS + 1
        assert await api(old_api) == 401
        assert await device_service(old_onvif) == "the digest's nonce is stale"
    assert await api(authenticator.digest.challenge()) == 200
    assert await device_service(onvif.digest.challenge()) == "ok"
