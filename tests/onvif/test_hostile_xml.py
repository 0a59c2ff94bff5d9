"""200 malformed and hostile SOAP documents: each gets a SOAP fault with a 4xx, none a 5xx, and
none is expanded (entities), fetched (external references) or left to eat memory."""

from __future__ import annotations

import random
import time

import requests
from defusedxml import ElementTree

from testbed.daemon import DaemonProcess
from testbed.onvif import ENV, soap, username_token

VALID = soap("<tds:GetDeviceInformation/>")
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, b"".join(b"&lol%s;" % (str(i - 1).encode() if i > 1 else b"") for _ in range(10)))
        for i in range(1, 10)
    )
    + b']><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>&lol9;</s:Body></s:Envelope>'
)


def hostile_documents() -> list[tuple[str, bytes]]:
    """Named documents: the attacks known by name, then truncations, wrong namespaces, mutations."""
    envelope = VALID.decode()
    documents = [
        ("billion laughs", LAUGHS),
        ("quadratic blowup", b'<!DOCTYPE s [<!ENTITY a "' + b"x" * 30000 + b'">]><s>' + b"&a;" * 5000 + b"</s>"),
        ("external entity", b'<!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]><s>&x;</s>'),
        ("external entity over http", b'<!DOCTYPE s [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]><s>&x;</s>'),
        ("parameter entity", b'<!DOCTYPE s [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]><s/>'),
        ("external DTD", b'<!DOCTYPE s SYSTEM "http://127.0.0.1:9/s.dtd"><s/>'),
        ("internal DTD only", b"<!DOCTYPE s [<!ELEMENT s ANY>]>" + VALID.split(b"?>", 1)[1]),
        (
            "xinclude",
            envelope.replace(
                "<tds:GetDeviceInformation/>",
                '<x:include xmlns:x="http://www.w3.org/2001/XInclude" href="file:///etc/passwd"/>',
            ).encode(),
        ),
        ("deep nesting", b"<a>" * 20000 + b"</a>" * 20000),
        (
            "deep nesting in the body",
            envelope.replace("<tds:GetDeviceInformation/>", "<x>" * 8000 + "</x>" * 8000).encode(),
        ),
        ("huge", b"<s>" + b"x" * 2_000_000 + b"</s>"),
        ("huge attribute", b'<s a="' + b"x" * 70_000 + b'"/>'),
        ("empty", b""),
        ("not XML", b'{"GetDeviceInformation": {}}'),
        ("binary", bytes(range(256)) * 4),
        ("invalid UTF-8", envelope.encode().replace(b"GetDevice", b"Get\xff\xfeDevice")),
        ("unknown encoding", envelope.replace('encoding="utf-8"', 'encoding="x-klingon"').encode()),
        ("UTF-7", envelope.replace('encoding="utf-8"', 'encoding="utf-7"').encode()),
        (
            "SOAP 1.1",
            envelope.replace(
                "http://www.w3.org/2003/05/soap-envelope", "http://schemas.xmlsoap.org/soap/envelope/"
            ).encode(),
        ),
        ("no namespace", envelope.replace(' xmlns:s="http://www.w3.org/2003/05/soap-envelope"', "").encode()),
        ("unbound prefix", envelope.replace("<tds:GetDevice", "<zzz:GetDevice").replace("/>", "/>", 1).encode()),
        ("wrong operation namespace", envelope.replace("http://www.onvif.org/ver10/device/wsdl", "urn:x").encode()),
        ("no body", envelope.replace("<s:Body><tds:GetDeviceInformation/></s:Body>", "").encode()),
        ("empty body", envelope.replace("<tds:GetDeviceInformation/>", "").encode()),
        ("two operations", envelope.replace("<tds:GetDeviceInformation/>", "<tds:GetDeviceInformation/>" * 2).encode()),
        ("text body", envelope.replace("<tds:GetDeviceInformation/>", "hello").encode()),
        ("processing instruction", envelope.replace("<s:Body>", "<s:Body><?php system('id'); ?>").encode()),
        ("two roots", VALID + VALID.split(b"?>", 1)[1]),
        ("many attributes", b"<s " + b" ".join(b'a%d="1"' for i in range(5000)) + b"/>"),
        (
            "bad token",
            envelope.replace(
                "<s:Body>",
                "<s:Header>"
                + username_token("edge", "x").replace("<wsu:Created>", "<wsu:Created>not a date")
                + "</s:Header><s:Body>",
            ).encode(),
        ),
        (
            "bad nonce",
            envelope.replace(
                "<s:Body>",
                "<s:Header>"
                + username_token("edge", "x").replace("<wsse:Nonce>", "<wsse:Nonce>!!!")
                + "</s:Header><s:Body>",
            ).encode(),
        ),
    ]
    for cut in range(1, len(VALID), max(1, len(VALID) // 60)):
        documents.append((f"truncated at {cut}", VALID[:cut]))
    rng = random.Random(26)
    while len(documents) < 200:
        mutated = bytearray(VALID)
        for _ in range(rng.randint(1, 8)):
            position = rng.randrange(len(mutated))
            action = rng.choice(("flip", "drop", "insert"))
            if action == "flip":
                mutated[position] ^= 1 << rng.randrange(8)
            elif action == "drop":
                del mutated[position]
            else:
                mutated.insert(position, rng.choice(b"<>&;\"'/=!?[]%\x00 "))
        documents.append((f"mutation {len(documents)}", bytes(mutated)))
    return documents


def rss_mib(daemon: DaemonProcess) -> float:
    return daemon.health()["process"]["rss_mib"]


def test_every_hostile_document_gets_a_fault_never_a_5xx(onvif_daemon):
    documents = hostile_documents()
    assert len(documents) >= 200
    rss_before = rss_mib(onvif_daemon)
    answers: dict[int, int] = {}
    with requests.Session() as session:
        for name, document in documents:
            response = session.post(
                onvif_daemon.url + "/onvif/device_service",
                data=document,
                headers={"Content-Type": "application/soap+xml; charset=utf-8"},
                timeout=10,
            )
            answers[response.status_code] = answers.get(response.status_code, 0) + 1
            if response.status_code == 200:  # a mutation that is still a valid request (a changed letter in a value)
                assert b"GetDeviceInformationResponse" in response.content
                continue
            assert 400 <= response.status_code < 500, f"{name}: {response.status_code} {response.text[:300]}"
            root = ElementTree.fromstring(response.content)
            assert root.find(f"{{{ENV}}}Body/{{{ENV}}}Fault") is not None, f"{name}: {response.text[:300]}"
            assert b"lollol" not in response.content and b"root:" not in response.content, name
    print(f"answers by status: {answers}")
    assert answers.get(200, 0) < 20, "most of the documents are not requests"
    assert rss_mib(onvif_daemon) - rss_before < 30, "the documents cost memory that stays"
    assert onvif_daemon.health()["onvif"]["state"] == "serving"


def test_a_billion_laughs_is_refused_at_once(onvif_daemon):
    rss_before = rss_mib(onvif_daemon)
    took = []
    for _ in range(20):
        started = time.monotonic()
        response = requests.post(
            onvif_daemon.url + "/onvif/device_service",
            data=LAUGHS,
            headers={"Content-Type": "application/soap+xml"},
            timeout=10,
        )
        took.append(time.monotonic() - started)
        assert response.status_code == 400 and b"DTDForbidden" in response.content
    print(f"billion laughs refused in {min(took) * 1000:.1f}-{max(took) * 1000:.1f} ms")
    assert max(took) < 0.5
    assert rss_mib(onvif_daemon) - rss_before < 10
