// @ts-check
// The clip list: a card per clip (its first picture, trigger, time, duration), newest
// first, a filter by trigger, and delete with a few seconds to undo.

/** @typedef {import('./dom.js').Clip} Clip */

import { timedFetch } from './whep.js';
import { api, el, fmtDuration, fmtSize, fmtWhen, keepingFocus, triggerColor } from './dom.js';

const UNDO_MS = 6000;

const triggersOf = (/** @type {Clip} */ clip) => (clip.triggers?.length ? clip.triggers : [clip.trigger]);

export class ClipList {
  // onPlay(clip, opener): play it; onShown(clips): the clips now shown (filtered, not being deleted);
  // onDelete(clip): it is gone from the list (and will be from the camera unless undone)
  /**
   * @param {object} handlers
   * @param {(clip: Clip, opener: HTMLElement) => void} handlers.onPlay
   * @param {(clips: Clip[]) => void} handlers.onShown
   * @param {(clip: Clip) => void} handlers.onDelete
   */
  constructor({ onPlay, onShown, onDelete }) {
    this.onPlay = onPlay;
    this.onShown = onShown;
    this.onDelete = onDelete;
    /** @type {Clip[]} */
    this.clips = [];
    /** @type {string | null} a trigger name, or null for all */
    this.filter = null;
    /** @type {{ clip: Clip, timer: ReturnType<typeof setTimeout> } | null} deleted on screen, not yet on the camera */
    this.pending = null;
    /** @type {string | null} */
    this.playing = null;
    this.filters = el('div', { class: 'rec-filters', role: 'group', 'aria-label': 'Show clips from' });
    this.empty = el('p', { class: 'rec-empty', text: 'No clips yet.' });
    this.list = el('ol', { id: 'rec-list', class: 'rec-list', 'aria-label': 'Clips, newest first' });
    this.undo = el('button', { type: 'button', class: 'toast-undo', text: 'Undo', onclick: () => this.undoDelete() });
    this.toastText = el('span');
    this.toast = el('div', { id: 'rec-toast', class: 'toast', role: 'status', hidden: true }, this.toastText, this.undo);
    window.addEventListener('pagehide', () => this.commitDelete({ keepalive: true }));
  }

  /** @param {Clip[]} clips */
  show(clips) {
    this.clips = clips;
    this.render();
  }

  /** @param {string | null} name */
  setPlaying(name) {
    this.playing = name;
    for (const li of /** @type {HTMLCollectionOf<HTMLElement>} */ (this.list.children)) {
      if (li.dataset.name === name) li.setAttribute('aria-current', 'true');
      else li.removeAttribute('aria-current');
    }
  }

  visible() {
    return this.clips.filter((c) => c.name !== this.pending?.clip.name);
  }

  render() {
    keepingFocus(() => this.draw());
  }

  draw() {
    const clips = this.visible();
    const names = [...new Set(clips.flatMap(triggersOf))].sort();
    if (this.filter && !names.includes(this.filter)) this.filter = null;
    this.filters.hidden = names.length < 2 && !this.filter;
    this.filters.replaceChildren(...[null, ...names].map((/** @type {string | null} */ name) => {
      const count = name ? clips.filter((c) => triggersOf(c).includes(name)).length : clips.length;
      const chip = el('button', {
        type: 'button', class: 'rec-chip', 'data-trigger': name ?? '', 'data-focus-key': `chip:${name ?? ''}`,
        'aria-pressed': String(this.filter === name),
        onclick: () => { this.filter = name; this.render(); },
      }, el('span', { text: name ?? 'All' }), el('span', { class: 'rec-count', text: String(count) }));
      if (name) chip.style.setProperty('--mark', triggerColor(name));
      return chip;
    }));
    const filter = this.filter;
    const shown = filter ? clips.filter((c) => triggersOf(c).includes(filter)) : clips;
    this.empty.hidden = shown.length > 0;
    this.empty.textContent = this.filter ? `No ${this.filter} clips.` : 'No clips yet.';
    this.list.replaceChildren(...shown.map((clip) => this.card(clip)));
    this.onShown(shown);
  }

