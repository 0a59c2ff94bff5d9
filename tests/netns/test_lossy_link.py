"""A viewer on a lossy, slow link: Chromium's NACKs are answered and the picture does not freeze.

The camera's namespace is linked to the host, where Chromium runs, by a link that
drops 2 % of packets at random and delays each by 40 ms, in both directions
(``testbed/netns/impair.py``: this kernel has no ``netem``). Both directions,
as on a poor Wi-Fi link: the media is lost on its way to the viewer, and so are
some of the viewer's NACKs and PLIs on their way back (Chromium asks again), with
a round trip of 80 ms for every retransmission.

Chromium watches for 20 s of media time (RTP timestamps) after its first frame.
Over those: no pause between presented frames longer than 500 ms; packets lost,
NACKed and received again as retransmissions (RTX); the frame code advances
through 20 s of frames, nearly all of them decoded. The kernel's counters at
both ends of the link, and the ICE round trip, show that the loss and the delay
were really there.
"""

from __future__ import annotations

import os
from itertools import pairwise

from prometheus_client.parser import text_string_to_metric_families

from testbed.browser import FRAME_CODE_JS, STATS_JS
from testbed.clips import wait_for
from testbed.netns.impair import Impairment
from testbed.netns.scenarios import Rig

LOSS = 0.02
DELAY_S = 0.040
MEDIA_S = 20
LONGEST_GAP_MS = 500
MIN_FRAMES = 500  # of the 600 a 30 fps camera takes in 20 s: the frame code advances so far, so many are decoded
# Seen by the page, each at a requestVideoFrameCallback of its own. After each retransmission the frames that waited
# for it are decoded at once, and only the last of them is shown (the callback runs once per rendering step, and the
# player drops the others): 20-40 % of the frames go unseen.
MIN_SEEN = 300

# Logs every presented frame: [presentationTime, expectedDisplayTime, rtpTimestamp, presentedFrames, frame index].
WATCH_JS = """
() => {
  const video = document.getElementById('video');
  const read = READ_FRAME_CODE;
  window.__presented = [];
  window.edgeViewer.pc.getStats().then((report) => report.forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') window.__decodedAtStart = s.framesDecoded;
  }));
  const onFrame = (now, m) => {
    const code = read();
    window.__presented.push(
      [m.presentationTime, m.expectedDisplayTime, m.rtpTimestamp, m.presentedFrames, code && code.frameIndex]);
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
}
""".replace("READ_FRAME_CODE", FRAME_CODE_JS)

MEDIA_TIME_REACHED_JS = f"""
() => {{
  const f = window.__presented;
  return f.length > 1 && ((f[f.length - 1][2] - f[0][2]) >>> 0) >= {MEDIA_S * 90000};
}}
"""

# What the failure messages (and -s) show of the page's inbound-rtp video stats.
INBOUND_RTP = (
    "packetsReceived",
    "packetsLost",  # before retransmission: RTX does not count here
    "nackCount",
    "retransmittedPacketsReceived",  # Chromium has it once RTX is negotiated
    "pliCount",
    "keyFramesDecoded",
    "framesReceived",
    "framesDecoded",
    "framesDropped",
    "freezeCount",
    "totalFreezesDuration",
)

# The ICE round trip of the pair in use (from Chromium's consent checks; null until one is answered).
ROUND_TRIP_JS = """
async () => {
  const report = await window.edgeViewer.pc.getStats();
  let pairId = null;
  report.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
  });
  const pair = pairId ? report.get(pairId) : null;
  return pair && pair.currentRoundTripTime !== undefined ? pair.currentRoundTripTime : null;
}
"""


def daemon_retransmissions(metrics: str) -> tuple[float, float]:
    """(NACKed packets, retransmitted packets) of the video, summed over viewers, as /metrics says."""
    samples = [s for family in text_string_to_metric_families(metrics) for s in family.samples]

    def total(name: str) -> float:
        return sum(s.value for s in samples if s.name == name and s.labels.get("kind") == "video")

    return total("edge_viewer_nack_requests_total"), total("edge_viewer_retransmitted_packets_total")


