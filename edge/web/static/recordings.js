// @ts-check
// Recordings on the page: a red "REC" badge with the trigger while a clip is being
// recorded, a short flash when a trigger fires, a "motion" badge while the camera sees
// motion, and the recordings panel: a 24-hour timeline, a filter by trigger, the clips
// with their first pictures (clips.js), played in place of the live view (player.js),
// a manual Record / Stop button and, with simulated hardware, its GPIO inputs as buttons
// you can hold down.
//
// Layout: the panel sits beside the live view on wide screens and below it on narrow
// portrait ones (the stage's data-panel attribute; viewer.css and recordings.css).
//
// Independent of the live viewer (viewer.js): it reads /api/status (logged in) every few
// seconds and /api/recordings (logged in) when the panel is open. Until the page has
// logged in, API calls fail quietly.

import { timedFetch } from './whep.js';
import { api, el } from './dom.js';
import { ClipList } from './clips.js';
import { ClipPlayer } from './player.js';
import { Timeline } from './timeline.js';

/** @typedef {import('./dom.js').Clip} Clip */
// What /api/status says (edge/web/types/status.d.ts).
/**
 * @typedef {import('../types/status').DaemonStatus} DaemonStatus
 * @typedef {import('../types/status').RecorderStatus} RecorderStatus
 * @typedef {import('../types/status').InputStatus} InputStatus
 * @typedef {import('../types/status').GpioStatus} GpioStatus
 * @typedef {import('../types/status').MotionStatus} MotionStatus
 */

const HEALTH_INTERVAL_MS = 2000;
const FLASH_MS = 4000;

// Test hooks: read by browser tests; keep names and meanings stable.
// flashes: trigger names flashed on the live view; notices: those the camera sent on the data channel.
/**
 * @type {{ recording: RecorderStatus | null, gpio: GpioStatus | null, motion: MotionStatus | null, clips: Clip[],
 *          playing: string | null, flashes: string[], notices: string[] }}
 */
const hooks = {
  recording: null, gpio: null, motion: null, clips: [], playing: null, flashes: [], notices: [],
};
/** @type {any} */ (window).edgeRecordings = hooks;

const ICON_LIST = '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><circle cx="7" cy="12" r="3.5" fill="currentColor"/>'
  + '<path d="M13 8h7M13 12h7M13 16h7" stroke="currentColor" stroke-width="2" stroke-linecap="round" fill="none"/></svg>';

const stage = /** @type {HTMLElement} */ (document.getElementById('stage'));
const liveVideo = /** @type {HTMLVideoElement} */ (document.getElementById('video'));

const player = new ClipPlayer(liveVideo, (clip) => {
  hooks.playing = clip?.name ?? null;
  stage.toggleAttribute('data-playing', Boolean(clip));
  clipList.setPlaying(hooks.playing);
});
const clipList = new ClipList({
  onPlay: (clip, opener) => player.play(clip, api(clip.url), opener),
  onDelete: (clip) => { if (player.clip?.name === clip.name) player.close(); },
  onShown: (shown) => timeline.show(shown),
});
const timeline = new Timeline((clip, opener) => {
  player.play(clip, api(clip.url), opener);
  clipList.list.querySelector(`li[data-name="${CSS.escape(clip.name)}"]`)?.scrollIntoView({ block: 'nearest' });
});

// What a screen reader hears: one live region that is always there (a region that was
// hidden when its text changed is often not read), told of recordings and triggers. The
// badges and the flash below are for the eyes.
const announcer = el('div', { id: 'rec-announce', class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });

const ui = {
  badge: el('div', { id: 'rec-badge', class: 'rec-badge', 'aria-hidden': 'true', hidden: true }),
  motion: el('div', { id: 'motion-badge', class: 'motion-badge', 'aria-hidden': 'true', hidden: true, text: 'motion' }),
  flash: el('div', { id: 'trigger-flash', class: 'trigger-flash', 'aria-hidden': 'true', hidden: true }),
  toggle: el('button', {
    id: 'recordings-toggle', class: 'btn', type: 'button', 'aria-label': 'Recordings',
    'aria-pressed': 'false', 'aria-controls': 'recordings', title: 'Recordings (r)',
  }),
  record: el('button', { id: 'rec-record', class: 'rec-action', type: 'button', text: 'Record' }),
  storage: el('p', { id: 'rec-storage', class: 'rec-storage', hidden: true }),
  inputs: el('div', { id: 'rec-inputs', class: 'rec-inputs', role: 'group', 'aria-label': 'Simulated GPIO inputs', hidden: true }),
};
ui.toggle.innerHTML = ICON_LIST;
const panel = el('section', { id: 'recordings', class: 'rec-panel', 'aria-labelledby': 'rec-title', hidden: true },
  el('header', {},
    el('h2', { id: 'rec-title', text: 'Recordings' }),
    ui.record,
    el('button', { class: 'rec-close', type: 'button', 'aria-label': 'Close recordings', title: 'Close (r)', text: '×', onclick: () => setOpen(false) })),
  ui.storage, ui.inputs, timeline.root, clipList.filters, clipList.empty, clipList.list);

