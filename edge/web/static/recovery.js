// @ts-check
// Keeps a live WhepSession's path alive across network changes, with the same
// RTCPeerConnection: restarts ICE in place (WhepSession.restartIce) when
//   - the camera says its network changed (a message on our data channel),
//   - ICE reports 'disconnected' or 'failed' (the UI passes these on), or
//   - frames stop: about 15 frame intervals without a new one.
// After two failed restarts in a row it gives up, and the UI starts a fresh
// session. While the camera itself is down (the server says so on the same
// data channel) there is nothing to restart: it waits, and says why.
// What the person sees is driven by frames: 'reconnecting' (or 'camera
// restarting') while they are stalled, live again with the first new one.

import { WhepError } from './whep.js';

/** @typedef {import('./whep.js').WhepSession} WhepSession */
/** @typedef {import('../types/status').Notice} Notice */
/** @typedef {import('../types/status').SourceState} SourceState */
/** @typedef {import('../types/status').QualityNotice} QualityNotice */
/**
 * @typedef {object} PathCallbacks
 * @property {(reason: 'no frames' | 'camera') => void} onStall
 * @property {(recoveryMs: number) => void} onFrames
 * @property {() => void} onRestarted
 * @property {(error: unknown) => void} onGiveUp
 * @property {(name: string) => void} onTrigger
 * @property {(notice: QualityNotice) => void} onQuality
 */

const STALL_FRAME_INTERVALS = 15;
const STALL_MIN_MS = 300;
const STALL_MAX_MS = 3000;
const RESUME_TIMEOUT_MS = 3000;          // after a restart is answered, frames must be back within this
const MAX_FAILED_RESTARTS = 2;
const CHECK_EVERY_MS = 50;

export class PathKeeper {
  /**
   * @param {WhepSession} session
   * @param {HTMLVideoElement} video
   * @param {PathCallbacks} callbacks
   *   onStall(reason)          frames stopped ('no frames'), or the camera is down ('camera'): show it
   *   onFrames(recoveryMs)     frames are back after a stall (ms since the trouble began): show 'live'
   *   onRestarted()            an ICE restart completed
   *   onGiveUp(error)          restarts failed: start a fresh session
   *   onTrigger(name)          the camera says a trigger fired (a GPIO input, motion)
   *   onQuality(notice)        the camera says which of its streams it sends, and why
   */
  constructor(session, video, { onStall, onFrames, onRestarted, onGiveUp, onTrigger, onQuality }) {
    this.session = session;
    this.video = video;
    this.callbacks = { onStall, onFrames, onRestarted, onGiveUp, onTrigger, onQuality };
    this._failedInARow = 0;
    this._restarting = false;
    /** @type {number | null} performance.now() of the latest presented frame */
    this._lastFrameAt = null;
    this._frameIntervalMs = 1000 / 30;
    /** @type {number | null} when the current trouble was first noticed */
    this._troubleAt = null;
    this._stalled = false;      // frames stopped, and the person has been told
    this._cameraDown = false;   // the server says its camera is restarting
    this._awaitingCamera = false; // it is running again: its first frames are due
    this._expectFramesFrom = 0; // performance.now() from which a stall is counted

    this._channel = session.control;
    this._channel.addEventListener('message', (ev) => this._onMessage(ev.data));
    /** @type {Map<unknown, object>} by type: the latest message of each, until the channel opens */
    this._unsent = new Map();
    this._channel.addEventListener('open', () => {
      for (const message of this._unsent.values()) this._channel.send(JSON.stringify(message));
      this._unsent.clear();
    });
    this._timer = setInterval(() => this._check(), CHECK_EVERY_MS);
    this._watchFrames();
    this._onVisibility = () => {
      if (!document.hidden && this._lastFrameAt !== null) this._lastFrameAt = performance.now(); // none came while hidden
    };
    document.addEventListener('visibilitychange', this._onVisibility);
  }

  /**
   * The peer connection became 'disconnected' or 'failed'. Only a failed
   * DTLS transport (or a start that never played) is beyond an ICE restart;
   * ICE's own state may already have moved on to a restart's 'checking'.
   * @param {RTCPeerConnectionState} state
   */
  connectionTrouble(state) {
    const dtls = this.session.pc.getReceivers()[0]?.transport?.state;
    if (state === 'failed' && (this._lastFrameAt === null || dtls === 'failed')) {
      this._giveUp(new Error('connection failed'));
    } else {
      this.restart(`ICE ${state}`);
    }
  }