  /** @param {Clip} clip */
  card(clip) {
    const url = api(clip.url);
    const when = fmtWhen(clip.started_at);
    const cut = clip.ended_by?.startsWith('error') ? ' · cut short' : '';
    const picture = clip.poster
      ? el('img', { class: 'rec-poster', src: api(clip.poster), alt: '', loading: 'lazy', decoding: 'async' })
      : el('span', { class: 'rec-poster rec-poster-none', 'aria-hidden': 'true' });
    const length = clip.complete ? fmtDuration(clip.duration_s) : 'recording…';
    const play = el('button', {
      type: 'button', class: 'rec-play', disabled: !clip.complete, 'data-focus-key': `play:${clip.name}`,
      // The visible duration is part of the name (WCAG 2.5.3, label in name).
      'aria-label': clip.complete ? `Play the ${clip.trigger} clip from ${when}, ${length}` : `${clip.trigger} clip, ${length}`,
      onclick: () => this.onPlay(clip, play),
    }, picture, el('span', { class: 'rec-duration', text: length }));
    const why = el('span', { class: 'rec-why', text: triggersOf(clip).join(', ') });
    why.style.setProperty('--mark', triggerColor(clip.trigger));
    const li = el('li', { 'data-name': clip.name, 'aria-current': clip.name === this.playing ? 'true' : null },
      play,
      el('div', { class: 'rec-meta' },
        why,
        el('span', { class: 'rec-when', text: when }),
        el('span', { class: 'rec-info', text: clip.complete ? `${length} · ${fmtSize(clip.size_bytes)}${cut}` : length })),
      el('div', { class: 'rec-buttons' },
        el('a', { class: 'rec-download', href: url, download: clip.name, 'data-focus-key': `download:${clip.name}`, 'aria-label': `Download the ${clip.trigger} clip from ${when}`, text: 'Download' }),
        el('button', {
          type: 'button', class: 'rec-delete', disabled: !clip.complete, text: 'Delete', 'data-focus-key': `delete:${clip.name}`,
          'aria-label': `Delete the ${clip.trigger} clip from ${when}`, onclick: () => this.delete(clip),
        })));
    return li;
  }

  // Gone from the list at once; deleted on the camera after UNDO_MS unless undone.
  /** @param {Clip} clip */
  delete(clip) {
    this.commitDelete();
    const timer = setTimeout(() => this.commitDelete(), UNDO_MS);
    this.pending = { clip, timer };
    this.onDelete(clip);
    this.toastText.textContent = `Deleted the ${clip.trigger} clip from ${fmtWhen(clip.started_at)}.`;
    this.toast.hidden = false;
    this.undo.focus();
    this.render();
  }

  undoDelete() {
    if (!this.pending) return;
    clearTimeout(this.pending.timer);
    const { name } = this.pending.clip;
    this.pending = null;
    this.toast.hidden = true;
    this.render();
    /** @type {HTMLElement | null} */ (this.list.querySelector(`[data-focus-key="${CSS.escape(`play:${name}`)}"]`))?.focus();
  }

  commitDelete({ keepalive = false } = {}) {
    if (!this.pending) return Promise.resolve();
    clearTimeout(this.pending.timer);
    const { clip } = this.pending;
    this.pending = null;
    const hadFocus = this.toast.contains(document.activeElement);
    this.toast.hidden = true;
    if (hadFocus) /** @type {HTMLElement | null} */ (this.list.querySelector('.rec-play:not(:disabled)'))?.focus(); // not lost with the toast
    this.clips = this.clips.filter((c) => c.name !== clip.name);
    return timedFetch(api(`api/recordings/${encodeURIComponent(clip.name)}`), {
      method: 'DELETE', credentials: 'same-origin', keepalive,
    }).catch(() => {});
  }
}
