// #/reels/saved (issue 15): the reels the user saved, newest save first (`get_saved_reels`,
// «Показать ещё» with `before` = `next`), as a grid of posters with the caption and author;
// a tile opens the reel (#/reels/<id>, whose «back» leads here again). Reels the user may no
// longer see are left out by the server. Loading, empty and error states.
import { h, clear, focus, nameOf } from '../util.js';
import { t } from '../i18n.js';
import { errorState, emptyState } from './common.js';
import { compact } from './reel-player.js';
import { rememberBack } from './reels.js';

/** Saved reels per page (the RPC takes 1–30). */
export const SAVED_PAGE = 12;

export function savedView(main, s) {
  let closed = false;
  let next = null;
  const shown = new Set();
  const list = h('ul', { class: 'reel-saved-grid', testid: 'reel-saved-list', 'aria-label': t('reelsSaved'), hidden: true });
  const state = h('div', { class: 'reel-saved-state', testid: 'reel-saved-state' });
  const moreBtn = h('button', { class: 'btn', type: 'button', testid: 'reel-saved-more', hidden: true, onClick: () => load() }, t('reelCommentsMore'));
  clear(main, h('div', { class: 'page reel-saved' },
    h('p', {}, h('a', { href: '#/reels', class: 'reels-bar-link', testid: 'reels-back' }, t('reelsBack'))),
    h('h1', { tabindex: '-1', text: t('reelsSaved') }),
    h('p', { class: 'hint reel-saved-note', text: t('reelSavedNote') }),
    list, state, h('div', { class: 'reel-saved-more' }, moreBtn)));

  function tile(r) {
    const author = nameOf(r.author || {});
    const title = r.caption || t('reelNoCaption');
    const poster = r.media?.poster
      ? h('img', { class: 'reel-saved-poster', src: r.media.poster, alt: '', loading: 'lazy' })
      : h('span', { class: 'reel-saved-poster empty', 'aria-hidden': 'true' });
    const views = r.counts?.views || 0;
    return h('li', { class: 'reel-saved-item', testid: 'reel-saved-item', 'data-id': r.id },
      h('a', {
        class: 'reel-saved-link', href: '#/reels/' + r.id, testid: 'reel-saved-open',
        'aria-label': t('reelSavedOpen', { name: author, title }),
        onClick: () => rememberBack(r.id, '#/reels/saved', t('reelsToSavedShort')),
      },
      poster,
      h('span', { class: 'reel-saved-info', 'aria-hidden': 'true' },
        h('span', { class: 'reel-saved-caption', text: title }),
        h('span', { class: 'reel-saved-meta', text: t('reelSavedMeta', { name: author, views: compact(views) }) }))));
  }

  async function load() {
    moreBtn.disabled = true;
    const first = !shown.size;
    if (first) clear(state, h('div', { class: 'reels-loading', role: 'status', testid: 'reel-saved-loading' }, h('span', { class: 'reels-spinner', 'aria-hidden': 'true' }), t('loading')));
    try {
      const r = await s.rpc('get_saved_reels', { limit: SAVED_PAGE, ...(next ? { before: next } : {}) });
      if (closed) return;
      const fresh = (r?.reels || []).filter(x => x && !shown.has(x.id));
      const firstNew = fresh.length ? tile(fresh[0]) : null;
      fresh.forEach((x, i) => { shown.add(x.id); list.append(i === 0 ? firstNew : tile(x)); });
      next = r?.next ?? null;
      list.hidden = !shown.size;
      clear(state, shown.size ? null : emptyState(t('reelSavedEmpty'), h('a', { class: 'btn btn-primary', href: '#/reels' }, t('reelsToFeed'))));
      moreBtn.hidden = !next;
      // After «Показать ещё» the keyboard continues at the first new reel.
      if (!first && firstNew && main.contains(document.activeElement)) focus(firstNew.querySelector('a'));
    } catch (e) {
      if (closed) return;
      clear(state, errorState(e, () => { clear(state); load(); }));
    } finally {
      moreBtn.disabled = false;
    }
  }

  load();
  return { cleanup() { closed = true; } };
}
