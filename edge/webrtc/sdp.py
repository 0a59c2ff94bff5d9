"""SDP on the wire: its content types, and the line edits made to offers and answers as text.

aiortc parses and writes SDP itself; these are the few places where its text is
not what we want to take or send, each said at the function.
"""

from __future__ import annotations

SDP = "application/sdp"
SDPFRAG = "application/trickle-ice-sdpfrag"  # RFC 8840, for trickle and ICE restarts


def is_mdns_candidate(line: str) -> bool:
    """Whether an ``a=candidate:`` line hides its address behind an mDNS ``.local`` name."""
    fields = line.split()
    return len(fields) > 4 and fields[4].endswith(".local")


def without_mdns_candidates(sdp_text: str) -> tuple[str, bool]:
    """The offer without its ``.local`` candidates (and then without end-of-candidates),
    and whether it had any; see ``ViewerSession.add_remote_candidates`` for why."""
    lines = sdp_text.splitlines()
    kept = [line for line in lines if not (line.startswith("a=candidate:") and is_mdns_candidate(line))]
    hides = len(kept) != len(lines)
    if hides:
        kept = [line for line in kept if line != "a=end-of-candidates"]
    return "".join(line + "\r\n" for line in kept), hides


def extension_sendonly(sdp_text: str, uri: str) -> str:
    """Mark the header extension ``uri`` ``sendonly`` in an answer (RFC 8285 section 6).

    aiortc drops the direction when it reads an offer (Firefox offers the
    playout-delay extension ``recvonly``) and writes none, which would mean ``sendrecv``.
    """
    lines = sdp_text.split("\r\n")
    for index, line in enumerate(lines):
        if line.startswith("a=extmap:") and line.endswith(" " + uri):
            ext_id = line.split()[0].removeprefix("a=extmap:").split("/")[0]
            lines[index] = f"a=extmap:{ext_id}/sendonly {uri}"
    return "\r\n".join(lines)
