// @ts-check
// Live viewer UI: connects a WhepSession to the <video>, keeps it connected,
// and drives the status badge, controls and stats overlay.
//
// Structure:
//   - test hooks (window.edgeViewer)
//   - connection controller: connect / fail / markLive, reconnect with backoff;
//     a broken path is first repaired in place (recovery.js: ICE restart);
//     a browser that cannot play the camera at all (no WebRTC, no H.264) gets
//     a final message and no retries
//   - media: attach stream, autoplay, first-frame detection
//   - controls: unmute, picture quality, fullscreen, stats overlay, keyboard and its shortcut list, idle hiding
//   - page lifecycle: DELETE on pagehide, reconnect after bfcache restore

import { WhepSession, WhepError, canReceiveH264, timedFetch } from './whep.js';
import { StatsSampler } from './stats.js';
import { PathKeeper } from './recovery.js';
import { LipSync } from './lipsync.js';
import { takeEarlySession } from './early.js';
import { askForToken, dismissLogin, forgetTokenInAddress, login } from './login.js';
import { isQualityMode, storedQuality, storeQuality, whepEndpoint } from './quality.js';

/** @typedef {'no-webrtc' | 'no-h264'} Unsupported */
// What /api/status says (edge/web/types/status.d.ts).
/**
 * @typedef {import('../types/status').DaemonStatus} DaemonStatus
 * @typedef {import('../types/status').CameraStatus} CameraStatus
 * @typedef {import('../types/status').MicrophoneStatus} MicrophoneStatus
 * @typedef {import('../types/status').PublishTargetStatus} PublishTargetStatus
 * @typedef {import('../types/status').QualityMode} QualityMode
 * @typedef {import('../types/status').QualityNotice} QualityNotice
 */
// Safari's prefixed fullscreen API (lib.dom has only the standard one).
/**
 * @typedef {Document & { webkitFullscreenEnabled?: boolean, webkitExitFullscreen: () => void,
 *                        webkitFullscreenElement?: Element | null }} WebkitDocument
 * @typedef {HTMLElement & { webkitRequestFullscreen: () => void }} WebkitElement
 * @typedef {HTMLVideoElement & { webkitEnterFullscreen: () => void, webkitExitFullscreen?: () => void,
 *                                webkitDisplayingFullscreen?: boolean }} WebkitVideo
 */

const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 5000;
const LIVE_TIMEOUT_MS = 10_000;   // POST ok but no video this long -> new session
const STATS_INTERVAL_MS = 1000;
const HEALTH_INTERVAL_MS = 5000;
const IDLE_MS = 3000;

const params = new URLSearchParams(window.location.search);
let token = params.get('token'); // sent as Bearer until the session cookie replaces it
const statusUrl = new URL('api/status', document.baseURI).href; // the full status: this page is logged in

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const ui = {
  stage: $('stage'),
  video: /** @type {HTMLVideoElement} */ ($('video')),
  status: $('status'),
  unmute: $('unmute'),
  quality: /** @type {HTMLFieldSetElement} */ ($('quality')),
  fullscreen: $('fullscreen'),
  statsToggle: $('stats-toggle'),
  stats: $('stats'),
  shortcuts: /** @type {HTMLDialogElement} */ ($('shortcuts')),
  shortcutsToggle: $('shortcuts-toggle'),
};

// --- test hooks --------------------------------------------------------------
// Browser tests read these; keep names and meanings stable.
/**
 * @type {{ pc: RTCPeerConnection | null, state: string, sessionsStarted: number, firstFrameAt: number | null,
 *          lastError: string | null, iceRestarts: number, lastRecoveryMs: number | null, lipSync: LipSync | null,
 *          unsupported: Unsupported | null, quality: QualityNotice | null, restartIce: () => Promise<void> | undefined }}
 */
const hooks = {
  pc: null,            // current RTCPeerConnection
  state: 'connecting', // 'connecting' | 'live' | 'reconnecting' | 'error'
  sessionsStarted: 0,  // WHEP sessions successfully POSTed (201)
  firstFrameAt: null,  // performance.now() when the first video frame was presented
  lastError: null,     // last error string, or null
  iceRestarts: 0,      // in-place ICE restarts completed (same pc)
  lastRecoveryMs: null, // last stall -> first new frame, ms
  lipSync: null,       // the current session's LipSync (active, lagMs, targetMs)
  unsupported: null,   // null, or why this browser cannot play the camera: 'no-webrtc' | 'no-h264'
  quality: null,       // the camera's latest word on the stream it sends: { mode, stream, width, height, reason }
  restartIce: () => conn.session?.restartIce(), // what the page does when the path breaks, on demand
};
/** @type {any} */ (window).edgeViewer = hooks;

