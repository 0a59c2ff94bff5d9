// @ts-check
// WHEP (draft-ietf-wish-whep) receive-only client. No DOM dependencies: the
// UI in viewer.js owns the <video> element, status display and reconnect policy.
//
// Lifecycle:  new WhepSession(url, opts) -> pc + transceivers exist immediately
//             await session.start()      -> offer POSTed, answer applied
//             await session.restartIce() -> ICE restart in place (PATCH), same pc
//             session.stop()             -> best-effort DELETE, pc closed
//
// Local ICE candidates are trickled with PATCH (RFC 8840 sdpfrag) instead of
// waiting for gathering to complete, so the POST goes out as early as possible.

export const DEFAULT_TIMEOUT_MS = 3000;
const CONTROL_CHANNEL = 'edge'; // the camera's notices and the page's requests (edge/webrtc/session.py)
const SDPFRAG = 'application/trickle-ice-sdpfrag';
const MAX_RETRY_AFTER_MS = 30_000;
const MAX_RESTART_ATTEMPTS_IN_FLIGHT = 4; // of the browser's 6 connections per server
// TURN credentials from the camera expire (turn_credential_lifetime, at least 10 minutes): fresh ones
// are fetched this often, for the next ICE restart.
const ICE_SERVERS_REFRESH_MS = 5 * 60_000;

/**
 * An error with an optional HTTP status, server-provided Retry-After, and the
 * camera's machine-readable reason (X-Edge-Reason, e.g. 'no-h264'; see
 * edge/signaling/whep.py).
 */
