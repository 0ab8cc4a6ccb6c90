// A reel shared into a chat (issue 15): a message whose text links a reel page of this app
// (`<this origin>/#/reels/<uuid>`, as reel-share.js sends it) shows a card under its text in
// place of the bare link — the poster, the author, two lines of caption, the duration and a
// play mark; the whole card is the link to the reel's page. Its data is `get_reel`, which
// answers only for a reel the reader may see (row-level security): any other (private,
// blocked, deleted, not approved) is the «Рилс недоступен» card, which shows nothing of it.
// One request per reel for 10 minutes of a session; a failed request is not kept, so
// «Повторить» asks again. Small on purpose (bubble.js imports it): the stylesheet
// (styles/reel-card.css) and strings (i18n/reels.*.js) load with the first card.
import { h, clear, avatar, nameOf, stylesheet } from '../util.js';
import { t, extend } from '../i18n.js';

const REEL_HASH = /^#\/reels\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;
const KEEP_MS = 10 * 60 * 1000; // media links live 6–7 h; a kept answer is asked again after this
const LABEL_CAPTION = 160; // characters of the caption in the card's accessible name

/** The id of the reel a link opens in this app, or null (another site, another page). */
export function reelIdOf(url) {
  if (!url || url.origin !== location.origin || (url.pathname !== '/' && url.pathname !== location.pathname)) return null;
  const m = REEL_HASH.exec(url.hash);
  return m ? m[1].toLowerCase() : null;
}

let assets = null;
/** The card's stylesheet and the reels strings, once (a failed stylesheet still resolves). */
function cardAssets() {
  assets ||= Promise.all([
    stylesheet(new URL('../../styles/reel-card.css', import.meta.url)),
    extend({ ru: () => import('../i18n/reels.ru.js'), en: () => import('../i18n/reels.en.js') }),
  ]);
  assets.catch(() => { assets = null; });
  return assets;
}

const kept = new WeakMap(); // session → Map(reel id → {at, answer: Promise<{reel|null}>})

/** `get_reel` for a card: {reel} when the reader may see it, {reel: null} when not; throws otherwise. */
function reelFor(s, id) {
  let byId = kept.get(s);
  if (!byId) kept.set(s, byId = new Map());
  const hit = byId.get(id);
  if (hit && Date.now() - hit.at < KEEP_MS) return hit.answer;
  const entry = { at: Date.now(), answer: null };
  entry.answer = s.rpc('get_reel', { reel_id: id }).then(reel => ({ reel }), e => {
    // 404 is every reel the reader may not see, alike; 400 an id the server does not take.
    if (e?.status === 404 || e?.status === 400) return { reel: null };
    if (byId.get(id) === entry) byId.delete(id);
    throw e;
  });
  byId.set(id, entry);
  return entry.answer;
}

/** Forgets a kept answer (its poster link stopped working). */
function forget(s, id) {
  kept.get(s)?.delete(id);
}

/** 4200 ms → «0:04». */
function clock(ms) {
  const total = Math.max(1, Math.round((Number(ms) || 0) / 1000));
  return Math.floor(total / 60) + ':' + String(total % 60).padStart(2, '0');
}

/** 75000 ms → «1 минуту 15 секунд» (for the accessible name). */
function spoken(ms) {
  const total = Math.max(1, Math.round((Number(ms) || 0) / 1000));
  const min = Math.floor(total / 60), sec = total % 60;
  return [min ? t('minutes', { n: min }) : '', sec ? t('seconds', { n: sec }) : ''].filter(Boolean).join(' ');
}

const MARKS = { // play is filled, unavailable (a struck circle) stroked: styles/reel-card.css
  play: 'M8 5.5v13l10.5-6.5z',
  unavailable: 'M12 3.5a8.5 8.5 0 1 0 0 17 8.5 8.5 0 0 0 0-17zM6 6l12 12',
};

/** The mark in the middle of the poster (decorative: the card's name says what it is). */
function mark(name) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', 'reel-card-mark-' + name);
  const p = document.createElementNS(ns, 'path');
  p.setAttribute('d', MARKS[name]);
  svg.append(p);
  return h('span', { class: 'reel-card-play' }, svg);
}

function loadingCard(id) {
  return h('a', { class: 'reel-card', href: '#/reels/' + id, testid: 'reel-card', 'data-state': 'loading', 'data-id': id, 'aria-busy': 'true' },
    h('span', { class: 'reel-card-thumb skel' }),
    h('span', { class: 'reel-card-info', 'aria-hidden': 'true' },
      h('span', { class: 'skel reel-card-skel-line' }), h('span', { class: 'skel reel-card-skel-line short' })));
}

