// Recordings on the page: a "REC" badge while a clip is being recorded (and
// why), a "motion" badge while the camera sees motion ([motion]), a panel listing the clips newest first (play, download, delete), a
// manual Record / Stop button, and, when the camera runs simulated hardware,
// its GPIO inputs as buttons you can hold down.
//
// Independent of the live viewer (viewer.js): it builds its own elements, reads
// /api/status (logged in) every few seconds and /api/recordings (logged in) when the
// panel is open. Until the page has logged in, API calls fail quietly.

import { timedFetch } from './whep.js';

const HEALTH_INTERVAL_MS = 2000;
const api = (path) => new URL(path.replace(/^\//, ''), document.baseURI).href;

// Test hooks: read by browser tests; keep names and meanings stable.
const hooks = { recording: null, gpio: null, motion: null, clips: [] };
window.edgeRecordings = hooks;

// --- elements ------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? '' : v);
  }
  node.append(...children);
  return node;
}

const ICON_LIST = '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><circle cx="7" cy="12" r="3.5" fill="currentColor"/>'
  + '<path d="M13 8h7M13 12h7M13 16h7" stroke="currentColor" stroke-width="2" stroke-linecap="round" fill="none"/></svg>';

const ui = {
  badge: el('div', { id: 'rec-badge', class: 'rec-badge', role: 'status', 'aria-live': 'polite', hidden: true }),
  motion: el('div', {
    id: 'motion-badge', class: 'motion-badge', role: 'status', 'aria-live': 'polite', hidden: true, text: 'motion',
  }),
  toggle: el('button', {
    id: 'recordings-toggle', class: 'btn', type: 'button', 'aria-label': 'Recordings',
    'aria-pressed': 'false', 'aria-controls': 'recordings', title: 'Recordings (r)',
  }),
  record: el('button', { id: 'rec-record', class: 'rec-action', type: 'button', text: 'Record' }),
  storage: el('p', { id: 'rec-storage', class: 'rec-storage', hidden: true }),
  inputs: el('div', { id: 'rec-inputs', class: 'rec-inputs', role: 'group', 'aria-label': 'Simulated GPIO inputs', hidden: true }),
  list: el('ol', { id: 'rec-list', class: 'rec-list' }),
  empty: el('p', { class: 'rec-empty', text: 'No clips yet.' }),
  player: el('div', { id: 'rec-player', class: 'rec-player', role: 'dialog', 'aria-label': 'Clip player', hidden: true }),
  video: el('video', { controls: true, playsinline: true, preload: 'metadata' }),
};
ui.toggle.innerHTML = ICON_LIST;
ui.panel = el('section', { id: 'recordings', class: 'rec-panel', 'aria-label': 'Recordings', hidden: true },
  el('header', {},
    el('h2', { text: 'Recordings' }),
    ui.record,
    el('button', { class: 'rec-close', type: 'button', 'aria-label': 'Close recordings', text: '×', onclick: () => setOpen(false) })),
  ui.storage, ui.inputs, ui.empty, ui.list);
ui.player.append(
  el('button', { class: 'rec-close', type: 'button', 'aria-label': 'Close player', text: '×', onclick: closePlayer }),
  ui.video);

// --- the REC badge: what is recording, and why -----------------------------------

function describe(rec) {
  const why = (rec.reasons ?? []).map((r) => (r.held ? `${r.name} (held)` : r.name)).join(', ');
  if (rec.state === 'recording') {
    const left = rec.ends_at ? Math.max(0, Math.round(rec.ends_at - Date.now() / 1000)) : null;
    return `REC · ${why || 'manual'}${left !== null ? ` · ${left} s` : ''}`;
  }
  if (rec.state !== 'idle') return `${rec.state} · ${why}`;
  return '';
}

function renderRecording(rec) {
  const text = rec ? describe(rec) : '';
  ui.badge.hidden = !text;
  if (ui.badge.textContent !== text) ui.badge.textContent = text;
  const recording = rec?.state === 'recording';
  ui.record.textContent = recording ? 'Stop' : 'Record';
  ui.record.dataset.recording = String(recording);
  const storage = rec?.storage;
  const problem = storage && storage.state !== 'ok' ? storage.detail || storage.state : rec?.last_error;
  ui.storage.hidden = !problem;
  ui.storage.textContent = problem ? `⚠ ${problem}` : '';
}

// --- simulated GPIO inputs: hold the button to hold the input ---------------------

function renderInputs(gpio) {
  const inputs = gpio?.simulated ? gpio.inputs : [];
  ui.inputs.hidden = inputs.length === 0;
  const known = new Set();
  for (const input of inputs) {
    known.add(String(input.pin));
    let button = ui.inputs.querySelector(`[data-pin="${input.pin}"]`);
    if (!button) {
      button = el('button', {
        class: 'rec-input', type: 'button', 'data-pin': input.pin,
        title: `Simulated GPIO${input.pin} (${input.mode}): hold to keep it active`,
      });
      wireInput(button, input.pin);
      ui.inputs.append(button);
    }
    button.textContent = `${input.name} · GPIO${input.pin}`;
    if (!button.dataset.held) button.setAttribute('aria-pressed', String(input.active));
  }
  for (const button of ui.inputs.querySelectorAll('[data-pin]')) {
    if (!known.has(button.dataset.pin)) button.remove();
  }
}

