// The Reels tab (issue 15): #/reels (the feed, `get_reels_feed`), #/reels/tag/<tag>
// (`get_hashtag_reels`), #/reels/<id> (one reel, `get_reel`), #/reels/new (upload,
// reel-upload.js), #/reels/mine (the author's reels, reel-mine.js) and #/reels/saved (the
// user's saved reels, reel-saved.js). Brings its stylesheet
// (styles/reels.css) and strings (i18n/reels.ru.js, .en.js) with it, once.
import { h, clear, focus, icon, stylesheet } from '../util.js';
import { t, extend } from '../i18n.js';
import { errorState, emptyState } from './common.js';
import { reelsFeed, PAGE } from './reels-feed.js';
import { reelIcon } from './reel-icons.js';

let assets;
/** Loads styles/reels.css and the reels strings once. */
export function reelsAssets() {
  assets ||= Promise.all([
    stylesheet(new URL('../../styles/reels.css', import.meta.url)),
    extend({ ru: () => import('../i18n/reels.ru.js'), en: () => import('../i18n/reels.en.js') }),
  ]);
  return assets;
}

/** Where the «back» link of a reel opened from a list leads: {id, href, label} (else the feed). */
let backTo = null;
/** Remembers that reel `id` is being opened from the list at `href`, called `label` in the link. */
export function rememberBack(id, href, label) {
  backTo = { id, href, label };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The part of #/reels/… this is: {kind: 'feed'|'tag'|'one'|'new'|'mine'|'saved'|'unknown', tag?, id?}. */
export function reelsRoute(path) {
  const p = String(path || '').replace(/\/+$/, '');
  if (!p) return { kind: 'feed' };
  if (p === 'new' || p === 'mine' || p === 'saved') return { kind: p };
  if (UUID.test(p)) return { kind: 'one', id: p.toLowerCase() };
  const tag = /^tag\/([^/]+)$/.exec(p);
  if (tag) {
    let name = '';
    try { name = decodeURIComponent(tag[1]).replace(/^#/, '').toLowerCase(); } catch { /* bad escape */ }
    if (/^[\p{L}\p{N}_]{1,64}$/u.test(name)) return { kind: 'tag', tag: name };
  }
  return { kind: 'unknown' };
}

/** The tab's top bar: title, «Сохранённое», «Мои рилсы», «Загрузить». */
function bar(title, { back, backLabel = t('reelsToFeedShort') } = {}) {
  return h('header', { class: 'reels-bar' },
    back ? h('a', { class: 'reels-bar-link reels-back', href: back, testid: 'reels-back' }, icon('back'), h('span', { text: backLabel })) : null,
    h('h1', { tabindex: '-1', text: title }),
    h('nav', { class: 'reels-bar-actions', 'aria-label': t('reelsActions') },
      h('a', { class: 'reels-bar-link reels-saved', href: '#/reels/saved', testid: 'reels-saved-link', title: t('reelsSaved') }, reelIcon('bookmark'), h('span', { text: t('reelsSaved') })),
      h('a', { class: 'reels-bar-link', href: '#/reels/mine', testid: 'reels-mine-link' }, t('reelsMine')),
      h('a', { class: 'reels-bar-link reels-new', href: '#/reels/new', testid: 'reels-new-link' }, reelIcon('upload'), h('span', { text: t('reelsUpload') }))));
}

export function reelsView(main, s, route) {
  let sub = null;
  let closed = false;
  main.className = 'fixed reels-main';
  const start = () => reelsAssets().then(async () => {
    if (closed) return;
    const r = reelsRoute(route.path);
    const hadFocus = !document.activeElement || document.activeElement === document.body || main.contains(document.activeElement);
    if (r.kind === 'new' || r.kind === 'mine' || r.kind === 'saved') {
      main.className = 'reels-main-page';
      const pages = {
        new: async () => (await import('./reel-upload.js')).uploadView,
        mine: async () => (await import('./reel-mine.js')).mineView,
        saved: async () => (await import('./reel-saved.js')).savedView,
      };
      const view = await pages[r.kind]();
      if (closed) return;
      clear(main);
      sub = view(main, s);
    } else {
      const page = h('div', { class: 'reels-page' });
      const body = h('div', { class: 'reels-body' });
      let opts;
      if (r.kind === 'tag') {
        document.title = '#' + r.tag + ' · ECOMANSONI';
        page.append(bar('#' + r.tag, { back: '#/reels' }), body);
        opts = {
          label: t('reelsTagLabel', { tag: r.tag }),
          load: cursor => s.rpc('get_hashtag_reels', { tag: r.tag, limit: PAGE, ...(cursor ? { before: cursor } : {}) }),
          empty: emptyState(t('reelsTagEmpty', { tag: r.tag }), h('a', { class: 'btn', href: '#/reels' }, t('reelsToFeed'))),
        };
      } else if (r.kind === 'one') {
        const from = backTo?.id === r.id ? backTo : null;
        page.append(bar(t('reelsOne'), from ? { back: from.href, backLabel: from.label } : { back: '#/reels' }), body);
        opts = {
          label: t('reelsOne'),
          load: async () => ({ reels: [await s.rpc('get_reel', { reel_id: r.id })], next: null }),
          empty: emptyState(t('reelsGone'), h('a', { class: 'btn', href: '#/reels' }, t('reelsToFeed'))),
        };
      } else if (r.kind === 'feed') {
        page.append(bar(t('reelsTitle')), body);
        opts = {
          label: t('reelsTitle'),
          load: cursor => s.rpc('get_reels_feed', { limit: PAGE, ...(cursor ? { cursor } : {}) }),
          empty: emptyState(t('reelsEmpty'), h('a', { class: 'btn btn-primary', href: '#/reels/new', testid: 'reels-empty-upload' }, t('reelsUploadFirst'))),
        };
      } else {
        page.append(bar(t('reelsTitle'), { back: '#/reels' }), h('div', { class: 'page' }, errorState(t('reelsNoSuchPage'))));
      }
      clear(main, page);
      if (opts) sub = reelsFeed(body, s, opts);
    }
    if (hadFocus) focus(main.querySelector('h1'));
  }).catch(e => {
    if (!closed) clear(main, h('div', { class: 'page' }, errorState(e?.code ? e : t('errNetwork'), () => { assets = null; start(); })));
  });
  start();
  return {
    cleanup() {
      closed = true;
      sub?.cleanup?.();
    },
  };
}