export class WhepError extends Error {
  /**
   * @param {string} message
   * @param {{ status?: number, retryAfterMs?: number | null, code?: string | null, cause?: unknown }} [details]
   */
  constructor(message, { status = 0, retryAfterMs = null, code = null, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'WhepError';
    this.status = status;          // 0 = not an HTTP error (network, timeout, ...)
    this.retryAfterMs = retryAfterMs;
    this.code = code;              // X-Edge-Reason, or null
  }

  /**
   * Build from a non-2xx response; the server sends a one-line text/plain reason.
   * @param {Response} res
   * @param {string} text
   */
  static fromResponse(res, text) {
    let reason = firstLine(text);
    if (!reason || reason.startsWith('<')) reason = `${res.status} ${res.statusText}`.trim();
    return new WhepError(reason, {
      status: res.status,
      retryAfterMs: parseRetryAfter(res.headers.get('Retry-After')),
      code: res.headers.get('X-Edge-Reason'),
    });
  }

  /** The camera refused the offer because it has no H.264 it can send: retrying cannot help. */
  get noH264() {
    return this.status === 400 && (this.code === 'no-h264' || /\bno H\.264\b/.test(this.message));
  }
}

/**
 * Can this browser receive the camera's video (H.264, packetization-mode 1,
 * a Baseline profile 42xxxx)? true or false by RTCRtpReceiver.getCapabilities;
 * null when the browser does not tell (older ones lack getCapabilities): then
 * only the camera's answer to the offer says.
 */
export function canReceiveH264() {
  let caps = null;
  try {
    if (typeof RTCRtpReceiver === 'undefined' || typeof RTCRtpReceiver.getCapabilities !== 'function') return null;
    caps = RTCRtpReceiver.getCapabilities('video');
  } catch {
    return null;
  }
  if (!caps || !Array.isArray(caps.codecs)) return null;
  return caps.codecs.some(isUsableH264);
}

/** @param {RTCRtpCodec | undefined} codec */
function isUsableH264(codec) {
  if (String(codec?.mimeType ?? '').toLowerCase() !== 'video/h264') return false;
  const fmtp = String(codec?.sdpFmtpLine ?? '').toLowerCase();
  const mode = fmtp.match(/packetization-mode=(\d+)/);
  const profile = fmtp.match(/profile-level-id=([0-9a-f]{6})/);
  // Absent parameters: the browser did not say, so do not rule it out.
  return (!mode || mode[1] === '1') && (!profile || profile[1].startsWith('42'));
}

/**
 * fetch() with a timeout covering headers *and* body; returns { res, text }.
 * `signal` (optional) aborts early, e.g. when the owning session is stopped.
 * @param {string} url
 * @param {RequestInit} [init]
 * @param {{ timeoutMs?: number, signal?: AbortSignal }} [options]
 * @returns {Promise<{ res: Response, text: string }>}
 */
export async function timedFetch(url, init = {}, { timeoutMs = DEFAULT_TIMEOUT_MS, signal } = {}) {
  const ctrl = new AbortController();
  const onAbort = () => ctrl.abort();
  if (signal?.aborted) ctrl.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; ctrl.abort(); }, timeoutMs);
  try {
    const res = await fetch(url, { cache: 'no-store', ...init, signal: ctrl.signal });
    const text = await res.text();
    return { res, text };
  } catch (err) {
    if (timedOut) throw new WhepError(`request timed out (${timeoutMs / 1000} s)`, { cause: err });
    if (/** @type {Error | undefined} */ (err)?.name === 'AbortError') throw err;
    throw new WhepError('network error', { cause: err }); // fetch rejects with TypeError
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

export class WhepSession {
  // Trickle state is per ICE generation: these are the first one's; an ICE restart resets them (_resetTrickle).
  /** @type {RTCIceCandidate[]} */
  _pendingCandidates = [];
  /** @type {Set<string>} "candidate:..." strings already sent */
  _sentCandidates = new Set();
  _gatheringDone = false;
  _endSent = false;
  /** @type {number | undefined} */
  _flushTimer = undefined;
  /** @type {Promise<unknown>} keeps PATCHes in order */
  _trickleChain = Promise.resolve();
  _trickleDisabled = false;

  /**
   * @param {string|URL} endpoint  WHEP endpoint URL (absolute or relative to the page)
   * @param {object} [opts]
   * @param {string|null} [opts.token]   sent as "Authorization: Bearer <token>"
   * @param {number} [opts.timeoutMs]    per-request timeout
   * @param {number} [opts.trickleBatchMs] how long to accumulate candidates per PATCH
   * @param {RTCConfiguration} [opts.rtcConfig] merged over { iceServers: [] }; without iceServers
   *   in it, the camera's (Link headers on OPTIONS, RFC 9725) are used
   */
  constructor(endpoint, { token = null, timeoutMs = DEFAULT_TIMEOUT_MS, trickleBatchMs = 50, rtcConfig = {} } = {}) {
    this.endpoint = new URL(endpoint, globalThis.location?.href).href;
    this.token = token;
    this.timeoutMs = timeoutMs;
    this.trickleBatchMs = trickleBatchMs;

    /** @type {string | null} absolute URL of the WHEP session resource */
    this.location = null;
    /** @type {string | null} */
    this.etag = null;
    this.closed = false;

    // None until the camera names some (_useCameraIceServers): a LAN camera needs none.
    this.pc = new RTCPeerConnection({ iceServers: [], ...rtcConfig });
    this._askForIceServers = !('iceServers' in rtcConfig);
    /** @type {number | undefined} */
    this._iceServersTimer = undefined;
    this.videoTransceiver = this.pc.addTransceiver('video', { direction: 'recvonly' });
    this.audioTransceiver = this.pc.addTransceiver('audio', { direction: 'recvonly' });
    // A live camera: ask for the smallest jitter buffer the browser allows (the
    // camera also sends a low playout-delay hint, which Chromium honours).
    for (const { receiver } of [this.videoTransceiver, this.audioTransceiver]) {
      if ('jitterBufferTarget' in receiver) receiver.jitterBufferTarget = 0;
    }
    // Receiver tracks exist from the start (unified plan), so the UI can attach
    // this stream to <video> before negotiation finishes; no ontrack needed.
    this.stream = new MediaStream([
      this.videoTransceiver.receiver.track,
      this.audioTransceiver.receiver.track,
    ]);

    // The camera's notices and the page's requests travel on this channel (recovery.js,
    // lipsync.js). Unreliable beyond 1 s: a notice stuck behind a dead path is stale when it gets through.
    this.control = this.pc.createDataChannel(CONTROL_CHANNEL, { maxPacketLifeTime: 1000 });

    this._abort = new AbortController(); // cancels PATCHes once stopped
    /** @type {Promise<void> | null} */
    this._started = null;
    /** @type {Promise<void> | null} */
    this._stopPromise = null;
    this._restarting = false;
    this.pc.addEventListener('icecandidate', (ev) => this._onIceCandidate(ev));
  }

  /** Negotiate: create offer, POST it, apply the answer. Rejects with WhepError. The same promise every call. */
  start() {
    this._started ??= this._start();
    return this._started;
  }

  async _start() {
    // The camera's STUN/TURN servers must be set before gathering starts (setLocalDescription).
    const [offer] = await Promise.all([this.pc.createOffer(), this._useCameraIceServers()]);
    await this.pc.setLocalDescription(offer);
    this._throwIfClosed(); // stop() may have run meanwhile: no timer to outlive it
    if (this._askForIceServers) {
      this._iceServersTimer = setInterval(() => this._useCameraIceServers(), ICE_SERVERS_REFRESH_MS);
    }
    this._throwIfClosed();

    // POST right away; candidates follow by PATCH. Any candidate that already
    // made it into the SDP must not be sent again.
    const sdp = /** @type {RTCSessionDescription} */ (this.pc.localDescription).sdp;
    for (const c of sdpCandidates(sdp)) this._sentCandidates.add(c);

    // Not tied to this._abort: if stop() races the POST we still want the
    // Location so the server-side session can be DELETEd (see below).
    const { res, text } = await timedFetch(this.endpoint, {
      method: 'POST',
      headers: this._headers({ 'Content-Type': 'application/sdp' }),
      body: sdp,
    }, { timeoutMs: this.timeoutMs });
    if (!res.ok) throw WhepError.fromResponse(res, text);

    const loc = res.headers.get('Location');
    if (!loc) throw new WhepError('server response has no Location header', { status: res.status });
    this.location = new URL(loc, res.url || this.endpoint).href;
    this.etag = res.headers.get('ETag');
    if (this.closed) {
      this._delete(false);
      this._throwIfClosed();
    }

    this._flushCandidates(); // whatever was gathered while the POST was in flight
    await this.pc.setRemoteDescription({ type: 'answer', sdp: text });
    this._throwIfClosed();
  }

  /**
   * PATCH the session resource (trickle, ICE restart). Sends If-Match (by
   * default the current ETag) and picks up a new ETag from the response.
   * Returns { res, text }; rejects with WhepError on non-2xx.
   * @param {string | null} body
   * @param {{ contentType?: string, ifMatch?: string | null, timeoutMs?: number, signal?: AbortSignal }} [options]
   */
  async patch(body, { contentType = SDPFRAG, ifMatch = this.etag, timeoutMs = this.timeoutMs, signal = this._abort.signal } = {}) {
    if (!this.location) throw new WhepError('no WHEP session yet');
    this._throwIfClosed();
    /** @type {Record<string, string>} */
    const headers = this._headers({ 'Content-Type': contentType });
    if (ifMatch) headers['If-Match'] = ifMatch;
    const result = await timedFetch(this.location, { method: 'PATCH', headers, body }, { timeoutMs, signal });
    const etag = result.res.headers.get('ETag');
    if (etag) this.etag = etag;
    if (!result.res.ok) throw WhepError.fromResponse(result.res, result.text);
    return result;
  }

  /**
   * ICE restart in place (RFC 9725 section 4.3.2): new local credentials go to
   * the server as an sdpfrag with If-Match: *, and its answer (new credentials
   * and candidates) is applied as a new remote answer. The peer connection,
   * its DTLS association and tracks stay.
   *
   * The PATCH is hedged: two copies go at once and, while none has answered,
   * another every `hedgeMs`, each giving up after `attemptTimeoutMs`. A copy
   * that gets a kept-alive connection to the server's old address hangs; the
   * browser sends the others on new connections, which reach the address it
   * has now. The server answers every copy of one restart alike. Rejects with
   * WhepError: at once when the server refuses (4xx), or when nothing
   * answered within `budgetMs`.
   */
  async restartIce({ hedgeMs = 200, attemptTimeoutMs = 1000, budgetMs = 4000 } = {}) {
    if (!this.location) throw new WhepError('no WHEP session yet');
    this._throwIfClosed();
    clearTimeout(this._flushTimer);
    this._resetTrickle(); // a new generation: its candidates wait for the answer (_restarting)
    this._restarting = true;
    try {
      this.pc.restartIce();
      await this.pc.setLocalDescription(await this.pc.createOffer());
      this._throwIfClosed();
      const { text } = await this._hedgedPatch(this._buildSdpFrag([], false), { hedgeMs, attemptTimeoutMs, budgetMs });
      this._throwIfClosed();
      const answer = /** @type {RTCSessionDescription} */ (this.pc.remoteDescription).sdp;
      await this.pc.setRemoteDescription({ type: 'answer', sdp: restartedAnswer(answer, text) });
    } finally {
      this._restarting = false;
    }
    this._flushCandidates();
  }

  /**
   * Close the peer connection and DELETE the server session (best effort,
   * never rejects). Idempotent. Use keepalive from pagehide so the request
   * survives page teardown.
   */
  stop({ keepalive = false } = {}) {
    if (this._stopPromise) return this._stopPromise;
    this.closed = true;
    clearTimeout(this._flushTimer);
    clearInterval(this._iceServersTimer);
    this._abort.abort();
    try { this.pc.close(); } catch { /* already closed */ }
    this._stopPromise = this.location ? this._delete(keepalive) : Promise.resolve();
    return this._stopPromise;
  }

  // --- internals -----------------------------------------------------------

  /**
   * Ask the camera which STUN/TURN servers to use (RFC 9725 section 4.6: Link headers on OPTIONS, with
   * TURN credentials made for this viewer) and use them from the next gathering on. Never rejects:
   * without an answer the LAN still works.
   */
  async _useCameraIceServers() {
    if (!this._askForIceServers || this.closed) return;
    try {
      const { res } = await timedFetch(this.endpoint, { method: 'OPTIONS', headers: this._headers() },
        { timeoutMs: this.timeoutMs, signal: this._abort.signal });
      const iceServers = iceServersFromLinks(res.headers.get('Link'));
      if (iceServers.length && !this.closed) this.pc.setConfiguration({ ...this.pc.getConfiguration(), iceServers });
    } catch (err) { // no answer, or servers this browser refuses: go on with what the connection has
      if (!this.closed) console.warn('the camera\'s ICE servers are not used:', /** @type {Error} */ (err)?.message ?? err);
    }
  }

  /**
   * @param {Record<string, string>} [extra]
   * @returns {Record<string, string>}
   */
  _headers(extra = {}) {
    const h = { ...extra };
    if (this.token) h.Authorization = `Bearer ${this.token}`;
    return h;
  }

  /** @param {boolean} keepalive */
  async _delete(keepalive) {
    try {
      await timedFetch(/** @type {string} */ (this.location), { method: 'DELETE', headers: this._headers(), keepalive },
        { timeoutMs: this.timeoutMs });
    } catch { /* best effort: the server also expires dead sessions */ }
  }

  _throwIfClosed() {
    if (this.closed) throw new WhepError('session stopped');
  }

  /**
   * The same PATCH, hedged (see restartIce): resolves with the first answer.
   * @param {string | null} body
   * @param {{ hedgeMs: number, attemptTimeoutMs: number, budgetMs: number }} timing
   * @returns {Promise<{ res: Response, text: string }>}
   */
  _hedgedPatch(body, { hedgeMs, attemptTimeoutMs, budgetMs }) {
    const hedge = new AbortController();
    const deadline = performance.now() + budgetMs;
    return new Promise((resolve, reject) => {
      let inFlight = 0;
      let lastError = new WhepError('no answer to the ICE restart');
      /** @type {number | undefined} */
      let timer;
      const onStop = () => settle(reject, new WhepError('session stopped'));
      /**
       * @template T
       * @param {(value: T) => void} fn
       * @param {T} value
       */
      const settle = (fn, value) => {
        if (hedge.signal.aborted) return;
        clearTimeout(timer);
        this._abort.signal.removeEventListener('abort', onStop);
        hedge.abort(); // the other copies
        fn(value);
      };
      const send = () => {
        inFlight += 1;
        this.patch(body, { ifMatch: '*', timeoutMs: attemptTimeoutMs, signal: hedge.signal }).then(
          (result) => settle(resolve, result),
          (err) => {
            inFlight -= 1;
            if (err?.status >= 400 && err.status < 500) settle(reject, err); // refused: no retry helps
            lastError = err;
          });
      };
      const tick = () => {
        if (hedge.signal.aborted) return;
        if (performance.now() >= deadline) {
          if (inFlight === 0) settle(reject, lastError);
        } else if (inFlight < MAX_RESTART_ATTEMPTS_IN_FLIGHT) {
          send();
        }
        timer = setTimeout(tick, hedgeMs);
      };
      this._abort.signal.addEventListener('abort', onStop, { once: true });
      send();
      tick();
    });
  }

  /** A new ICE generation's trickle state, as the first one's above. */
  _resetTrickle() {
    this._pendingCandidates = [];
    this._sentCandidates = new Set();
    this._gatheringDone = false;
    this._endSent = false;
    this._flushTimer = undefined;
    this._trickleChain = Promise.resolve();
    this._trickleDisabled = false;
  }

  /** @param {RTCPeerConnectionIceEvent} ev */
  _onIceCandidate(ev) {
    // null (or, in some browsers, an empty candidate string) = gathering finished.
    if (ev.candidate && ev.candidate.candidate) {
      this._pendingCandidates.push(ev.candidate);
      this._scheduleFlush();
    } else {
      this._gatheringDone = true;
      this._flushCandidates(); // send the remainder + end-of-candidates now
    }
  }

  _scheduleFlush() {
    if (this._flushTimer || !this.location) return; // start() flushes after the POST
    this._flushTimer = setTimeout(() => this._flushCandidates(), this.trickleBatchMs);
  }

  _flushCandidates() {
    clearTimeout(this._flushTimer);
    this._flushTimer = undefined;
    if (!this.location || this.closed || this._trickleDisabled || this._restarting) return;

    const candidates = this._pendingCandidates.splice(0)
      .filter((c) => !this._sentCandidates.has(c.candidate));
    const sendEnd = this._gatheringDone && !this._endSent;
    if (!candidates.length && !sendEnd) return;
    candidates.forEach((c) => this._sentCandidates.add(c.candidate));
    if (sendEnd) this._endSent = true;

    const frag = this._buildSdpFrag(candidates, sendEnd);
    if (!frag) return;
    this._trickleChain = this._trickleChain
      .then(() => this.patch(frag))
      .catch((err) => this._onTrickleError(err));
  }

  // Trickle failures are non-fatal: the browser still answers the server's
  // connectivity checks, which yields peer-reflexive candidates on its side.
  /** @param {WhepError | undefined} err */
  _onTrickleError(err) {
    if (this.closed) return;
    if (err?.status === 405 || err?.status === 501) this._trickleDisabled = true; // not supported
    console.warn('WHEP trickle PATCH failed:', err?.message ?? err);
  }

  /**
   * RFC 8840 / WHIP-style fragment:
   *   a=ice-ufrag / a=ice-pwd, then per media section
   *   m=<kind> 9 UDP/TLS/RTP/SAVPF 0, a=mid:<mid>, a=candidate:..., and a final
   *   a=end-of-candidates when gathering is complete.
   * @param {RTCIceCandidate[]} candidates
   * @param {boolean} end
   * @returns {string | null}
   */
  _buildSdpFrag(candidates, end) {
    const sdp = this.pc.localDescription?.sdp ?? '';
    const ufrag = sdpAttr(sdp, 'ice-ufrag');
    const pwd = sdpAttr(sdp, 'ice-pwd');
    if (!ufrag || !pwd) return null;

    // Map mids to kinds in m-line order so sections come out in SDP order.
    /** @type {Map<string, { kind: string, lines: string[] }>} */
    const sections = new Map();
    for (const t of this.pc.getTransceivers()) {
      if (t.mid != null) sections.set(t.mid, { kind: t.receiver.track.kind, lines: [] });
    }
    const mids = [...sections.keys()];
    for (const c of candidates) {
      const mid = c.sdpMid ?? mids[c.sdpMLineIndex ?? 0];
      sections.get(mid)?.lines.push(`a=${c.candidate}`);
    }

    const out = [`a=ice-ufrag:${ufrag}`, `a=ice-pwd:${pwd}`];
    for (const [mid, { kind, lines }] of sections) {
      const isFirst = mid === mids[0];
      if (!lines.length && !(end && isFirst)) continue; // BUNDLE: one section is enough
      out.push(`m=${kind} 9 UDP/TLS/RTP/SAVPF 0`, `a=mid:${mid}`, ...lines);
    }
    if (end) out.push('a=end-of-candidates');
    return out.join('\r\n') + '\r\n';
  }
}

// --- helpers -----------------------------------------------------------------

/**
 * RFC 9725 section 4.6: `Link: <turn:host?transport=udp>; rel="ice-server"; username="u"; credential="c"`
 * as RTCIceServers (fetch joins several Link headers with ", ").
 * @param {string | null} header
 * @returns {RTCIceServer[]}
 */
export function iceServersFromLinks(header) {
  /** @type {RTCIceServer[]} */
  const servers = [];
  for (const link of (header ?? '').matchAll(/<([^>]*)>((?:\s*;\s*[\w-]+\s*=\s*(?:"[^"]*"|[^;,"]*))*)/g)) {
    /** @type {Record<string, string>} */
    const params = {};
    for (const p of link[2].matchAll(/;\s*([\w-]+)\s*=\s*(?:"([^"]*)"|([^;,"]*))/g)) {
      params[p[1].toLowerCase()] = p[2] ?? p[3].trim();
    }
    if (params.rel !== 'ice-server' || !/^(stuns?|turns?):/.test(link[1])) continue;
    /** @type {RTCIceServer} */
    const server = { urls: link[1] };
    if (params.username !== undefined) server.username = params.username;
    if (params.credential !== undefined) server.credential = params.credential;
    servers.push(server);
  }
  return servers;
}