/** @type {Record<string, string>} */
const STATUS_TEXT = { connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…' };

// Final answers, in words for the camera's owner: nothing on this page can fix them.
const UNSUPPORTED_TEXT = {
  'no-webrtc': 'WebRTC is not available in this browser. Open this page in Chrome, Edge, Firefox or Safari.',
  'no-h264': 'This browser cannot play the camera\'s H.264 video. '
    + 'In Firefox, allow the OpenH264 plugin: menu › Add-ons and themes › Plugins › OpenH264 Video Codec › '
    + '"Always Activate" (Firefox downloads it by itself when the computer is online), then reload this page. '
    + 'Or open this page in Chrome, Edge, Safari or another browser.',
};

/**
 * @param {string} state
 * @param {string} [text]
 */
function setState(state, text = STATUS_TEXT[state]) {
  hooks.state = state;
  ui.status.dataset.state = state;
  ui.status.textContent = text;
}

// --- connection controller -----------------------------------------------------

/**
 * @type {{ running: boolean, session: WhepSession | null, keeper: PathKeeper | null, lipSync: LipSync | null,
 *          live: boolean, backoffMs: number, retryTimer: number | undefined, liveTimer: number | undefined,
 *          expectNoH264: boolean }}
 */
const conn = {
  running: false,
  session: null,       // current WhepSession (null while waiting to retry)
  keeper: null,        // its PathKeeper: what the page tells the camera goes through it
  lipSync: null,       // its LipSync
  live: false,         // current session has shown video
  backoffMs: RECONNECT_MIN_MS,
  retryTimer: undefined,
  liveTimer: undefined,
  expectNoH264: false, // the browser lists no H.264: the first failure is final
};

function start() {
  if (hooks.unsupported) return;
  // Ask the browser before offering: one that cannot receive H.264 gets its answer at once.
  if (typeof RTCPeerConnection !== 'function') {
    unsupported('no-webrtc', 'no RTCPeerConnection');
    return;
  }
  // A browser that lists no H.264 it can receive still sends its one offer, so that
  // the camera can log and count why a viewer sees nothing; whatever the answer,
  // it is not retried (see fail).
  conn.expectNoH264 = canReceiveH264() === false;
  conn.running = true;
  conn.backoffMs = RECONNECT_MIN_MS;
  connect();
}

function connect() {
  clearTimeout(conn.retryTimer);
  if (!conn.running) return;
  let session;
  try {
    session = takeEarlySession() ?? new WhepSession(whepEndpoint(), { token });
  } catch (err) {
    // No WebRTC at all (or disabled): retrying will not help.
    unsupported('no-webrtc', `WebRTC unavailable: ${/** @type {Error} */ (err)?.message ?? err}`);
    return;
  }
  conn.session = session;
  conn.live = false;
  hooks.pc = session.pc;
  const keeper = new PathKeeper(session, ui.video, {
    onStall: (reason) => {
      if (session === conn.session) setState('reconnecting', reason === 'camera' ? 'camera restarting…' : undefined);
    },
    onFrames: (ms) => {
      if (session !== conn.session) return;
      hooks.lastRecoveryMs = ms;
      setState('live');
    },
    onRestarted: () => { hooks.iceRestarts += 1; },
    onGiveUp: (err) => fail(session, err),
    // A GPIO input or motion fired: recordings.js shows it.
    onTrigger: (name) => window.dispatchEvent(new CustomEvent('edge-trigger', { detail: { name } })),
    onQuality: (notice) => {
      if (session !== conn.session) return;
      hooks.quality = notice;
      renderQuality();
    },
  });
  conn.keeper = keeper;
  watchPeerConnection(session, keeper);
  attachStream(session);
  const lipSync = new LipSync(session, (message) => keeper.tell(/** @type {{ type: string }} */ (message)));
  conn.lipSync = hooks.lipSync = lipSync;
  lipSync.setActive(!ui.video.muted);

  session.start().then(() => {
    if (session !== conn.session) return;
    hooks.sessionsStarted += 1;
    // Covers ICE never completing (browsers take ~30 s to report 'failed')
    // and a camera that sends nothing.
    // (Not when video came first: markLive, which clears it, has run already.)
    if (!conn.live) conn.liveTimer = setTimeout(() => fail(session, new Error('no video received')), LIVE_TIMEOUT_MS);
  }, (err) => fail(session, err));
}

/**
 * Tear down `session` and schedule a new one. Ignores stale sessions.
 * @param {WhepSession} session
 * @param {any} err a WhepError, or whatever else was thrown
 */
function fail(session, err) {
  if (session !== conn.session || !conn.running) return;
  conn.session = null;
  clearSessionTimers();
  session.stop(); // best-effort DELETE + pc.close(), not awaited

  const reason = err?.message || String(err);
  hooks.lastError = reason;
  const delay = Math.max(conn.backoffMs, err?.retryAfterMs ?? 0);
  conn.backoffMs = Math.min(conn.backoffMs * 2, RECONNECT_MAX_MS);

  if ((err instanceof WhepError && err.noH264) || conn.expectNoH264) {
    // The camera says this browser offered no H.264 it can send (or the browser
    // said so itself before offering): final.
    unsupported('no-h264', reason);
    return;
  }
  if (err instanceof WhepError && err.status === 401) {
    // Not logged in (or the token was rotated): ask, then connect at once.
    setState('error', 'log in to watch');
    askForToken().then(() => { token = null; conn.backoffMs = RECONNECT_MIN_MS; connect(); });
    return;
  }
  if (err instanceof WhepError && err.status >= 400) {
    // The server said why (busy, unauthorized, camera down...): show it.
    setState('error', `${reason} — retrying in ${formatSeconds(delay)}`);
  } else {
    setState('reconnecting');
  }
  conn.retryTimer = setTimeout(connect, delay);
}

/**
 * This browser cannot play the camera (`kind`: 'no-webrtc' | 'no-h264'): say
 * so for good, stop connecting, and hide the live player's controls, which
 * would do nothing. (The Recordings button stays: its clips are plain video.)
 * @param {Unsupported} kind
 * @param {string} detail
 */
function unsupported(kind, detail) {
  hooks.unsupported = kind;
  hooks.lastError = detail;
  conn.running = false;
  clearTimeout(conn.retryTimer);
  clearSessionTimers();
  const session = conn.session;
  conn.session = null;
  session?.stop();
  setState('error', UNSUPPORTED_TEXT[kind]);
  ui.stage.dataset.unsupported = kind;
  for (const el of [ui.unmute, ui.quality, ui.fullscreen, ui.statsToggle, ui.stats]) el.hidden = true;
}

/** @param {WhepSession} session */
function markLive(session) {
  if (session !== conn.session || conn.live) return;
  conn.live = true;
  conn.backoffMs = RECONNECT_MIN_MS;
  clearTimeout(conn.liveTimer);
  dismissLogin();
  setState('live');
}

function clearSessionTimers() {
  clearTimeout(conn.liveTimer);
  conn.liveTimer = undefined;
}

/**
 * connectionState, falling back to iceConnectionState (older Firefox).
 * @param {RTCPeerConnection} pc
 * @returns {string}
 */
function pcState(pc) {
  if (pc.connectionState) return pc.connectionState;
  const ice = pc.iceConnectionState;
  return /** @type {Record<string, string>} */ ({ checking: 'connecting', completed: 'connected' })[ice] ?? ice;
}

/**
 * @param {WhepSession} session
 * @param {PathKeeper} keeper
 */
function watchPeerConnection(session, keeper) {
  const onChange = () => {
    if (session !== conn.session) return;
    renderConnectionState();
    const state = pcState(session.pc);
    if (state === 'disconnected' || state === 'failed') keeper.connectionTrouble(/** @type {RTCPeerConnectionState} */ (state));
  };
  session.pc.addEventListener('connectionstatechange', onChange);
  session.pc.addEventListener('iceconnectionstatechange', onChange);
}

// --- media ---------------------------------------------------------------------

let cancelFrameWatch = () => {};

/** @param {WhepSession} session */
function attachStream(session) {
  ui.video.srcObject = session.stream;
  playVideo();
  watchFirstFrame(session);
}

function playVideo() {
  const p = ui.video.play();
  p?.catch((err) => {
    // NotAllowedError: even muted autoplay refused (e.g. iOS Low Power Mode).
    // The next tap anywhere starts playback. AbortError: srcObject replaced.
    if (/** @type {Error} */ (err)?.name === 'NotAllowedError') {
      document.addEventListener('pointerup', () => ui.video.play().catch(() => {}), { once: true });
    }
  });
}

/**
 * Calls markLive (and sets firstFrameAt once) when a video frame of `session` is
 * presented. A session that failed still presents one: the black frame Chromium
 * shows when its tracks end, which is not a picture from the camera.
 * @param {WhepSession} session
 */
function watchFirstFrame(session) {
  cancelFrameWatch();
  const video = ui.video;
  const onFrame = () => {
    cancelFrameWatch();
    if (session !== conn.session) return;
    hooks.firstFrameAt ??= performance.now();
    markLive(session);
  };
  if (typeof video.requestVideoFrameCallback === 'function') {
    const id = video.requestVideoFrameCallback(onFrame);
    cancelFrameWatch = () => video.cancelVideoFrameCallback(id);
  } else {
    // videoWidth > 0 guards against audio alone firing 'playing'.
    const handler = () => { if (video.videoWidth > 0) onFrame(); };
    const events = ['loadeddata', 'playing', 'resize'];
    events.forEach((e) => video.addEventListener(e, handler));
    cancelFrameWatch = () => events.forEach((e) => video.removeEventListener(e, handler));
  }
}

// --- unmute ----------------------------------------------------------------------

function syncUnmute() {
  ui.unmute.hidden = !ui.video.muted || Boolean(hooks.unsupported);
  conn.lipSync?.setActive(!ui.video.muted);
}

// Autoplay needs the video muted; only the person unmutes it (click, tap or "m"),
// which Safari requires for sound.
function toggleMute() {
  if (hooks.unsupported) return;
  ui.video.muted = !ui.video.muted;
  ui.video.play().catch(() => {}); // user gesture: also recovers refused autoplay
}

// --- picture quality ---------------------------------------------------------------

/**
 * The person chose Auto, HD or SD: remembered, and asked of the session that plays (the
 * next one asks for it in its WHEP request).
 * @param {QualityMode} mode
 */
function chooseQuality(mode) {
  storeQuality(mode);
  conn.keeper?.tell({ type: 'quality', mode });
}

function initQuality() {
  const chosen = storedQuality();
  for (const radio of ui.quality.querySelectorAll('input')) radio.checked = radio.value === chosen;
  ui.quality.addEventListener('change', (ev) => {
    const value = /** @type {HTMLInputElement} */ (ev.target).value;
    if (isQualityMode(value)) chooseQuality(value);
  });
}

/** The stats overlay's line on the stream the camera sends: "SD 640×360 · auto: loss 23 % on main". */
function renderQuality() {
  const q = hooks.quality;
  setStat('stream', q ? `${q.stream === 'low' ? 'SD' : 'HD'} ${q.width}×${q.height} · ${q.reason}` : '–');
}

// --- fullscreen ------------------------------------------------------------------

// Fullscreen the stage (not just the video) so the overlays stay visible.
// iPhone Safari only supports native fullscreen on the <video> element.
const fullscreenApi = (() => {
  const el = /** @type {WebkitElement} */ (ui.stage);
  const video = /** @type {WebkitVideo} */ (ui.video);
  const webkit = /** @type {WebkitDocument} */ (document);
  if (document.fullscreenEnabled && el.requestFullscreen) {
    return {
      enter: () => el.requestFullscreen(),
      exit: () => document.exitFullscreen(),
      active: () => Boolean(document.fullscreenElement),
    };
  }
  if (webkit.webkitFullscreenEnabled && el.webkitRequestFullscreen) {
    return {
      enter: () => el.webkitRequestFullscreen(),
      exit: () => webkit.webkitExitFullscreen(),
      active: () => Boolean(webkit.webkitFullscreenElement),
    };
  }
  if (typeof video.webkitEnterFullscreen === 'function') {
    return {
      enter: () => video.webkitEnterFullscreen(),
      exit: () => video.webkitExitFullscreen?.(),
      active: () => Boolean(video.webkitDisplayingFullscreen),
    };
  }
  return null;
})();

function toggleFullscreen() {
  if (!fullscreenApi || hooks.unsupported) return;
  // Some implementations throw, some return a rejecting promise, some return nothing.
  Promise.resolve()
    .then(() => (fullscreenApi.active() ? fullscreenApi.exit() : fullscreenApi.enter()))
    .catch((err) => console.warn('fullscreen:', err?.message ?? err));
}

function syncFullscreenButton() {
  const active = fullscreenApi?.active() ?? false;
  ui.fullscreen.setAttribute('aria-label', active ? 'Exit fullscreen' : 'Enter fullscreen');
}

// --- stats overlay ---------------------------------------------------------------

const sampler = new StatsSampler();
const statFields = new Map([...ui.stats.querySelectorAll('[data-stat]')].map((el) => [/** @type {HTMLElement} */ (el).dataset.stat, el]));
/** @type {number | undefined} */
let healthTimer;

/**
 * @param {string} name
 * @param {string} value
 */
function setStat(name, value) {
  const el = statFields.get(name);
  if (el && el.textContent !== value) el.textContent = value;
}

const fmt = (/** @type {number | null} */ v, digits = 0, unit = '') => (v == null || Number.isNaN(v) ? '–' : `${v.toFixed(digits)}${unit}`);

async function pollStats() {
  const session = conn.session;
  if (!session || session.closed) return;
  let s;
  try {
    s = await sampler.sample(session.pc);
  } catch {
    return; // pc closed mid-call
  }
  // Frames decoded also counts as live: rVFC does not fire in background tabs.
  if ((s.framesDecoded ?? 0) > 0) markLive(session);
  if (ui.stats.hidden) return;

  const w = s.width ?? (ui.video.videoWidth || null);
  const h = s.height ?? (ui.video.videoHeight || null);
  setStat('resolution', w && h ? `${w}×${h}` : '–');
  setStat('fps', fmt(s.fps, 0));
  setStat('video-bitrate', fmt(s.videoKbps, 0, ' kbit/s'));
  setStat('audio-bitrate', fmt(s.audioKbps, 0, ' kbit/s'));
  setStat('rtt', fmt(s.rttMs, 0, ' ms'));
  setStat('codec', s.codec ?? '–');
  setStat('packets-lost', s.packetsLost == null ? '–' : String(s.packetsLost));
}

function renderConnectionState() {
  const pc = conn.session?.pc;
  setStat('connection', pc ? `${pcState(pc)} (ICE ${pc.iceConnectionState})` : hooks.state);
  setStat('last-error', hooks.lastError ?? '–');
}

async function pollHealth() {
  try {
    // Bearer while the address had a token (the cookie may not be set yet), as for WHEP.
    /** @type {Record<string, string>} */
    const auth = token ? { Authorization: `Bearer ${token}` } : {};
    const { res, text } = await timedFetch(statusUrl, { headers: { Accept: 'application/json', ...auth } });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    /** @type {DaemonStatus} */
    const h = JSON.parse(text);
    /** @type {Partial<CameraStatus>} */
    const cam = h.camera ?? {};
    /** @type {Partial<MicrophoneStatus>} */
    const mic = h.microphone ?? {};
    const mode = cam.width && cam.height ? ` ${cam.width}×${cam.height}@${cam.framerate ?? '?'}` : '';
    setStat('server', `${h.status ?? '?'}, ${h.viewers ?? '?'} viewer(s)`);
    setStat('camera', `${cam.backend ?? '?'} ${cam.state ?? '?'}${mode}`);
    setStat('microphone', `${mic.backend ?? '?'} ${mic.state ?? '?'}`);
    setStat('publish', (h.publish ?? []).map(describeTarget).join('; ') || '–');
  } catch (err) {
    setStat('server', `unreachable (${/** @type {Error} */ (err)?.message ?? err})`);
  }
}

/**
 * A publish target in a few words: "janus publishing", "cloud retrying (503 Service Unavailable)".
 * @param {PublishTargetStatus} t one of /api/status's publish
 */
function describeTarget(t) {
  const why = t.state === 'publishing' || !t.last_error ? '' : ` (${t.last_error})`;
  return `${t.name} ${t.state}${why}`;
}

/** @param {boolean} visible */
function setStatsVisible(visible) {
  if (hooks.unsupported) visible = false;
  ui.stats.hidden = !visible;
  ui.statsToggle.setAttribute('aria-pressed', String(visible));
  try { localStorage.setItem('edgeViewer.stats', visible ? '1' : '0'); } catch { /* private mode */ }
  clearInterval(healthTimer);
  healthTimer = undefined;
  if (visible) {
    renderConnectionState();
    renderQuality();
    pollStats();
    pollHealth();
    healthTimer = setInterval(pollHealth, HEALTH_INTERVAL_MS);
  }
}

function initialStatsVisible() {
  if (params.has('stats')) return params.get('stats') !== '0';
  try { return localStorage.getItem('edgeViewer.stats') === '1'; } catch { return false; }
}

// --- idle: fade secondary controls and cursor after a while --------------------

/** @type {number | undefined} */
let idleTimer;
function wake() {
  document.body.classList.remove('idle');
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => document.body.classList.add('idle'), IDLE_MS);
}

