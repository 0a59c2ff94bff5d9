"""WHEP (draft-ietf-wish-whep) signaling: POST an offer, PATCH trickle or ICE restart, DELETE to leave.

Signaling owns the HTTP side of WHEP (content types, offer checks, ETag and
``If-Match``, refusals) and calls the viewer sessions of ``edge.webrtc`` with plain
values; ``edge.webrtc`` owns SDP (``sdp``, ``sdp_fragments``).
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiortc.exceptions import OperationError

from edge.security.auth import AUTHENTICATOR_KEY, authorised
from edge.security.origin import CHECKS_KEY
from edge.signaling.offer import MALFORMED, MAX_OFFER_BYTES, OfferError, accepted_media, check_offer
from edge.signaling.patch import PatchKind, classify_patch, etag
from edge.signaling.refusals import RefusedOffers
from edge.web.errors import ErrorResponse
from edge.web.forwarded import prefix
from edge.webrtc.ice_servers import link_headers
from edge.webrtc.quality import QualityMode, quality_mode
from edge.webrtc.sdp import SDP, SDPFRAG
from edge.webrtc.sdp_fragments import SdpFragError, format_sdpfrag, parse_sdpfrag
from edge.webrtc.viewers import ViewerLimit, Viewers

log = logging.getLogger(__name__)

VIEWERS_KEY = web.AppKey("viewers", Viewers)
REFUSED_KEY = web.AppKey("refused_offers", RefusedOffers)

# A refused request says why in one line of text for people, and in this header
# for programs (the page stops retrying on "no-h264"). Values: "content-type",
# "too-large", "not-utf8", "quality" (an unknown ?quality=), plus those of
# edge.signaling.offer ("malformed", "no-video", "wrong-direction", "no-h264")
# and "viewer-limit", "cannot-answer".
REASON_HEADER = "X-Edge-Reason"

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "OPTIONS, POST, PATCH, DELETE",
    "Access-Control-Allow-Headers": "Content-Type, Authorization, If-Match",
    "Access-Control-Expose-Headers": f"Location, ETag, Accept-Patch, Link, {REASON_HEADER}",
    "Access-Control-Max-Age": "86400",
}


def _refusal(status: int, reason: str, code: str | None = None, **headers: str) -> ErrorResponse:
    """Every WHEP error: :class:`ErrorResponse` with the CORS headers, and ``code`` in X-Edge-Reason."""
    if code:
        headers[REASON_HEADER] = code
    return ErrorResponse(status, reason, {**CORS_HEADERS, **headers})


async def _read_text(request: web.Request, content_type: str) -> str:
    if request.content_type != content_type:
        raise _refusal(415, f"Content-Type must be {content_type}", "content-type")
    if request.content_length is not None and request.content_length > MAX_OFFER_BYTES:
        raise _refusal(413, f"body too large (at most {MAX_OFFER_BYTES} bytes)", "too-large")
    body = bytearray()
    while chunk := await request.content.read(MAX_OFFER_BYTES + 1 - len(body)):
        body += chunk
        if len(body) > MAX_OFFER_BYTES:
            raise _refusal(413, f"body too large (at most {MAX_OFFER_BYTES} bytes)", "too-large")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise _refusal(400, "body is not UTF-8 text", "not-utf8") from None


def _add_ice_servers(request: web.Request, response: web.Response) -> web.Response:
    """RFC 9725 section 4.6: the ICE servers, TURN credentials made for this request, as ``Link`` headers."""
    for link in link_headers(request.app[VIEWERS_KEY].ice_servers.minted()):
        response.headers.add("Link", link)
    return response


async def _may_have_ice_servers(request: web.Request) -> bool:
    """With access control on: the token or a session (a CORS preflight carries neither). Off: anyone
    who may watch, but not another site's page in the browser of someone on the LAN (``Access-Control-
    Allow-Origin: *`` would let it read the TURN credentials)."""
    if AUTHENTICATOR_KEY in request.app:
        return await authorised(request)
    checks = request.app.get(CHECKS_KEY)
    return checks is None or checks.from_own_page(request)


async def options(request: web.Request) -> web.Response:
    response = web.Response(status=204, headers={**CORS_HEADERS, "Accept-Post": SDP, "Accept-Patch": SDPFRAG})
    return _add_ice_servers(request, response) if await _may_have_ice_servers(request) else response


async def post_offer(request: web.Request) -> web.Response:
    try:
        return await _answer_offer(request)
    except ErrorResponse as refusal:
        request.app[REFUSED_KEY].refused(
            request.remote,
            refusal.status,
            refusal.headers.get(REASON_HEADER, MALFORMED),
            refusal.text or "",
            request.headers.get("User-Agent"),
        )
        raise


def _quality(request: web.Request) -> QualityMode:
    """``?quality=auto|high|low``: the camera's main stream, its low one, or what the viewer's link carries."""
    value = request.query.get("quality", QualityMode.AUTO)
    mode = quality_mode(value)
    if mode is None:
        choices = ", ".join(QualityMode)
        raise _refusal(400, f"quality must be one of {choices}, not {value[:40]!r}", "quality")
    return mode


async def _answer_offer(request: web.Request) -> web.Response:
    quality = _quality(request)
    text = await _read_text(request, SDP)
    try:
        offer = check_offer(text)
    except OfferError as exc:
        raise _refusal(400, str(exc), exc.code) from None
    viewers = request.app[VIEWERS_KEY]
    try:
        session, answer = await viewers.create(text, wants_audio=bool(accepted_media(offer, "audio")), quality=quality)
    except ViewerLimit as exc:
        raise _refusal(503, str(exc), "viewer-limit", **{"Retry-After": str(exc.retry_after)}) from None
    except (ValueError, OperationError) as exc:  # aiortc found nothing it can answer
        raise _refusal(400, f"cannot answer this offer: {exc}", "cannot-answer") from None
    location = prefix(request) + str(request.app.router["whep_session"].url_for(session_id=session.id))
    response = web.Response(
        status=201,
        text=answer,
        content_type=SDP,
        headers={
            **CORS_HEADERS,
            "Location": location,
            "ETag": etag(session.id, session.generations.number),
            "Accept-Patch": SDPFRAG,
        },
    )
    return _add_ice_servers(request, response)  # the request was let in: it may have them


async def patch_session(request: web.Request) -> web.Response:
    session = request.app[VIEWERS_KEY].get(request.match_info["session_id"])
    if session is None:
        raise _refusal(404, "no such session")
    text = await _read_text(request, SDPFRAG)
    try:
        frag = parse_sdpfrag(text)
    except SdpFragError as exc:
        raise _refusal(400, f"malformed sdpfrag: {exc}") from None
    kind = classify_patch(session.id, session.generations, frag.credentials, request.headers.get("If-Match"))
    if kind is PatchKind.PRECONDITION_FAILED:
        raise _refusal(412, "If-Match does not match the session's current ETag")
    if kind is PatchKind.STALE:
        return web.Response(status=204, headers=CORS_HEADERS)  # an earlier ICE generation's late candidates
    if kind is PatchKind.TRICKLE:
        session.add_remote_candidates(frag.candidates, frag.end_of_candidates)
        return web.Response(status=204, headers=CORS_HEADERS)
    credentials = frag.credentials
    assert credentials is not None, "a fragment without credentials is trickle"
    try:
        answer = await session.restart_ice(*credentials)
    except Exception as exc:  # gathering failed; the page retries or starts afresh
        raise _refusal(503, f"ICE restart failed: {exc}") from None
    session.add_remote_candidates(frag.candidates, frag.end_of_candidates)  # the new generation's
    local = answer.local
    return web.Response(
        status=200,
        text=format_sdpfrag(local.ufrag, local.pwd, local.candidates, answer.kind, answer.mid),
        content_type=SDPFRAG,
        headers={**CORS_HEADERS, "ETag": etag(session.id, answer.generation)},
    )


async def delete_session(request: web.Request) -> web.Response:
    session = request.app[VIEWERS_KEY].get(request.match_info["session_id"])
    if session is None:
        raise _refusal(404, "no such session")
    await session.close()
    return web.Response(status=200, headers=CORS_HEADERS)


def add_routes(app: web.Application, viewers: Viewers, refused: RefusedOffers | None = None) -> None:
    """``refused`` counts and logs refused offers (the daemon shows its counts in its status)."""
    app[VIEWERS_KEY] = viewers
    app[REFUSED_KEY] = refused if refused is not None else RefusedOffers()
    app.router.add_route("OPTIONS", "/whep", options)
    app.router.add_post("/whep", post_offer)
    resource = app.router.add_resource("/whep/{session_id}", name="whep_session")
    resource.add_route("OPTIONS", options)
    resource.add_route("PATCH", patch_session)
    resource.add_route("DELETE", delete_session)
