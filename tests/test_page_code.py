"""What Safari (and other browsers we cannot run here) needs from the page, read from its code.

Debian's WebKitGTK has WebRTC compiled out, so no Safari-like browser runs in
these tests. These checks read edge/web/static as text and hold the page to
the facts Safari depends on:

- the live <video> autoplays inline and muted (iOS refuses anything else);
- only a person's action unmutes it (Safari plays sound only after one);
- every getStats() field the page reads may be absent (Safari and Firefox
  leave out different ones): each read is guarded;
- APIs Safari lacks, or lacked until recently, are feature-checked before use.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

STATIC = Path(__file__).parents[1] / "edge" / "web" / "static"


def source(name: str) -> str:
    return (STATIC / name).read_text()


def scripts() -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(STATIC.glob("*.js"))}


def without_comments(js: str) -> str:
    """``//`` line comments and ``/* */`` blocks blanked (same line numbers); the page has no ``//`` in strings."""
    js = re.sub(r"/\*.*?\*/", lambda m: re.sub(r"[^\n]", " ", m.group()), js, flags=re.S)
    return re.sub(r"(^|[^:\\])//[^\n]*", r"\1", js)


def without_strings(js: str) -> str:
    """String literals blanked too: what is left is code."""
    return re.sub(r"'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"|`(?:[^`\\]|\\.)*`", "''", js)


_BLOCK_START = re.compile(
    r"^(export\s+)?(async\s+)?function\b"  # a top-level function
    r"|^(export\s+)?(const|let|var|class)\b"  # a top-level binding (an IIFE, an arrow function...)
    # a class method
    r"|^  (?!(if|for|while|switch|catch|return)\b)(static\s+|async\s+|get\s+|set\s+)*[\w$]+\s*\(.*\)\s*\{\s*$"
)


def block_of(lines: list[str], index: int) -> list[str]:
    """The lines of the top-level function (or class method) holding line ``index``, up to that line."""
    for start in range(index, -1, -1):
        if _BLOCK_START.match(lines[start]):
            return lines[start : index + 1]
    return lines[: index + 1]


# --- the video element ----------------------------------------------------------------


class _Videos(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.videos: dict[str, dict[str, str | None]] = {}

    def handle_starttag(self, tag, attrs):
        if tag == "video":
            attributes = dict(attrs)
            self.videos[attributes.get("id") or ""] = attributes


def test_the_live_video_autoplays_inline_and_muted():
    parser = _Videos()
    parser.feed(source("index.html"))
    assert "video" in parser.videos, "index.html has no <video id=video>"
    attributes = parser.videos["video"]
    for needed, why in [
        ("autoplay", "starts without a tap"),
        ("playsinline", "iPhone Safari would otherwise play it only in native fullscreen"),
        ("muted", "Safari autoplays only muted video"),
    ]:
        assert needed in attributes, f"<video id=video> lacks {needed}: {why}"


def test_only_a_persons_action_unmutes():
    code = without_comments(source("viewer.js"))
    lines = code.splitlines()
    assignments = [n for n, line in enumerate(lines) if re.search(r"\.muted\s*=(?!=)", line)]
    assert assignments, "viewer.js no longer sets video.muted: update this test"
    for n in assignments:
        header = block_of(lines, n)[0]
        assert header.startswith("function toggleMute("), f"viewer.js:{n + 1} sets muted outside toggleMute()"

    # toggleMute is called from a click on the unmute button and the "m" key, nothing else.
    uses = [(n, line.strip()) for n, line in enumerate(lines) if re.search(r"\btoggleMute\b", line)]
    allowed = {
        "function toggleMute() {",
        "ui.unmute.addEventListener('click', toggleMute);",
        "m: toggleMute,",
    }
    for n, line in uses:
        assert line in allowed, f"viewer.js:{n + 1} uses toggleMute otherwise than on a click or key: {line}"
        if line == "m: toggleMute,":
            assert block_of(lines, n)[0].startswith("function onKey("), "the 'm' shortcut is not in onKey"
    assert "document.addEventListener('keydown', onKey);" in code
    assert not re.search(r"\.muted\s*=", without_comments(source("recordings.js"))), "recordings.js unmutes"
    # The clip player silences the live video while a clip plays, and gives it back as it was.
    assignments = re.findall(r"\.muted\s*=\s*([^;]+);", without_comments(source("player.js")))
    assert assignments == ["true", "this.liveWasMuted"], f"player.js sets the live sound otherwise: {assignments}"


# --- getStats fields ---------------------------------------------------------------

# RTCStats fields (W3C webrtc-stats) the page might read; each may be missing in some browser.
STATS_FIELDS = (
    "frameWidth frameHeight framesPerSecond framesDecoded framesReceived framesDropped bytesReceived"
    " packetsReceived packetsLost jitter currentRoundTripTime totalRoundTripTime codecId mimeType"
    " selectedCandidatePairId selected nominated state timestamp kind mediaType isRemote type"
    " audioLevel totalAudioEnergy freezeCount jitterBufferDelay transportId trackIdentifier"
    " estimatedPlayoutTimestamp totalPlayoutDelay totalSamplesCount"
).split()
_READ = re.compile(r"(?P<obj>[\w\]\)]+)(?P<op>\?\.|\.)(?P<field>" + "|".join(STATS_FIELDS) + r")\b(?!\s*\()")


def _guarded(line: str, match: re.Match, earlier: str) -> bool:
    """Is this read safe when the field is absent? ``earlier``: its function's lines before this one."""
    obj, field = re.escape(match["obj"]), match["field"]
    after = line[match.end() :]
    before = line[: match.start()]
    return bool(
        match["op"] == "?."  # optional chaining: undefined when absent
        or re.match(r"\s*(\?\?|===|!==|&&|\|\||\)|\?(?!\.))", after)  # a default, a comparison or a test
        or re.search(r"typeof\s+$", before)
        or re.search(rf"{obj}\?\.{field}\b", before)  # checked on this line: x?.f ? x.f... : ...
        or re.search(rf"typeof\s+{obj}\??\.{field}\b", earlier + "\n" + before)  # type checked first
    )


def test_every_getstats_field_the_page_reads_is_guarded():
    readers = {name: code for name, code in scripts().items() if "getStats(" in code}
    assert {"stats.js", "recovery.js", "lipsync.js"} <= set(readers), f"getStats() readers: {sorted(readers)}"
    checked = 0
    for name, code in readers.items():
        lines = without_strings(without_comments(code)).splitlines()
        for n, line in enumerate(lines):
            for match in _READ.finditer(line):
                checked += 1
                assert _guarded(line, match, "\n".join(block_of(lines, n)[:-1])), (
                    f"{name}:{n + 1}: {match.group()} is read unguarded; a browser may leave it out of getStats()"
                    " (use ?., ??, typeof, or compare it)"
                )
    assert checked >= 15, f"only {checked} stats field reads found: is the check still looking at the right code?"


def test_the_stats_summary_survives_a_report_with_no_optional_fields(chromium):
    """The same, run: stats.js given entries with only type and id (as a very sparse browser might)."""
    page = chromium.new_page()
    try:
        summary = page.evaluate(
            """async (source) => {
                const url = URL.createObjectURL(new Blob([source], {type: 'text/javascript'}));
                const { StatsSampler } = await import(url);
                const entries = [
                    ['a', {type: 'inbound-rtp', id: 'a'}], ['b', {type: 'inbound-rtp', id: 'b', kind: 'video'}],
                    ['c', {type: 'transport', id: 'c'}], ['d', {type: 'candidate-pair', id: 'd', selected: true}],
                ];
                const pc = {getStats: async () => new Map(entries)};
                const sampler = new StatsSampler();
                await sampler.sample(pc);
                return JSON.stringify(await sampler.sample(pc));
            }""",
            (STATIC / "stats.js").read_text(),
        )
    finally:
        page.close()
    assert '"width":null' in summary and '"rttMs":null' in summary and '"codec":null' in summary, summary


# --- APIs Safari lacks -----------------------------------------------------------

# API -> (how a use looks, what counts as checking for it first). A use with ?.() needs no check.
FEATURES = {
    "requestVideoFrameCallback": (
        r"\.requestVideoFrameCallback\(",
        r"typeof\s+[\w.]+\.requestVideoFrameCallback\s*[!=]==\s*'function'",
    ),
    "cancelVideoFrameCallback": (  # comes with requestVideoFrameCallback
        r"\.cancelVideoFrameCallback\(",
        r"typeof\s+[\w.]+\.requestVideoFrameCallback\s*===\s*'function'",
    ),
    "RTCRtpReceiver.getCapabilities": (
        r"\bRTCRtpReceiver\.getCapabilities\(",
        r"typeof\s+RTCRtpReceiver\.getCapabilities\s*!==\s*'function'",
    ),
    "setCodecPreferences": (r"\.setCodecPreferences\(", r"typeof\s+[\w.]+\.setCodecPreferences\s*[!=]=="),
    "jitterBufferTarget": (r"\.jitterBufferTarget\s*=(?!=)", r"'jitterBufferTarget'\s+in\s"),
    "requestIdleCallback": (r"\brequestIdleCallback\(", r"typeof\s+(window\.)?requestIdleCallback\s*[!=]=="),
    "AbortSignal.timeout / any": (r"\bAbortSignal\.(timeout|any)\(", r"typeof\s+AbortSignal\.(timeout|any)"),
    "requestFullscreen": (r"\.requestFullscreen\(", r"\.requestFullscreen\s*(\)|&&)"),
    "webkitRequestFullscreen": (r"\.webkitRequestFullscreen\(", r"\.webkitRequestFullscreen\s*(\)|&&)"),
    "webkitEnterFullscreen": (
        r"\.webkitEnterFullscreen\(",
        r"typeof\s+[\w.]+\.webkitEnterFullscreen\s*===\s*'function'",
    ),
}


@pytest.mark.parametrize("feature", sorted(FEATURES))
def test_apis_safari_lacks_are_feature_checked(feature):
    use, check = FEATURES[feature]
    for name, code in scripts().items():
        plain = without_comments(code).splitlines()
        bare = without_strings("\n".join(plain)).splitlines()
        for n, line in enumerate(bare):
            if not re.search(use, line):
                continue
            block = "\n".join(block_of(plain, n))
            assert re.search(check, block), (
                f"{name}:{n + 1} uses {feature} without checking that the browser has it first: {plain[n].strip()}"
            )


def test_the_h264_check_before_offering_is_there_and_guarded():
    whep = without_comments(source("whep.js"))
    assert "export function canReceiveH264()" in whep
    body = whep.split("export function canReceiveH264()", 1)[1].split("\n}\n", 1)[0]
    assert "typeof RTCRtpReceiver === 'undefined'" in body, "RTCRtpReceiver itself may be missing"
    assert "try {" in body and "catch" in body, "getCapabilities may throw"
    viewer = without_comments(source("viewer.js"))
    start = viewer.split("function start() {", 1)[1].split("\n}\n", 1)[0]
    assert start.index("canReceiveH264()") < start.index("connect()"), "the page must ask before it offers"
    assert "typeof RTCPeerConnection !== 'function'" in start, "no WebRTC at all must be found before offering"
