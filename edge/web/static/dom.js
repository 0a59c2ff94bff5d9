// @ts-check
// Small helpers the recordings modules share: building elements, the API's URLs, formatting.

// el('button', { class: 'x', text: 'Play', onclick: fn, 'aria-label': '…' }, ...children)
/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, any>} attrs
 * @param {(Node | string)[]} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, attrs = {}, ...children) {
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

// Runs render(), which may rebuild the element that has the focus, and gives the focus to
// its rebuilt counterpart (the element with the same data-focus-key), so that a list
// redrawn by a poll or a filter does not throw a keyboard user back to the page's start.
/** @param {() => void} render */
export function keepingFocus(render) {
  const focused = document.activeElement;
  const key = /** @type {HTMLElement | null} */ (focused)?.dataset?.focusKey;
  render();
  if (key && !focused?.isConnected) {
    /** @type {HTMLElement | null} */ (document.querySelector(`[data-focus-key="${CSS.escape(key)}"]`))?.focus();
  }
}

// A URL of the daemon's. The page's own paths are relative (`api/recordings`): under the page's folder,
// so behind a proxy's path prefix too. Paths the daemon hands out (a clip's `url`) are absolute and
// already under the prefix a trusted proxy told it (X-Forwarded-Prefix).
export const api = (/** @type {string} */ path) => new URL(path, document.baseURI).href;

/**
 * A clip as /api/recordings lists it (edge/api/recordings.py).
 * @typedef {object} Clip
 * @property {string} name
 * @property {string} trigger
 * @property {string[]} [triggers] every trigger that fired while it was recorded
 * @property {string} started_at ISO 8601
 * @property {number} duration_s
 * @property {number} size_bytes
 * @property {boolean} complete false while being written
 * @property {string | null} [ended_by]
 * @property {string} url
 * @property {string | null} poster
 */

const sameDay = (/** @type {Date} */ a, /** @type {Date} */ b) => a.toDateString() === b.toDateString();

// "14:02:11" today, "yesterday 14:02", or a short date and time.
/** @param {string} iso */
export function fmtWhen(iso, now = new Date()) {
  const at = new Date(iso);
  const time = at.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  if (sameDay(at, now)) return time;
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (sameDay(at, yesterday)) return `yesterday ${time}`;
  return at.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'short' });
}

export const fmtSize = (/** @type {number} */ bytes) => (bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.ceil(bytes / 1e3)} kB`);

/** @param {number} seconds */
export function fmtDuration(seconds) {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')} min`;
}

// One colour per trigger name, the same wherever it shows (list, timeline, filter).
const PALETTE = ['#e0a526', '#3fa7d6', '#8bc34a', '#e57373', '#ba68c8', '#4db6ac', '#ff8a65', '#90a4ae'];
/** @param {string} name */
export function triggerColor(name) {
  if (name === 'manual') return '#9e9e9e';
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return PALETTE[h % PALETTE.length];
}