function wireInput(button, pin) {
  const drive = (active) => {
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

// --- the clip list -------------------------------------------------------------------

const fmtTime = (iso) => new Date(iso).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
const fmtSize = (bytes) => (bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.ceil(bytes / 1e3)} kB`);

function renderClips(clips) {
  hooks.clips = clips;
  ui.empty.hidden = clips.length > 0;
  ui.list.replaceChildren(...clips.map((clip) => {
    const url = api(clip.url);
    const info = clip.complete
      ? `${clip.duration_s.toFixed(1)} s · ${fmtSize(clip.size_bytes)}${clip.ended_by?.startsWith('error') ? ' · cut short' : ''}`
      : 'recording…';
    const poster = clip.poster
      ? el('img', { class: 'rec-poster', src: api(clip.poster), alt: `first picture of the ${clip.trigger} clip`, loading: 'lazy' })
      : el('span', { class: 'rec-poster', 'aria-hidden': 'true' });
    return el('li', { 'data-name': clip.name },
      poster,
      el('div', { class: 'rec-meta' },
        el('span', { class: 'rec-when', text: fmtTime(clip.started_at) }),
        el('span', { class: 'rec-why', text: clip.triggers.join(', ') || clip.trigger }),
        el('span', { class: 'rec-info', text: info })),
      el('div', { class: 'rec-buttons' },
        el('button', { type: 'button', class: 'rec-play', disabled: !clip.complete, text: 'Play', onclick: () => play(url) }),
        el('a', { class: 'rec-download', href: url, download: clip.name, text: 'Download' }),
        el('button', { type: 'button', class: 'rec-delete', disabled: !clip.complete, text: 'Delete', onclick: () => remove(clip) })));
  }));
}

async function loadClips() {
  try {
    const { res, text } = await timedFetch(api('api/recordings'), { credentials: 'same-origin' });
    if (!res.ok) return; // not logged in yet: the viewer is asking for the token
    renderClips(JSON.parse(text));
  } catch { /* offline for a moment: the next poll tries again */ }
}

async function remove(clip) {
  if (!window.confirm(`Delete ${clip.name}?`)) return;
  await timedFetch(api(`api/recordings/${encodeURIComponent(clip.name)}`), { method: 'DELETE', credentials: 'same-origin' })
    .catch(() => {});
  loadClips();
}

function play(url) {
  ui.player.hidden = false;
  ui.video.src = url;
  ui.video.play().catch(() => {}); // the controls are there if autoplay is refused
}

function closePlayer() {
  ui.video.pause();
  ui.video.removeAttribute('src');
  ui.video.load();
  ui.player.hidden = true;
}

// --- polling ---------------------------------------------------------------------------

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
    const health = JSON.parse(text);
    hooks.recording = health.recording ?? null;
    hooks.gpio = health.gpio ?? null;
    hooks.motion = health.motion ?? null;
    ui.motion.hidden = hooks.motion?.active !== true;
    renderRecording(hooks.recording);
    renderInputs(hooks.gpio);
    // Reload the list when a clip starts, is complete (a moment after the recording stops) or goes away.
    const rec = hooks.recording;
    const signature = rec ? `${rec.clip}|${rec.clips_written}|${rec.storage?.clips}|${rec.storage?.clips_mb}` : '';
    if (!ui.panel.hidden && signature !== listSignature) loadClips();
    listSignature = signature;
  } catch { /* the viewer shows connection trouble */ }
}

let soonTimer = null;
function refreshSoon() {
  clearTimeout(soonTimer);
  soonTimer = setTimeout(pollHealth, 150);
}

// --- panel -------------------------------------------------------------------------------

function setOpen(open) {
  ui.panel.hidden = !open;
  ui.toggle.setAttribute('aria-pressed', String(open));
  if (open) {
    loadClips();
    pollHealth();
  } else {
    closePlayer();
  }
}

function onKey(ev) {
  if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.repeat) return;
  if (ev.target.closest?.('input, textarea, select, [contenteditable]')) return;
  if ((ev.key ?? '').toLowerCase() === 'r') {
    ev.preventDefault();
    setOpen(ui.panel.hidden);
  } else if (ev.key === 'Escape' && !ui.player.hidden) {
    closePlayer();
  }
}

function init() {
  const stage = document.getElementById('stage');
  const controls = stage.querySelector('.controls');
  controls.prepend(ui.toggle);
  stage.append(ui.badge, ui.motion, ui.panel, ui.player);
  ui.toggle.addEventListener('click', () => setOpen(ui.panel.hidden));
  ui.record.addEventListener('click', () => {
    post(ui.record.dataset.recording === 'true' ? 'api/recordings/stop' : 'api/recordings').then(refreshSoon);
  });
  document.addEventListener('keydown', onKey);
  pollHealth();
  setInterval(pollHealth, HEALTH_INTERVAL_MS);
}

init();
