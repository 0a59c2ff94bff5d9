// @ts-check
// The first WHEP session starts here, as soon as this small module and whep.js
// have loaded: an async module waits neither for the page's style and layout
// nor for its other scripts, which take a browser's main thread most of the
// first 100 ms. viewer.js takes this session over (takeEarlySession) and
// handles it like any other; if it could not start, viewer.js makes its own.

import { WhepSession } from './whep.js';
import { whepEndpoint } from './quality.js';

/** @type {WhepSession | null} */
let early = null;
if (typeof RTCPeerConnection === 'function') {
  try {
    const token = new URLSearchParams(window.location.search).get('token'); // as viewer.js: Bearer until the cookie
    early = new WhepSession(whepEndpoint(), { token }); // on the picture this browser chose last
    early.start().catch(() => {}); // viewer.js sees the outcome through the same promise
  } catch {
    early = null; // WebRTC disabled: viewer.js says so
  }
}

/** The session started while the page loaded, once; null after that or if there is none. */
export function takeEarlySession() {
  const session = early;
  early = null;
  return session;
}
