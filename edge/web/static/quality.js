// @ts-check
// The person's choice of picture: Auto (the camera sends what this viewer's link
// carries), HD (always the camera's main stream) or SD (always its small one).
// Remembered by this browser, asked for in the WHEP request (?quality=, so that a
// reload or a new session starts on it) and, for the session that plays, on its
// data channel (edge/webrtc/session.py), which switches it without a new session.

/** @typedef {import('../types/status').QualityMode} QualityMode */

const STORAGE_KEY = 'edgeViewer.quality';
/** @type {readonly QualityMode[]} */
const MODES = ['auto', 'high', 'low'];

/**
 * @param {unknown} value
 * @returns {value is QualityMode}
 */
export function isQualityMode(value) {
  return MODES.some((mode) => mode === value);
}

/** This browser's choice; 'auto' when it has made none (or cannot store one: private mode). */
export function storedQuality() {
  try {
    const value = localStorage.getItem(STORAGE_KEY);
    return isQualityMode(value) ? value : 'auto';
  } catch {
    return 'auto';
  }
}

/** @param {QualityMode} mode */
export function storeQuality(mode) {
  try { localStorage.setItem(STORAGE_KEY, mode); } catch { /* private mode: this page keeps it */ }
}

/**
 * The camera's WHEP endpoint, asking for `mode`.
 * @param {QualityMode} [mode]
 */
export function whepEndpoint(mode = storedQuality()) {
  const url = new URL('whep', document.baseURI);
  url.searchParams.set('quality', mode);
  return url.href;
}