// --- keyboard --------------------------------------------------------------------

/** @param {KeyboardEvent} ev */
function onKey(ev) {
  if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.repeat) return;
  if (/** @type {Element} */ (ev.target).closest?.('input:not([type=radio]), textarea, select, [contenteditable]')) return;
  /** @type {Record<string, () => void>} */
  const actions = {
    s: () => setStatsVisible(ui.stats.hidden === true),
    f: toggleFullscreen,
    m: toggleMute,
    '?': toggleShortcuts,
  };
  const key = (ev.key ?? '').toLowerCase();
  if (ui.shortcuts.open && key !== '?') return; // the list is in front: only ? (or Esc) closes it
  if (key === 'm' && ui.stage.hasAttribute('data-playing')) return; // a clip plays: its controls have its sound
  const action = actions[key];
  if (action) {
    ev.preventDefault();
    action();
  }
}

function toggleShortcuts() {
  if (ui.shortcuts.open) ui.shortcuts.close();
  else ui.shortcuts.showModal(); // Escape closes it, and focus returns to where it was
}

// --- page lifecycle --------------------------------------------------------------

function onPageHide() {
  conn.running = false;
  clearTimeout(conn.retryTimer);
  clearSessionTimers();
  const session = conn.session;
  conn.session = null;
  session?.stop({ keepalive: true }); // keepalive lets the DELETE outlive the page
}