def test_nacks_are_answered_and_the_picture_does_not_freeze(chromium, tmp_path):
    rig = Rig(chromium, tmp_path, impairment=Impairment(LOSS, DELAY_S), watch_js=WATCH_JS)
    try:
        rig.page.wait_for_function(MEDIA_TIME_REACHED_JS, timeout=(MEDIA_S + 40) * 1000)
        frames = rig.page.evaluate("window.__presented")
        decoded_at_start = rig.page.evaluate("window.__decodedAtStart")
        video = rig.page.evaluate(STATS_JS)["video"]
        # Chromium's statistics catch up with its checks within a few seconds (some checks are lost too).
        round_trip_s = wait_for(lambda: rig.page.evaluate(ROUND_TRIP_JS), lambda rtt: rtt is not None, 15, "an RTT")
        hooks = rig.page.evaluate("[window.edgeViewer.iceRestarts, window.edgeViewer.sessionsStarted]")
        counts = rig.netns.packet_counts(rig.links[0])
        lateness = rig.netns.link_lateness(rig.links[0])
        served = daemon_retransmissions(rig.metrics())
    finally:
        rig.close()

    end = next(n for n, f in enumerate(frames) if ((f[2] - frames[0][2]) % 2**32) >= MEDIA_S * 90000)
    frames = frames[: end + 1]
    gaps = [(b[0] - a[0], b[1] - a[1], b[3] - a[3]) for a, b in pairwise(frames)]
    longest = max(gaps)
    indices = {f[4] for f in frames if f[4] is not None}
    decoded = video["framesDecoded"] - decoded_at_start
    media_lost = counts["camera_tx"] - counts["host_rx"]  # camera -> viewer: RTP
    feedback_lost = counts["host_tx"] - counts["camera_rx"]  # viewer -> camera: RTCP (NACK, PLI), STUN
    figures = "; ".join(
        (
            f"longest gap {longest[0]:.0f} ms by presentationTime, {max(g[1] for g in gaps):.0f} ms by"
            f" expectedDisplayTime ({longest[2]} frames presented across it)",
            f"{len(frames)} callbacks, {len(indices)} distinct frames seen ({min(indices)}..{max(indices)}),"
            f" {decoded} decoded, {frames[-1][3] - frames[0][3]} presented",
            ", ".join(f"{key} {video.get(key)}" for key in INBOUND_RTP),
            f"the link dropped {media_lost} of {counts['camera_tx']} packets towards the viewer,"
            f" {feedback_lost} of {counts['host_tx']} back, and was late by {lateness}",
            f"RTT {round_trip_s} s; ICE restarts, sessions {hooks}; load average {os.getloadavg()[0]:.1f}",
            f"the daemon's metrics: NACKed packets, retransmitted {served}",
        )
    )
    print(figures)

    # The link was what it should be: the loss and the delay were there.
    assert 0.01 <= media_lost / counts["camera_tx"] <= 0.035, figures
    assert round_trip_s is not None and round_trip_s >= 2 * DELAY_S * 0.9, figures
    # Packets were lost on their way to the viewer, it asked for them, and they came back as retransmissions.
    assert video["packetsLost"] > 0 and video["nackCount"] > 0 and video["retransmittedPacketsReceived"] > 0, figures
    assert served[0] > 0 and served[1] > 0, figures  # and the daemon counts them (GET /metrics)
    # No freeze; the picture went through 20 s of camera frames, nearly all of them decoded.
    assert longest[0] <= LONGEST_GAP_MS, f"{figures}\ndaemon log:\n{rig.daemon.log()[-3000:]}"
    assert max(indices) - min(indices) >= MIN_FRAMES and decoded >= MIN_FRAMES, figures
    assert len(indices) >= MIN_SEEN, figures
    assert hooks == [0, rig.sessions_at_start], f"the page restarted ICE or the session: {figures}"
