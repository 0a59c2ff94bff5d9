"""``application/trickle-ice-sdpfrag`` bodies (RFC 8840): what WHEP clients PATCH to us, and
what the WHIP client PATCHes to media servers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

MAX_LINES = 200


class SdpFragError(ValueError):
    pass


@dataclass
class SdpFrag:
    ice_ufrag: str | None = None
    ice_pwd: str | None = None
    candidates: list[str] = field(default_factory=list)  # the part after "a=candidate:"
    end_of_candidates: bool = False

    @property
    def credentials(self) -> tuple[str, str] | None:
        """(ice-ufrag, ice-pwd), when the fragment has them (the parser insists on both or neither)."""
        return (self.ice_ufrag, self.ice_pwd) if self.ice_ufrag is not None and self.ice_pwd is not None else None


def parse_sdpfrag(body: str) -> SdpFrag:
    frag = SdpFrag()
    lines = [line.strip() for line in body.replace("\r\n", "\n").split("\n") if line.strip()]
    if len(lines) > MAX_LINES:
        raise SdpFragError(f"too many lines in the fragment (at most {MAX_LINES})")
    for line in lines:
        if len(line) < 2 or line[1] != "=" or line[0] not in "avmcbtrkizeuops":
            raise SdpFragError(f"not an SDP line: {line[:60]!r}")
        if not line.startswith("a="):
            continue  # m=, c= ... lines only scope the attributes that follow
        name, _, value = line[2:].partition(":")
        if name == "ice-ufrag":
            frag.ice_ufrag = _ice_chars(name, value)
        elif name == "ice-pwd":
            frag.ice_pwd = _ice_chars(name, value)
        elif name == "candidate":
            if len(value.split()) < 8:
                raise SdpFragError(f"malformed candidate: {value[:60]!r}")
            frag.candidates.append(value)
        elif name == "end-of-candidates":
            frag.end_of_candidates = True
    if (frag.ice_ufrag is None) != (frag.ice_pwd is None):
        raise SdpFragError("a fragment with ice-ufrag needs ice-pwd too, and vice versa")
    return frag


def _ice_chars(name: str, value: str) -> str:
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/")
    if not 4 <= len(value) <= 256 or not set(value) <= allowed:
        raise SdpFragError(f"invalid {name}")
    return value


def format_sdpfrag(ufrag: str, pwd: str, candidates: Iterable[str], kind: str, mid: str) -> str:
    """The server's side of an ICE restart (RFC 9725 section 4.3.2, RFC 8840 syntax).

    Credentials at session level, then the bundle's first media section with
    every candidate (they are all gathered before we answer) and
    end-of-candidates.
    """
    lines = [f"a=ice-ufrag:{ufrag}", f"a=ice-pwd:{pwd}", f"m={kind} 9 UDP/TLS/RTP/SAVPF 0", f"a=mid:{mid}"]
    lines += [f"a=candidate:{candidate}" for candidate in candidates]
    lines.append("a=end-of-candidates")
    return "\r\n".join(lines) + "\r\n"
