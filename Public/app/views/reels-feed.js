// The vertical reel scroller (issue 15) behind #/reels, #/reels/tag/<tag> and #/reels/<id>:
// one reel per screen (CSS scroll snap), the one at least 60 % on screen plays (muted until
// the user asks for sound), the next one preloads (`preload=auto`), the previous keeps its
// metadata and the rest let their video go; an IntersectionObserver decides. Pages come from
// `load(cursor)` ({reels, next}) when three reels are left. Reels seen are recorded in
// batches (`record_reel_impressions`, at most 50 per call). Loading, empty and error states;
// ↑/↓, PageUp/PageDown, j/k move between reels, m toggles the sound.
import { h, clear, focus } from '../util.js';
import { t } from '../i18n.js';
import { toast, toastError, announce } from '../toast.js';
import { errorState, emptyState } from './common.js';
import { reelCard } from './reel-player.js';

const PAGE = 10;

/**
 * Mounts a feed into `host`. opts: {label, load(cursor) → Promise<{reels, next}>, empty: Node
 * for the empty state}. Returns {cleanup()}.
 */
export function reelsFeed(host, s, { label, load, empty }) {
  const scroller = h('div', {
    class: 'reels-scroller', testid: 'reels-feed', role: 'feed', tabindex: '0', 'aria-label': label, 'aria-busy': 'true',
  });
  const state = h('div', { class: 'reels-state', testid: 'reels-state' });
  clear(host, scroller, state);
  const cards = [];
  let next = null;
  let done = false;
  let loading = false;
  let current = -1;
  let closed = false;
  const seen = new Set();
  let pending = [];
  let flushTimer = null;

  const ratios = new Map();
  const io = new IntersectionObserver(entries => {
    for (const e of entries) ratios.set(e.target, e.intersectionRatio);
    let best = -1, bestRatio = 0.6;
    cards.forEach((c, i) => { const r = ratios.get(c.el) || 0; if (r >= bestRatio) { best = i; bestRatio = r; } });
    if (best >= 0 && best !== current) show(best);
  }, { root: scroller, threshold: [0, 0.6, 0.9, 1] });

  function show(i) {
    const prev = cards[current];
    current = i;
    if (prev && prev !== cards[i]) prev.stop();
    cards.forEach((c, j) => {
      if (j === i) return;
      if (j === i + 1) c.load('auto');
      else if (j === i - 1 || j === i + 2) c.load('metadata');
      else if (Math.abs(j - i) > 3) c.load('none');
    });
    cards[i].play();
    cards.forEach((c, j) => c.el.setAttribute('aria-current', j === i ? 'true' : 'false'));
    impression(cards[i].reel.id);
    if (!done && !loading && cards.length - i <= 3) more();
  }

  function impression(id) {
    if (seen.has(id)) return;
    seen.add(id);
    pending.push(id);
    if (pending.length >= 50) flush();
    else if (!flushTimer) flushTimer = setTimeout(flush, 2000);
  }

  function flush() {
    clearTimeout(flushTimer);
    flushTimer = null;
    const ids = pending.splice(0, 50);
    if (ids.length) s.rpc('record_reel_impressions', { reel_ids: ids }).catch(() => {});
  }

  const hooks = {
    onComments: async card => (await import('./reel-comments.js')).openComments(s, card),
    onShare: async card => (await import('./reel-share.js')).openShare(s, card),
    onNotInterested: card => dismiss(card, 'not_interested_reel', t('reelNotInterestedDone')),
    onReport: async card => {
      if (await (await import('./reel-report.js')).openReport(s, card)) remove(card);
    },
  };

  async function dismiss(card, rpc, text) {
    try {
      await s.rpc(rpc, { reel_id: card.reel.id });
      remove(card);
      toast(text);
    } catch (e) { toastError(e); }
  }

  function remove(card) {
    const i = cards.indexOf(card);
    if (i < 0) return;
    card.stop();
    io.unobserve(card.el);
    card.el.remove();
    cards.splice(i, 1);
    current = -1;
    positions();
    if (!cards.length) return paintEmpty();
    const target = cards[Math.min(i, cards.length - 1)];
    target.el.scrollIntoView({ block: 'start' });
    focus(target.el);
  }

  function positions() {
    cards.forEach((c, i) => { c.el.setAttribute('aria-posinset', String(i + 1)); c.el.setAttribute('aria-setsize', done ? String(cards.length) : '-1'); });
  }

  function paintEmpty() {
    scroller.hidden = true;
    clear(state, empty || emptyState(t('reelsEmpty')));
  }

  async function more() {
    if (loading || done) return;
    loading = true;
    scroller.setAttribute('aria-busy', 'true');
    if (!cards.length) clear(state, h('div', { class: 'reels-loading', role: 'status', testid: 'reels-loading' }, h('span', { class: 'reels-spinner', 'aria-hidden': 'true' }), t('loading')));
    try {
      const r = await load(next);
      if (closed) return;
      const list = (r?.reels || []).filter(x => x && !cards.some(c => c.reel.id === x.id));
      next = r?.next ?? null;
      done = !next || !list.length;
      for (const reel of list) {
        const card = reelCard(s, reel, hooks);
        cards.push(card);
        scroller.append(card.el);
        io.observe(card.el);
      }
      positions();
      clear(state);
      if (!cards.length) paintEmpty();
      else if (cards.length === list.length) cards[0].load('auto');
    } catch (e) {
      if (closed) return;
      if (!cards.length) { scroller.hidden = true; clear(state, errorState(e, () => { scroller.hidden = false; clear(state); more(); })); }
      else toastError(e);
    } finally {
      loading = false;
      scroller.setAttribute('aria-busy', 'false');
    }
  }

  function step(d) {
    const i = Math.max(0, Math.min(cards.length - 1, (current < 0 ? 0 : current) + d));
    if (!cards[i]) return;
    cards[i].el.scrollIntoView({ block: 'start', behavior: matchMedia('(prefers-reduced-motion: reduce)').matches ? 'auto' : 'smooth' });
    if (scroller.contains(document.activeElement) && document.activeElement !== scroller) focus(cards[i].el);
  }

  scroller.addEventListener('keydown', e => {
    if (e.target.closest('input, textarea, select') || e.altKey || e.ctrlKey || e.metaKey) return;
    const d = { ArrowDown: 1, PageDown: 1, j: 1, ArrowUp: -1, PageUp: -1, k: -1 }[e.key];
    if (d) { e.preventDefault(); step(d); return; }
    if (e.key === 'm' && cards[current]) { e.preventDefault(); cards[current].el.querySelector('.reel-tap')?.click(); announce(cards[current].video.muted ? t('reelMuted') : t('reelUnmuted')); }
  });
  const onHide = () => { if (document.visibilityState === 'hidden') { cards[current]?.stop(); flush(); } else if (cards[current]) cards[current].play(); };
  document.addEventListener('visibilitychange', onHide);

  more();
  return {
    cleanup() {
      closed = true;
      io.disconnect();
      for (const c of cards) { c.stop(); c.load('none'); }
      flush();
      document.removeEventListener('visibilitychange', onHide);
    },
  };
}

export { PAGE };