  /**
   * Restart ICE in place, unless one is under way or nothing has played yet.
   * @param {string} reason
   */
  async restart(reason) {
    const session = this.session;
    if (this._restarting || session.closed || this._lastFrameAt === null || this._cameraDown) return;
    this._restarting = true;
    this._troubleAt ??= performance.now();
    try {
      while (!session.closed) {
        try {
          const startedAt = performance.now();
          const decodedBefore = await framesDecoded(session.pc);
          await session.restartIce();
          if (!(await this._framesSince(startedAt, decodedBefore, RESUME_TIMEOUT_MS))) {
            throw new WhepError('no frames after the ICE restart');
          }
          this._failedInARow = 0;
          this.callbacks.onRestarted();
          return;
        } catch (err) {
          if (session.closed || this._cameraDown) return; // no fault of the path: wait for the camera
          this._failedInARow += 1;
          const status = /** @type {WhepError} */ (err)?.status;
          console.warn(`ICE restart (${reason}) failed:`, /** @type {Error} */ (err)?.message ?? err);
          if ((status >= 400 && status < 500) || this._failedInARow >= MAX_FAILED_RESTARTS) {
            this._giveUp(err);
            return;
          }
        }
      }
    } finally {
      this._restarting = false;
    }
  }

  /**
   * Send `message` to the camera now, or (the latest of its type) once the channel opens.
   * @param {{ type: string } & Record<string, unknown>} message
   */
  tell(message) {
    if (this._channel.readyState === 'open') this._channel.send(JSON.stringify(message));
    else this._unsent.set(message?.type, message);
  }

  /** @param {string} data */
  _onMessage(data) {
    /** @type {Notice} */
    let message;
    try { message = JSON.parse(data); } catch { return; }
    if (message?.type === 'network-change') this.restart('the camera\'s network changed');
    if (message?.type === 'camera') this._cameraStateChanged(message.state);
    if (message?.type === 'trigger') this.callbacks.onTrigger(message.name);
    if (message?.type === 'quality') this.callbacks.onQuality(message);
  }

  /** @param {SourceState} state */
  _cameraStateChanged(state) {
    const down = state !== 'running';
    if (down === this._cameraDown) return;
    this._cameraDown = down;
    const now = performance.now();
    if (down) {
      this._stalled = true;
      this._troubleAt ??= now;
      this.callbacks.onStall('camera');
    } else {
      // Give its first frames the usual time to arrive before suspecting the path.
      this._expectFramesFrom = now;
      this._awaitingCamera = true;
    }
  }

  /** @param {unknown} err */
  _giveUp(err) {
    console.warn('giving up on this session:', /** @type {Error} */ (err)?.message ?? err);
    this._stop();
    this.callbacks.onGiveUp(err);
  }

  _stop() {
    clearInterval(this._timer);
    document.removeEventListener('visibilitychange', this._onVisibility);
  }

  _watchFrames() {
    const video = this.video;
    if (typeof video.requestVideoFrameCallback !== 'function') return; // no stall detection without it
    /** @param {DOMHighResTimeStamp} now */
    const onFrame = (now) => {
      if (this.session.closed) return;
      if (this._lastFrameAt !== null) {
        const interval = Math.min(Math.max(now - this._lastFrameAt, 5), 1000);
        this._frameIntervalMs += (interval - this._frameIntervalMs) / 8;
      }
      this._lastFrameAt = now;
      this._awaitingCamera = false;
      if (this._stalled) {
        this._stalled = false;
        this.callbacks.onFrames(now - (this._troubleAt ?? 0));
      }
      if (!this._restarting) this._troubleAt = null;
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  }

  _check() {
    if (this.session.closed) {
      this._stop();
      return;
    }
    if (this._lastFrameAt === null || this._cameraDown || document.hidden || this.video.paused) return;
    const stallMs = Math.min(Math.max(STALL_FRAME_INTERVALS * this._frameIntervalMs, STALL_MIN_MS), STALL_MAX_MS);
    const now = performance.now();
    if (now - Math.max(this._lastFrameAt, this._expectFramesFrom) <= stallMs) return;
    if (!this._stalled || this._awaitingCamera) {
      this._stalled = true;
      this._awaitingCamera = false;
      this._troubleAt ??= now;
      this.callbacks.onStall('no frames');
      this.restart('no frames');
    }
  }

  /**
   * Resolves true once a frame is presented after `since` or more than
   * `decodedBefore` are decoded (a hidden tab presents none), false after `timeoutMs`.
   * @param {number} since
   * @param {number} decodedBefore
   * @param {number} timeoutMs
   */
  async _framesSince(since, decodedBefore, timeoutMs) {
    const end = performance.now() + timeoutMs;
    for (let n = 0; !this.session.closed && !this._cameraDown && performance.now() < end; n++) {
      if (this._lastFrameAt !== null && this._lastFrameAt > since) return true;
      if (n % 10 === 9 && (await framesDecoded(this.session.pc)) > decodedBefore) return true;
      await new Promise((resolve) => setTimeout(resolve, CHECK_EVERY_MS / 2));
    }
    return false;
  }
}

/** @param {RTCPeerConnection} pc */
async function framesDecoded(pc) {
  let decoded = 0;
  try {
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') decoded = s.framesDecoded ?? 0;
    });
  } catch { /* closed meanwhile */ }
  return decoded;
}
