"""Which NACKed packets a viewer gets again: retransmissions kept within what its link carries.

Measured before this (issue 28): a viewer on a 700 kbit/s / 60 ms link had its NACKs answered with 12-75 Mbit/s.
Its link dropped most of the answers, it asked again for each, and each ask was answered again, into a link that
was already full. Three rules, checked in this order, each counted:

- **age**: a packet first sent more than :data:`MAX_AGE_S` ago, or before the last keyframe sent (the picture
  starts again there: after a switch between the camera's streams, the old stream's packets would only compete
  with the new one's keyframe for a full link), is not sent again;
- **repeat**: a packet is sent again at most once per round-trip time (the viewer cannot have had the last copy
  before that; :data:`UNKNOWN_RTT_S` until the receiver reports tell);
- **budget**: a token bucket per viewer and media kind pays for retransmissions with :data:`SHARE` of the link's
  estimated rate (the viewer's REMB when it sends one, else what we send it), holding :data:`DEPTH_S` of that
  share so that a burst of losses (in an IDR) is answered at once. A packet it cannot pay for is not sent.
"""

from __future__ import annotations

import math

SHARE = 0.25  # of the link's estimated rate that retransmissions may use
DEPTH_S = 0.5  # the bucket holds this long of that share: the packets of a picture lost whole (~9 at 700 kbit/s)
MIN_DEPTH_BYTES = 1500  # whatever the rate, one full packet can be paid for
# A live view has no use for a packet of a picture taken a second ago: the viewer has shown a freeze by then and
# asked for a keyframe (or will, from a decoder that has waited that long), and answering keeps a congested link full
# of the past. A second is still several round trips on any link that can carry video (60 ms in the weak
# link), so a loss is retried a few times first. The history (1024 packets) holds several seconds at a low bitrate.
MAX_AGE_S = 1.0
MIN_RTT_S = 0.02  # the repeat rule's round trip at least, whatever the receiver reports say
UNKNOWN_RTT_S = 0.1  # the repeat rule's round-trip time before the receiver reports give one
NEVER = -math.inf  # a history entry's resend time before it was first resent


class RetransmissionGate:
    """The rules above for one sender; ``ignored_*`` count the packets each rule held back."""

    def __init__(self) -> None:
        self._tokens = math.inf  # the first refill fills the bucket
        self._refilled_at: float | None = None
        self.ignored_old = 0
        self.ignored_repeat = 0
        self.ignored_budget = 0

    def refill(self, rate_bps: float, now: float) -> None:
        """Add what the budget earned since the last refill at :data:`SHARE` of ``rate_bps``."""
        share = rate_bps * SHARE / 8  # bytes per second
        earned = 0.0 if self._refilled_at is None else share * max(0.0, now - self._refilled_at)
        self._tokens = min(max(share * DEPTH_S, MIN_DEPTH_BYTES), self._tokens + earned)
        self._refilled_at = now

    def admit(
        self, size: int, sent_at: float, resent_at: float, now: float, rtt_s: float, keyframe_at: float = NEVER
    ) -> bool:
        """Whether a packet of ``size`` bytes, first sent at ``sent_at`` and last resent at ``resent_at``, goes again
        (paid for from the budget if so), the last keyframe having been sent at ``keyframe_at``. Call
        :meth:`refill` first."""
        if now - sent_at > MAX_AGE_S or sent_at < keyframe_at:
            self.ignored_old += 1
            return False
        if now - resent_at < rtt_s:
            self.ignored_repeat += 1
            return False
        if size > self._tokens:
            self.ignored_budget += 1
            return False
        self._tokens -= size
        return True
