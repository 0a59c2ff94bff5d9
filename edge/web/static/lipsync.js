// @ts-check
// Lip sync while the sound plays.
//
// Muted (as the page starts), the camera asks the browser to show every frame
// as soon as it is decoded (playout-delay max 10 ms): the lowest latency, and
// the sound, if anyone listened, would come 60-90 ms late. Unmuted, the page
// asks the camera (on the session's control channel) to allow the browser up
// to a second of video delay; the browser's own lip sync then holds video back,
// but leaves up to 30 ms either way (its dead band) and can overshoot. The page
// trims what is left: it measures how far video plays ahead of the sound by the
// browser's own account (each track's estimatedPlayoutTimestamp: the capture
// time, on the camera's clock, of what plays now) and delays whichever is ahead
// (the receiver's jitterBufferTarget), a part of the difference per second.
// The audio's estimate is taken where WebRTC hands samples to the audio output;
// a person hears them that output's delay later (the media-playout stats, about
// 30 ms in Chromium), so that delay counts as the sound being behind.

/** @typedef {import('./whep.js').WhepSession} WhepSession */
/** @typedef {{ delay: number, samples: number }} PlayoutTotals media-playout stats: total delay (s), samples */

const CHECK_EVERY_MS = 1000;
const GAIN = 0.5;           // of the measured lag corrected at each check
const MAX_DELAY_MS = 1000;

export class LipSync {
  /**
   * @param {WhepSession} session
   * @param {(message: object) => void} tell  sends a message to the camera (PathKeeper.tell)
   */
  constructor(session, tell) {
    this.session = session;
    this.tell = tell;
    this.active = false;
    /** @type {number | null} */
    this.lagMs = null;      // how far video plays ahead of the sound, at the last check
    this.delayMs = 0;       // > 0: video held back this much; < 0: the sound
    this.outputDelayMs = 0; // the audio output's delay, at the last check
    /** @type {PlayoutTotals | null} */
    this._playout = null;   // the last media-playout totals
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this._timer = undefined;
  }

  /**
   * On while the sound plays (the video is unmuted), off otherwise.
   * @param {boolean} active
   */
  setActive(active) {
    if (active === this.active) return;
    this.active = active;
    this.lagMs = null;
    this.tell({ type: 'lip-sync', enabled: active });
    clearInterval(this._timer);
    if (active) this._timer = setInterval(() => this._check(), CHECK_EVERY_MS);
    else this._hold(0);
  }

  async _check() {
    if (this.session.closed) {
      clearInterval(this._timer);
      return;
    }
    /** @type {{ audio?: number, video?: number }} */
    const playing = {};
    /** @type {PlayoutTotals | null} */
    let playout = null;
    try {
      (await this.session.pc.getStats()).forEach((s) => {
        const kind = /** @type {const} */ (['audio', 'video']).find((k) => k === s.kind);
        const playingNow = s.estimatedPlayoutTimestamp ?? 0;
        if (s.type === 'inbound-rtp' && kind && playingNow > 0) playing[kind] = playingNow;
        const samples = s.totalSamplesCount ?? 0;
        if (s.type === 'media-playout' && samples > 0) playout = { delay: s.totalPlayoutDelay ?? 0, samples };
      });
    } catch {
      return; // the connection is closing
    }
    if (playout) this.outputDelayMs = this._outputDelayMs(playout);
    if (!this.active || playing.video === undefined || playing.audio === undefined) return;
    this.lagMs = playing.video - playing.audio + this.outputDelayMs;
    this._hold(Math.max(-MAX_DELAY_MS, Math.min(MAX_DELAY_MS, this.delayMs + GAIN * this.lagMs)));
  }

  /**
   * The audio output's mean delay since the last check, in ms (over the whole session the first time).
   * @param {PlayoutTotals} playout
   */
  _outputDelayMs(playout) {
    const last = this._playout ?? { delay: 0, samples: 0 };
    this._playout = playout;
    const samples = playout.samples - last.samples;
    return samples > 0 ? (1000 * (playout.delay - last.delay)) / samples : this.outputDelayMs;
  }

  /** @param {number} delayMs */
  _hold(delayMs) {
    this.delayMs = delayMs;
    const targets = { video: Math.max(0, delayMs), audio: Math.max(0, -delayMs) };
    for (const kind of /** @type {const} */ (['video', 'audio'])) {
      const receiver = kind === 'video' ? this.session.videoTransceiver.receiver : this.session.audioTransceiver.receiver;
      if ('jitterBufferTarget' in receiver) receiver.jitterBufferTarget = targets[kind];
    }
  }
}
