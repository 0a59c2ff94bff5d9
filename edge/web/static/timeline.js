// @ts-check
// The last 24 hours as a strip with a mark per clip, coloured by trigger; a tap on a
// mark plays that clip. Marks that would overlap go to the next of three lanes, so that
// up to three clips close in time each keep a whole touch target; a fourth shares the lane
// whose last mark is furthest back (the list below has every clip).

import { el, fmtWhen, keepingFocus, triggerColor } from './dom.js';

/** @typedef {import('./dom.js').Clip} Clip */

const DAY_MS = 24 * 3600 * 1000;
const MARK_PX = 32; // a touch target (WCAG 2.2 asks for 24 at least)
const LANES = 3;
const TICKS = 4; // axis labels every 6 hours

const clock = (/** @type {number} */ ms) => new Date(ms).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });

export class Timeline {
  /** @param {(clip: Clip, mark: HTMLElement) => void} onPick */
  constructor(onPick) {
    this.onPick = onPick;
    /** @type {Clip[]} */
    this.clips = [];
    this.track = el('div', { class: 'tl-track', role: 'group', 'aria-label': 'Clips in the last 24 hours, oldest first' });
    this.axis = el('div', { class: 'tl-axis', 'aria-hidden': 'true' });
    this.root = el('section', { class: 'rec-timeline', 'aria-labelledby': 'tl-title' },
      el('h3', { id: 'tl-title', class: 'rec-subtitle', text: 'Last 24 hours' }), this.track, this.axis);
    this.track.style.height = `${LANES * MARK_PX}px`;
    new ResizeObserver(() => this.render()).observe(this.track);
    setInterval(() => this.render(), 60_000); // the window moves on
  }

  /** @param {Clip[]} clips */
  show(clips) {
    this.clips = clips;
    this.render();
  }

  render() {
    const now = Date.now();
    const from = now - DAY_MS;
    const width = this.track.clientWidth;
    if (!width) return; // not laid out (panel closed): rendered when it is
    const laneEnds = new Array(LANES).fill(-Infinity);
    const marks = this.clips
      .map((clip) => ({ clip, at: Date.parse(clip.started_at) }))
      .filter(({ at }) => at >= from)
      .sort((a, b) => a.at - b.at)
      .map(({ clip, at }) => {
        const x = Math.min(Math.max(((at - from) / DAY_MS) * width, MARK_PX / 2), width - MARK_PX / 2);
        let lane = laneEnds.findIndex((end) => x - end >= MARK_PX);
        if (lane < 0) lane = laneEnds.indexOf(Math.min(...laneEnds)); // crowded
        laneEnds[lane] = x;
        const label = `${clip.trigger} clip from ${fmtWhen(clip.started_at)}`;
        const mark = el('button', {
          type: 'button', class: 'tl-mark', 'data-name': clip.name, 'data-focus-key': `mark:${clip.name}`,
          disabled: !clip.complete,
          'aria-label': clip.complete ? `Play the ${label}` : `${label}, still recording`, title: label,
          onclick: () => this.onPick(clip, mark),
        });
        mark.style.left = `${x - MARK_PX / 2}px`;
        mark.style.top = `${lane * MARK_PX}px`;
        mark.style.setProperty('--mark', triggerColor(clip.trigger));
        return mark;
      });
    keepingFocus(() => this.track.replaceChildren(...marks));
    this.axis.replaceChildren(...Array.from({ length: TICKS + 1 }, (_, i) => {
      const span = el('span', { text: i === TICKS ? 'now' : clock(from + (i * DAY_MS) / TICKS) });
      span.style.left = `${(100 * i) / TICKS}%`;
      return span;
    }));
  }
}
