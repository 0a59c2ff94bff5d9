// Lip sync while the sound plays.
//
// Muted (as the page starts), the camera marks every frame to be shown on
// arrival: the lowest latency. Unmuted, the page asks the camera (on the data
// channel) to let the browser hold video back, and holds the video's jitter
// buffer at the amount the sound plays behind it, by the browser's own measure:
// each track's estimatedPlayoutTimestamp, the capture time (on the camera's
// clock, through its sender reports) of what plays now. The sound's path is
// the longer one (20 ms packets, the browser's audio jitter buffer and output
// buffer): in Chromium about 60-90 ms, which the video then waits too.

const CHECK_EVERY_MS = 500;
const GAIN = 0.7;           // of the measured lag corrected at each check
const MAX_TARGET_MS = 1000;

export class LipSync {
  /**
   * @param {WhepSession} session
   * @param {(message: object) => void} tell  sends a message to the camera (PathKeeper.tell)
   */
  constructor(session, tell) {
    this.session = session;
    this.tell = tell;
    this.active = false;
    this.lagMs = null;      // how far video plays ahead of the sound, at the last check
    this.targetMs = 0;      // the video receiver's jitterBufferTarget
    this._timer = null;
  }

  /** On while the sound plays (the video is unmuted), off otherwise. */
  setActive(active) {
    if (active === this.active) return;
    this.active = active;
    this.lagMs = null;
    this.tell({ type: 'lip-sync', enabled: active });
    clearInterval(this._timer);
    if (active) {
      this._timer = setInterval(() => this._check(), CHECK_EVERY_MS);
    } else {
      this._setTarget(0);
    }
  }

  async _check() {
    if (this.session.closed) {
      clearInterval(this._timer);
      return;
    }
    const playing = {};
    try {
      (await this.session.pc.getStats()).forEach((s) => {
        const kind = ['audio', 'video'].find((k) => k === s.kind);
        if (s.type === 'inbound-rtp' && kind && s.estimatedPlayoutTimestamp > 0) playing[kind] = s.estimatedPlayoutTimestamp;
      });
    } catch {
      return; // the connection is closing
    }
    if (!this.active || playing.video === undefined || playing.audio === undefined) return;
    this.lagMs = playing.video - playing.audio;
    this._setTarget(Math.max(0, Math.min(MAX_TARGET_MS, this.targetMs + GAIN * this.lagMs)));
  }

  _setTarget(ms) {
    this.targetMs = ms;
    const receiver = this.session.videoTransceiver.receiver;
    if ('jitterBufferTarget' in receiver) receiver.jitterBufferTarget = ms;
  }
}