// --- the REC badge: what is recording, and why -----------------------------------

/** @param {RecorderStatus} rec */
function describe(rec) {
  const why = (rec.reasons ?? []).map((r) => (r.held ? `${r.name} (held)` : r.name)).join(', ');
  if (rec.state === 'recording') {
    const left = rec.ends_at ? Math.max(0, Math.round(rec.ends_at - Date.now() / 1000)) : null;
    return `REC · ${why || 'manual'}${left !== null ? ` · ${left} s` : ''}`;
  }
  if (rec.state !== 'idle') return `${rec.state} · ${why}`;
  return '';
}

let announcedRecording = '';
/** @param {RecorderStatus | null} rec */
function renderRecording(rec) {
  const text = rec ? describe(rec) : '';
  ui.badge.hidden = !text;
  if (ui.badge.textContent !== text) ui.badge.textContent = text;
  // Said once when it starts or its reasons change, not at every tick of the countdown.
  const why = rec?.state === 'recording' ? (rec.reasons ?? []).map((r) => r.name).join(', ') || 'manual' : '';
  if (why !== announcedRecording) {
    if (why) announcer.textContent = `Recording a clip: ${why}`;
    else if (announcedRecording) announcer.textContent = 'Recording ended';
    announcedRecording = why;
  }
  const recording = rec?.state === 'recording';
  ui.record.textContent = recording ? 'Stop' : 'Record';
  ui.record.dataset.recording = String(recording);
  const storage = rec?.storage;
  const problem = storage && storage.state !== 'ok' ? storage.detail || storage.state : rec?.last_error;
  ui.storage.hidden = !problem;
  ui.storage.textContent = problem ? `⚠ ${problem}` : '';
}

// --- a trigger fired: say so briefly on the live view ------------------------------
// The camera tells the page at once on the data channel (viewer.js passes it on as an
// 'edge-trigger' event); the status poll's activation counts catch what that missed.

/** @type {Map<string, number> | null} name -> activations, from the previous status */
let seenEvents = null;
/** @type {Map<string, number>} name -> when it last flashed */
const flashedAt = new Map();
/** @type {number | undefined} */
let flashTimer;

/** @param {string[]} names */
function flash(names) {
  const now = performance.now();
  const fresh = names.filter((name) => now - (flashedAt.get(name) ?? -Infinity) >= FLASH_MS);
  if (!fresh.length) return;
  for (const name of fresh) flashedAt.set(name, now);
  hooks.flashes.push(...fresh);
  ui.flash.textContent = `⚡ ${fresh.join(', ')}`;
  announcer.textContent = `Triggered: ${fresh.join(', ')}`;
  ui.flash.hidden = false;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => { ui.flash.hidden = true; }, FLASH_MS);
}

/** @param {InputStatus[]} inputs */
function flashFromStatus(inputs) {
  const counts = new Map(inputs.map((i) => [i.name, i.events ?? 0]));
  const seen = seenEvents;
  if (seen) flash(inputs.filter((i) => /** @type {number} */ (counts.get(i.name)) > (seen.get(i.name) ?? 0)).map((i) => i.name));
  seenEvents = counts;
}

// --- simulated GPIO inputs: hold the button to hold the input ---------------------

/** @param {GpioStatus | null} gpio */
function renderInputs(gpio) {
  const inputs = gpio?.simulated ? gpio.inputs ?? [] : [];
  ui.inputs.hidden = inputs.length === 0;
  const known = new Set();
  for (const input of inputs) {
    known.add(String(input.pin));
    let button = /** @type {HTMLButtonElement | null} */ (ui.inputs.querySelector(`[data-pin="${input.pin}"]`));
    if (!button) {
      button = el('button', {
        class: 'rec-input', type: 'button', 'data-pin': input.pin,
        title: `Simulated GPIO${input.pin} (${input.mode}): hold to keep it active`,
      });
      wireInput(button, /** @type {number} */ (input.pin));
      ui.inputs.append(button);
    }
    button.textContent = `${input.name} · GPIO${input.pin}`;
    if (!button.dataset.held) button.setAttribute('aria-pressed', String(input.active));
  }
  for (const button of ui.inputs.querySelectorAll('[data-pin]')) {
    if (!known.has(/** @type {HTMLElement} */ (button).dataset.pin)) button.remove();
  }
}

/**
 * @param {HTMLButtonElement} button
 * @param {number} pin
 */
