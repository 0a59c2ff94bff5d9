"""What a PATCH is (IceGenerations, ETags), RecoveryClock, NetworkChange, the restart's sdpfrag."""

from __future__ import annotations

import asyncio

from edge.signaling.patch import PatchKind, classify_patch, etag
from edge.webrtc.recovery import KEEP_GENERATIONS, IceGenerations, RecoveryClock
from edge.webrtc.sdp_fragments import format_sdpfrag, parse_sdpfrag
from hw.network_watch import Interface, NetworkChange, open_netwatch

FIRST = ("abcd", "p" * 22)
SECOND = ("efgh", "q" * 22)
SESSION = "a-session-id"


def classify(generations: IceGenerations, remote: tuple[str, str] | None, if_match: str | None) -> PatchKind:
    return classify_patch(SESSION, generations, remote, if_match)


async def test_patches_are_told_apart_by_credentials_not_by_if_match():
    generations = IceGenerations(FIRST)
    etag0 = etag(SESSION, generations.number)
    assert classify(generations, None, None) is PatchKind.TRICKLE
    assert classify(generations, FIRST, "*") is PatchKind.TRICKLE  # If-Match: * on trickle
    assert classify(generations, FIRST, '"stale"') is PatchKind.PRECONDITION_FAILED
    assert classify(generations, SECOND, "*") is PatchKind.RESTART
    assert classify(generations, SECOND, '"stale"') is PatchKind.PRECONDITION_FAILED

    restart = generations.begin(SECOND)
    new_etag = etag(SESSION, restart.generation)
    assert etag(SESSION, generations.number) == new_etag != etag0 and generations.current == SECOND
    for if_match in (None, "*", etag0):
        assert classify(generations, SECOND, if_match) is PatchKind.REPEAT
    assert classify(generations, SECOND, new_etag) is PatchKind.TRICKLE  # the new generation's trickle
    assert classify(generations, FIRST, "*") is PatchKind.STALE
    assert classify(generations, None, etag0) is PatchKind.PRECONDITION_FAILED

    generations.abandon(restart)  # it failed before taking effect
    assert (generations.current, etag(SESSION, generations.number), generations.latest) == (FIRST, etag0, None)
    assert classify(generations, SECOND, "*") is PatchKind.RESTART
    again = generations.begin(SECOND)
    assert etag(SESSION, again.generation) not in (etag0, new_etag)  # an abandoned generation's ETag is not reused


def test_etags_are_opaque_and_each_sessions_own():
    tag = etag(SESSION, 0)
    assert tag.startswith('"') and tag.endswith('"') and len(tag) == 18
    assert tag == etag(SESSION, 0) != etag("another-session", 0)


async def test_only_recent_generations_are_remembered():
    generations = IceGenerations(FIRST)
    for n in range(KEEP_GENERATIONS + 2):
        generations.begin((f"u{n:03d}", "p" * 22))
    assert classify(generations, FIRST, "*") is PatchKind.RESTART  # forgotten: taken as new
    assert classify(generations, ("u005", "p" * 22), "*") is PatchKind.STALE
    assert isinstance(generations.latest.answer, asyncio.Future)


def test_recovery_clock():
    clock = RecoveryClock()
    clock.trouble(10.0)
    clock.trouble(11.0)  # the same episode
    clock.path_back()  # the link came back with no restart under way: nothing to recover
    assert clock.since is None and clock.recoveries == 0

    clock.trouble(20.0)
    clock.restart_requested(20.5)
    clock.path_back()  # a restart is under way: only a new pair ends it
    assert clock.since == 20.0
    clock.new_pair(21.25)
    assert (clock.restarts, clock.recoveries, clock.last_recovery_s, clock.since) == (1, 1, 1.25, None)
    status = clock.status(31.25)
    assert status == {
        "restarts": 1,
        "recoveries": 1,
        "recovering_for_s": None,
        "last_recovery_s": 1.25,
        "last_recovered_s_ago": 10.0,
    }
    clock.new_pair(40.0)  # the browser switching paths by itself is no recovery
    assert clock.recoveries == 1


def test_network_change():
    before = {"eth0": Interface(True, frozenset({"10.0.0.2"})), "wlan0": Interface(True, frozenset({"10.1.0.2"}))}
    after = {"eth0": Interface(False, frozenset({"10.0.0.2"})), "wlan0": Interface(True, frozenset({"10.1.0.3"}))}
    change = NetworkChange(before, after, 1.0)
    assert change.changed
    assert change.lost("10.0.0.2") and change.lost("10.1.0.2")  # link down; address gone
    assert not change.lost("127.0.0.1")  # not one the watch knows of (loopback, other interfaces)
    assert change.usable("10.1.0.3") and not change.usable("10.0.0.2")
    assert change.describe() == "+10.1.0.3, -10.1.0.2, eth0 down"
    assert change.addresses_changed
    assert not NetworkChange(
        before, {**before, "eth0": Interface(False, frozenset({"10.0.0.2"}))}, 2.0
    ).addresses_changed
    assert not NetworkChange(before, dict(before), 2.0).changed


def test_netwatch_backends():
    assert open_netwatch("off", 0.2, 10) is None
    assert open_netwatch("netlink", 0.2, 10).name == "netlink"
    assert open_netwatch("poll", 0.2, 10).name == "poll"


def test_restart_answer_fragment_round_trips():
    candidates = ["1 1 udp 2130706431 10.0.0.2 5000 typ host"]
    text = format_sdpfrag("ufra", "p" * 24, candidates, "video", "0")
    frag = parse_sdpfrag(text)
    assert frag.credentials == ("ufra", "p" * 24)
    assert frag.candidates == candidates and frag.end_of_candidates
    assert "m=video 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n" in text
