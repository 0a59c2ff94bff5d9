// @ts-check
// A recorded clip played where the live picture is, with the live view one tap away
// ("Back to live", or the l / Escape keys). The live session keeps running underneath,
// silenced while the clip plays (the m key then does nothing: the clip has its own sound
// control), so going back is instant.

import { el, fmtWhen } from './dom.js';

/** @typedef {import('./dom.js').Clip} Clip */

export class ClipPlayer {
  /**
   * @param {HTMLVideoElement} liveVideo
   * @param {(clip: Clip | null) => void} onChange
   */
  constructor(liveVideo, onChange) {
    this.liveVideo = liveVideo;
    this.onChange = onChange;
    /** @type {Clip | null} */
    this.clip = null;
    /** @type {string | null} */
    this.returnFocus = null;
    this.liveWasMuted = true;
    this.video = el('video', { controls: true, playsinline: true, preload: 'auto', 'aria-label': 'Recorded clip' });
    this.title = el('span', { class: 'player-title' });
    this.live = el('button', {
      type: 'button', class: 'player-live', title: 'Back to live (l)', onclick: () => this.close(),
    }, el('span', { class: 'live-dot', 'aria-hidden': 'true' }), 'Back to live');
    this.root = el('section', { id: 'rec-player', class: 'rec-player', 'aria-label': 'Clip player', hidden: true },
      el('div', { class: 'player-bar' }, this.live, this.title), this.video);
  }

  get open() {
    return this.clip !== null;
  }

  /**
   * @param {Clip} clip
   * @param {string} url
   * @param {HTMLElement} [opener]
   */
  play(clip, url, opener) {
    if (!this.open) {
      this.liveWasMuted = this.liveVideo.muted;
      this.liveVideo.muted = true;
      this.returnFocus = opener?.dataset.focusKey ?? null; // the opener may be redrawn meanwhile
    }
    this.clip = clip;
    this.title.textContent = `${clip.trigger} · ${fmtWhen(clip.started_at)}`;
    this.root.hidden = false;
    this.video.src = url;
    this.video.play().catch(() => {}); // the controls are there if autoplay is refused
    this.live.focus();
    this.onChange(clip);
  }

  close() {
    if (!this.open) return;
    this.clip = null;
    this.video.pause();
    this.video.removeAttribute('src');
    this.video.load();
    this.root.hidden = true;
    this.liveVideo.muted = this.liveWasMuted;
    const opener = this.returnFocus
      ? /** @type {HTMLElement | null} */ (document.querySelector(`[data-focus-key="${CSS.escape(this.returnFocus)}"]`))
      : null;
    if (opener?.offsetParent) opener.focus(); // not if the panel was closed
    this.onChange(null);
  }
}