/** @param {string | null | undefined} text */
function firstLine(text) {
  return (text ?? '').trim().split(/\r?\n/, 1)[0].trim().slice(0, 200);
}

/**
 * Retry-After is either delta-seconds or an HTTP date; returns ms or null.
 * @param {string | null} value
 */
function parseRetryAfter(value) {
  if (!value) return null;
  let ms = /^\d+$/.test(value.trim()) ? Number(value) * 1000 : Date.parse(value) - Date.now();
  if (!Number.isFinite(ms)) return null;
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

/**
 * @param {string} sdp
 * @param {string} name
 */
function sdpAttr(sdp, name) {
  const m = sdp.match(new RegExp(`^a=${name}:(.+)$`, 'm'));
  return m ? m[1].trim() : null;
}

/**
 * The remote answer again, with the credentials and candidates of an ICE
 * restart's answer (the server's sdpfrag) in place of the old ones.
 * @param {string} answer
 * @param {string} frag
 */
function restartedAnswer(answer, frag) {
  const ufrag = sdpAttr(frag, 'ice-ufrag');
  const pwd = sdpAttr(frag, 'ice-pwd');
  if (!ufrag || !pwd) throw new WhepError('the ICE restart answer has no ice-ufrag/ice-pwd');
  const candidates = [...sdpCandidates(frag).map((c) => `a=${c}`), 'a=end-of-candidates'];
  /** @type {string[]} */
  const out = [];
  for (const line of answer.split(/\r?\n/)) {
    if (!line || line.startsWith('a=candidate:') || line === 'a=end-of-candidates') continue;
    if (line.startsWith('m=') && out.some((l) => l.startsWith('m='))) out.push(...candidates);
    if (line.startsWith('a=ice-ufrag:')) out.push(`a=ice-ufrag:${ufrag}`);
    else if (line.startsWith('a=ice-pwd:')) out.push(`a=ice-pwd:${pwd}`);
    else out.push(line);
  }
  out.push(...candidates);
  return out.join('\r\n') + '\r\n';
}

/**
 * "candidate:..." strings (without "a=") contained in an SDP blob.
 * @param {string} sdp
 */
function sdpCandidates(sdp) {
  return [...sdp.matchAll(/^a=(candidate:.+?)\r?$/gm)].map((m) => m[1]);
}