/** @param {PageTransitionEvent} ev */
function onPageShow(ev) {
  // Restored from the back/forward cache: the old session was deleted on pagehide.
  if (ev.persisted && !conn.running && !hooks.unsupported) {
    setState('connecting');
    start();
  }
}

// --- init ------------------------------------------------------------------------

function init() {
  start(); // first: time to first frame matters most (a ?token= is sent as Bearer meanwhile)
  if (token) {
    // Trade the token for a session cookie, then forget it: out of the address bar, and out
    // of this page (logged out everywhere, it must not come back with it).
    login(token).then(() => { token = null; forgetTokenInAddress(); }, (err) => { hooks.lastError = err.message; });
  }

  ui.unmute.addEventListener('click', toggleMute);
  ui.video.addEventListener('volumechange', syncUnmute);
  syncUnmute();
  initQuality();

  if (fullscreenApi) {
    ui.fullscreen.addEventListener('click', toggleFullscreen);
    ui.video.addEventListener('dblclick', toggleFullscreen);
    for (const ev of ['fullscreenchange', 'webkitfullscreenchange']) {
      document.addEventListener(ev, syncFullscreenButton);
    }
    ui.video.addEventListener('webkitbeginfullscreen', syncFullscreenButton);
    ui.video.addEventListener('webkitendfullscreen', () => {
      syncFullscreenButton();
      ui.video.play().catch(() => {}); // iOS pauses the video when leaving native fullscreen
    });
    syncFullscreenButton();
  } else {
    ui.fullscreen.hidden = true;
  }
  if (hooks.unsupported) ui.fullscreen.hidden = true;

  ui.statsToggle.addEventListener('click', () => setStatsVisible(ui.stats.hidden === true));
  ui.shortcutsToggle.addEventListener('click', toggleShortcuts);
  setStatsVisible(initialStatsVisible());
  setInterval(() => {
    pollStats();
    if (!ui.stats.hidden) renderConnectionState();
  }, STATS_INTERVAL_MS);

  document.addEventListener('keydown', onKey);
  for (const ev of ['pointermove', 'pointerdown', 'keydown']) {
    document.addEventListener(ev, wake, { passive: true });
  }
  wake();

  window.addEventListener('pagehide', onPageHide);
  window.addEventListener('pageshow', onPageShow);
}

/** @param {number} ms */
function formatSeconds(ms) {
  return `${(ms / 1000).toFixed(ms < 1000 ? 1 : 0)} s`;
}

init();