function readyCard(s, id, reel) {
  const author = reel.author || {};
  const caption = String(reel.caption || '').trim();
  const poster = typeof reel.media?.poster === 'string' && reel.media.poster.startsWith('/reels/') ? reel.media.poster : null;
  const thumb = h('span', { class: 'reel-card-thumb' + (poster ? '' : ' no-poster') });
  if (poster) {
    const img = h('img', { class: 'reel-card-poster', testid: 'reel-card-poster', src: poster, alt: '', loading: 'lazy', decoding: 'async' });
    img.addEventListener('error', () => { img.remove(); thumb.classList.add('no-poster'); forget(s, id); });
    thumb.append(img);
  }
  thumb.append(mark('play'));
  if (reel.duration_ms > 0) thumb.append(h('span', { class: 'reel-card-duration', testid: 'reel-card-duration', text: clock(reel.duration_ms) }));
  // «Рилс: Алиса, 4 секунды: подпись» (the caption cut for the name).
  const label = t('reelLabel', { name: nameOf(author) })
    + (reel.duration_ms > 0 ? ', ' + spoken(reel.duration_ms) : '')
    + (caption ? ': ' + (caption.length > LABEL_CAPTION ? caption.slice(0, LABEL_CAPTION) + '…' : caption) : '');
  return h('a', { class: 'reel-card', href: '#/reels/' + id, testid: 'reel-card', 'data-state': 'ready', 'data-id': id, 'aria-label': label },
    thumb,
    h('span', { class: 'reel-card-info' },
      h('span', { class: 'reel-card-kind', text: t('reelCardKind') }),
      h('span', { class: 'reel-card-author', testid: 'reel-card-author' }, avatar(author, { size: 'sm' }), h('span', { class: 'reel-card-name', text: nameOf(author) })),
      caption ? h('span', { class: 'reel-card-caption', testid: 'reel-card-caption', text: caption }) : null));
}

function unavailableCard(id) {
  return h('a', { class: 'reel-card unavailable', href: '#/reels/' + id, testid: 'reel-card', 'data-state': 'unavailable', 'data-id': id, 'aria-label': t('reelCardUnavailable') },
    h('span', { class: 'reel-card-thumb no-poster' }, mark('unavailable')),
    h('span', { class: 'reel-card-info' },
      h('span', { class: 'reel-card-kind', text: t('reelCardKind') }),
      h('span', { class: 'reel-card-title', testid: 'reel-card-unavailable', text: t('reelCardUnavailable') }),
      h('span', { class: 'reel-card-hint', text: t('reelCardUnavailableHint') })));
}

function errorCard(id, text, retry) {
  return h('div', { class: 'reel-card failed', testid: 'reel-card', 'data-state': 'error', 'data-id': id, role: 'group', 'aria-label': text },
    h('span', { class: 'reel-card-thumb no-poster' }, mark('play')),
    h('span', { class: 'reel-card-info' },
      h('span', { class: 'reel-card-title', role: 'status', text }),
      h('span', { class: 'reel-card-actions' },
        h('button', { class: 'btn btn-small', type: 'button', testid: 'reel-card-retry', onClick: retry }, t('retry')),
        h('a', { class: 'reel-card-open', href: '#/reels/' + id, text: t('open') }))));
}

/**
 * The card for the first reel link among `links` (links.js findLinks of the text rendered in
 * `body`), or null when there is none; that link in `body` is marked `reel-linked` (hidden
 * beside the card by the stylesheet). The card fills itself in when `get_reel` answers.
 */
export function reelShareCard(s, body, links) {
  const at = links.findIndex(l => reelIdOf(l.url));
  if (at < 0) return null;
  const id = reelIdOf(links[at].url);
  body.querySelectorAll('a[data-testid="message-link"]')[at]?.classList.add('reel-linked');
  const slot = h('div', { class: 'reel-card-slot' });
  // A new state keeps the keyboard focus on the card when it was there.
  const show = card => {
    const had = slot.contains(document.activeElement);
    clear(slot, card);
    if (had) (card.matches('a') ? card : card.querySelector('button'))?.focus();
  };
  const load = () => {
    const loading = loadingCard(id);
    show(loading);
    cardAssets().then(() => { if (slot.contains(loading)) loading.setAttribute('aria-label', t('reelCardLoading')); }, () => {});
    Promise.all([cardAssets(), reelFor(s, id)]).then(
      ([, { reel }]) => show(reel ? readyCard(s, id, reel) : unavailableCard(id)),
      // Without its strings (offline) the card says what the app says of a lost network.
      () => cardAssets().then(() => show(errorCard(id, t('reelCardFailed'), load)),
        () => show(errorCard(id, t('errNetwork'), load))));
  };
  load();
  return slot;
}