function wireInput(button, pin) {
  const drive = (/** @type {boolean} */ active) => {
    if ((button.dataset.held === '1') === active) return;
    button.dataset.held = active ? '1' : '';
    button.setAttribute('aria-pressed', String(active));
    post(`api/sim/gpio/${pin}`, { active }).then(refreshSoon);
  };
  button.addEventListener('pointerdown', (ev) => { button.setPointerCapture?.(ev.pointerId); drive(true); });
  for (const ev of ['pointerup', 'pointercancel', 'lostpointercapture']) button.addEventListener(ev, () => drive(false));
  button.addEventListener('keydown', (ev) => { if ((ev.key === ' ' || ev.key === 'Enter') && !ev.repeat) { ev.preventDefault(); drive(true); } });
  button.addEventListener('keyup', (ev) => { if (ev.key === ' ' || ev.key === 'Enter') drive(false); });
  button.addEventListener('blur', () => drive(false));
}

// --- the clips ------------------------------------------------------------------------

async function loadClips() {
  try {
    const { res, text } = await timedFetch(api('api/recordings'), { credentials: 'same-origin' });
    if (!res.ok) return; // not logged in yet: the viewer is asking for the token
    hooks.clips = JSON.parse(text);
    clipList.show(hooks.clips);
  } catch { /* offline for a moment: the next poll tries again */ }
}

// --- polling ---------------------------------------------------------------------------

/**
 * @param {string} path
 * @param {object} [body]
 */
function post(path, body) {
  return timedFetch(api(path), {
    method: 'POST', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body ?? {}),
  }).catch(() => {});
}

let listSignature = '';
async function pollHealth() {
  try {
    const { res, text } = await timedFetch(api('api/status'), { credentials: 'same-origin' });
    if (!res.ok) return;
    /** @type {DaemonStatus} */
    const health = JSON.parse(text);
    hooks.recording = health.recording ?? null;
    hooks.gpio = health.gpio ?? null;
    hooks.motion = health.motion ?? null;
    ui.motion.hidden = hooks.motion?.active !== true;
    renderRecording(hooks.recording);
    renderInputs(hooks.gpio);
    flashFromStatus([...(hooks.gpio?.inputs ?? []), ...(hooks.motion?.inputs ?? [])]);
    // Reload the list when a clip starts, is complete (a moment after the recording stops) or goes away.
    const rec = hooks.recording;
    const signature = rec ? `${rec.clip}|${rec.clips_written}|${rec.storage?.clips}|${rec.storage?.clips_mb}` : '';
    if (!panel.hidden && signature !== listSignature) loadClips();
    listSignature = signature;
  } catch { /* the viewer shows connection trouble */ }
}

/** @type {number | undefined} */
let soonTimer;
function refreshSoon() {
  clearTimeout(soonTimer);
  soonTimer = setTimeout(pollHealth, 150);
}

// --- panel -------------------------------------------------------------------------------

/** @param {boolean} open */
function setOpen(open) {
  const focusInside = panel.contains(document.activeElement) || player.root.contains(document.activeElement);
  panel.hidden = !open;
  stage.toggleAttribute('data-panel', open);
  ui.toggle.setAttribute('aria-pressed', String(open));
  if (open) {
    loadClips();
    pollHealth();
  } else {
    player.close();
    if (focusInside) ui.toggle.focus(); // not lost with the panel
  }
}

/** @param {KeyboardEvent} ev */
function onKey(ev) {
  if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.repeat) return;
  if (/** @type {Element} */ (ev.target).closest?.('input, textarea, select, [contenteditable], dialog')) return;
  const key = (ev.key ?? '').toLowerCase();
  if (key === 'r') {
    ev.preventDefault();
    setOpen(panel.hidden === true);
  } else if ((key === 'l' || key === 'escape') && player.open) {
    ev.preventDefault();
    player.close();
  } else if (key === 'escape' && !panel.hidden) {
    setOpen(false);
  }
}

function init() {
  const controls = /** @type {HTMLElement} */ (stage.querySelector('.controls'));
  controls.prepend(ui.toggle);
  stage.append(player.root, ui.badge, ui.motion, ui.flash, panel, clipList.toast, announcer);
  ui.toggle.addEventListener('click', () => setOpen(panel.hidden === true));
  ui.record.addEventListener('click', () => {
    post(ui.record.dataset.recording === 'true' ? 'api/recordings/stop' : 'api/recordings').then(refreshSoon);
  });
  document.addEventListener('keydown', onKey);
  window.addEventListener('edge-trigger', (ev) => {
    const { name } = /** @type {CustomEvent<{ name: string }>} */ (ev).detail;
    hooks.notices.push(name);
    seenEvents?.set(name, (seenEvents.get(name) ?? 0) + 1); // so that the next status does not flash it again
    flash([name]);
  });
  pollHealth();
  setInterval(pollHealth, HEALTH_INTERVAL_MS);
}

init();
