// Turns RTCPeerConnection.getStats() reports into a small summary for the
// overlay. Rates (fps fallback, kbit/s) need two samples, so the sampler keeps
// the previous inbound-rtp entries and resets when the peer connection changes.
// Any field may be absent (browsers differ: Safari, Firefox), so every read is
// guarded (?., ??, typeof, a comparison); tests/test_page_code.py checks that.

export class StatsSampler {
  constructor() {
    this._pc = null;
    this._prev = { video: null, audio: null };
  }

  /**
   * @returns {Promise<{width, height, fps, videoKbps, audioKbps, rttMs, codec,
   *                    packetsLost, framesDecoded}>} fields are null when unknown
   */
  async sample(pc) {
    if (pc !== this._pc) {
      this._pc = pc;
      this._prev = { video: null, audio: null };
    }
    const report = await pc.getStats();
    const { video, audio } = findInbound(report);
    const pair = findSelectedPair(report);

    const summary = {
      width: video?.frameWidth ?? null,
      height: video?.frameHeight ?? null,
      fps: video?.framesPerSecond ?? rate(video, this._prev.video, 'framesDecoded'),
      videoKbps: kbps(video, this._prev.video),
      audioKbps: kbps(audio, this._prev.audio),
      // currentRoundTripTime is in seconds; absent in some browsers.
      rttMs: typeof pair?.currentRoundTripTime === 'number' ? pair.currentRoundTripTime * 1000 : null,
      codec: codecName(report, video),
      packetsLost: video || audio ? (video?.packetsLost ?? 0) + (audio?.packetsLost ?? 0) : null,
      framesDecoded: video?.framesDecoded ?? null,
    };
    this._prev = { video, audio };
    return summary;
  }
}

function findInbound(report) {
  let video = null;
  let audio = null;
  report.forEach((s) => {
    if (s.type !== 'inbound-rtp' || s.isRemote) return; // isRemote: very old Firefox
    const kind = s.kind ?? s.mediaType ?? null;
    if (kind === 'video') video = s;
    else if (kind === 'audio') audio = s;
  });
  return { video, audio };
}

// Spec way: transport.selectedCandidatePairId. Firefox: candidate-pair.selected.
// Fallback: a nominated pair that succeeded.
function findSelectedPair(report) {
  let pair = null;
  report.forEach((s) => {
    if (!pair && s.type === 'transport' && s.selectedCandidatePairId) {
      pair = report.get(s.selectedCandidatePairId) ?? null;
    }
  });
  if (pair) return pair;
  report.forEach((s) => {
    if (s.type === 'candidate-pair' && (s.selected || (s.nominated && s.state === 'succeeded'))) {
      pair ??= s;
    }
  });
  return pair;
}

function codecName(report, inbound) {
  const codec = inbound?.codecId ? report.get(inbound.codecId) : null;
  const mimeType = codec?.mimeType;
  return typeof mimeType === 'string' ? mimeType.replace(/^video\//, '') : null;
}

/** Per-second rate of a counter between two samples of the same stat. */
function rate(cur, prev, field) {
  if (!cur || !prev || typeof cur[field] !== 'number' || typeof prev[field] !== 'number') return null;
  if (typeof cur.timestamp !== 'number' || typeof prev.timestamp !== 'number') return null;
  const dtMs = cur.timestamp - prev.timestamp;
  if (dtMs <= 0) return null;
  return ((cur[field] - prev[field]) * 1000) / dtMs;
}

function kbps(cur, prev) {
  const bytesPerSec = rate(cur, prev, 'bytesReceived');
  return bytesPerSec === null ? null : (bytesPerSec * 8) / 1000;
}
