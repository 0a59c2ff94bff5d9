// Small helpers the recordings modules share: building elements, the API's URLs, formatting.

// el('button', { class: 'x', text: 'Play', onclick: fn, 'aria-label': '…' }, ...children)
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
export function keepingFocus(render) {
  const focused = document.activeElement;
  const key = focused?.dataset?.focusKey;
  render();
  if (key && !focused.isConnected) document.querySelector(`[data-focus-key="${CSS.escape(key)}"]`)?.focus();
}

// A URL of the daemon's, relative to the page (the page may sit behind a proxy's path prefix).
export const api = (path) => new URL(path.replace(/^\//, ''), document.baseURI).href;

const sameDay = (a, b) => a.toDateString() === b.toDateString();

// "14:02:11" today, "yesterday 14:02", or a short date and time.
export function fmtWhen(iso, now = new Date()) {
  const at = new Date(iso);
  const time = at.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  if (sameDay(at, now)) return time;
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (sameDay(at, yesterday)) return `yesterday ${time}`;
  return at.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'short' });
}

export const fmtSize = (bytes) => (bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.ceil(bytes / 1e3)} kB`);

export function fmtDuration(seconds) {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')} min`;
}

// One colour per trigger name, the same wherever it shows (list, timeline, filter).
const PALETTE = ['#e0a526', '#3fa7d6', '#8bc34a', '#e57373', '#ba68c8', '#4db6ac', '#ff8a65', '#90a4ae'];
export function triggerColor(name) {
  if (name === 'manual') return '#9e9e9e';
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return PALETTE[h % PALETTE.length];
}
