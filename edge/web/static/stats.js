// @ts-check
// Turns RTCPeerConnection.getStats() reports into a small summary for the
// overlay. Rates (fps fallback, kbit/s) need two samples, so the sampler keeps
// the previous inbound-rtp entries and resets when the peer connection changes.
// Any field may be absent (browsers differ: Safari, Firefox), so every read is
// guarded (?., ??, typeof, a comparison); tests/test_page_code.py checks that.

/**
 * One entry of a getStats() report: which fields it has depends on the browser.
 * @typedef {Record<string, any>} Stat
 */
/** @typedef {{ video: Stat | null, audio: Stat | null }} Inbound */

/**
 * @typedef {object} StatsSummary fields are null when unknown
 * @property {number | null} width
 * @property {number | null} height
 * @property {number | null} fps
 * @property {number | null} videoKbps
 * @property {number | null} audioKbps
 * @property {number | null} rttMs
 * @property {string | null} codec
 * @property {number | null} packetsLost
 * @property {number | null} framesDecoded
 */

export class StatsSampler {
  constructor() {
    /** @type {{ getStats(): Promise<RTCStatsReport> } | null} */
    this._pc = null;
    /** @type {Inbound} */
    this._prev = { video: null, audio: null };
  }

  /**
   * @param {{ getStats(): Promise<RTCStatsReport> }} pc an RTCPeerConnection, or whatever has its getStats()
   * @returns {Promise<StatsSummary>}
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

/**
 * @param {RTCStatsReport} report
 * @returns {Inbound}
 */
function findInbound(report) {
  /** @type {Stat | null} */
  let video = null;
  /** @type {Stat | null} */
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
/**
 * @param {RTCStatsReport} report
 * @returns {Stat | null}
 */
function findSelectedPair(report) {
  /** @type {Stat | null} */
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

/**
 * @param {RTCStatsReport} report
 * @param {Stat | null} inbound
 * @returns {string | null}
 */
function codecName(report, inbound) {
  const codec = inbound?.codecId ? report.get(inbound.codecId) : null;
  const mimeType = codec?.mimeType;
  return typeof mimeType === 'string' ? mimeType.replace(/^video\//, '') : null;
}

/**
 * Per-second rate of a counter between two samples of the same stat.
 * @param {Stat | null} cur
 * @param {Stat | null} prev
 * @param {string} field
 * @returns {number | null}
 */
function rate(cur, prev, field) {
  if (!cur || !prev || typeof cur[field] !== 'number' || typeof prev[field] !== 'number') return null;
  if (typeof cur.timestamp !== 'number' || typeof prev.timestamp !== 'number') return null;
  const dtMs = cur.timestamp - prev.timestamp;
  if (dtMs <= 0) return null;
  return ((cur[field] - prev[field]) * 1000) / dtMs;
}

/**
 * @param {Stat | null} cur
 * @param {Stat | null} prev
 */
function kbps(cur, prev) {
  const bytesPerSec = rate(cur, prev, 'bytesReceived');
  return bytesPerSec === null ? null : (bytesPerSec * 8) / 1000;
}
