// DOM helpers, formatting and small utilities shared by every view.
import { t, getLang } from './i18n.js';

const PROPS = new Set(['value', 'checked', 'selected', 'indeterminate']);

/** Creates an element: h('button', {class, text, onClick, testid, ...attrs}, ...children). */
export function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  if (props) {
    for (const k in props) {
      const v = props[k];
      if (v == null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k === 'testid') el.setAttribute('data-testid', v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
      else if (PROPS.has(k)) el[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  add(el, kids);
  return el;
}

function add(el, kids) {
  for (const k of kids) {
    if (k == null || k === false) continue;
    if (Array.isArray(k)) add(el, k);
    else el.append(k instanceof Node ? k : String(k));
  }
}

export function clear(el, ...kids) {
  el.replaceChildren();
  add(el, kids);
  return el;
}

const stylesheets = new Map();

/** Adds the stylesheet at `url` (`new URL('…css', import.meta.url)` in the caller, so the
 * server versions it) to the page once. Resolves when it has loaded or failed: a view is still
 * drawn, unstyled, rather than not at all. */
export function stylesheet(url) {
  const href = String(url);
  if (!stylesheets.has(href)) {
    stylesheets.set(href, new Promise(resolve => {
      const link = h('link', { rel: 'stylesheet', href });
      link.onload = link.onerror = () => resolve();
      document.head.append(link);
    }));
  }
  return stylesheets.get(href);
}

const ICONS = {
  chats: 'M4 5h16v11H9l-5 4z',
  people: 'M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM2 21c0-4 3-6 7-6s7 2 7 6M16 3.5a4 4 0 0 1 0 7.5M18 15c2.5.6 4 2.5 4 6',
  user: 'M12 12a4.5 4.5 0 1 0 0-9 4.5 4.5 0 0 0 0 9zM3.5 21c0-4.5 3.8-7 8.5-7s8.5 2.5 8.5 7',
  settings: 'M12 15.5a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7zM19.4 15a1.7 1.7 0 0 0 .3 1.8l.1.1a2 2 0 1 1-2.8 2.8l-.1-.1a1.7 1.7 0 0 0-2.9 1.2V21a2 2 0 1 1-4 0v-.1A1.7 1.7 0 0 0 7 19.6a1.7 1.7 0 0 0-1.8.3l-.1.1a2 2 0 1 1-2.8-2.8l.1-.1A1.7 1.7 0 0 0 1.2 14H1a2 2 0 1 1 0-4h.1A1.7 1.7 0 0 0 4.4 7a1.7 1.7 0 0 0-.3-1.8L4 5.1a2 2 0 1 1 2.8-2.8l.1.1a1.7 1.7 0 0 0 1.8.3H9a1.7 1.7 0 0 0 1-1.5V1a2 2 0 1 1 4 0v.1a1.7 1.7 0 0 0 1 1.5 1.7 1.7 0 0 0 1.8-.3l.1-.1a2 2 0 1 1 2.8 2.8l-.1.1a1.7 1.7 0 0 0-.3 1.8V7a1.7 1.7 0 0 0 1.5 1H23a2 2 0 1 1 0 4h-.1a1.7 1.7 0 0 0-1.5 1z',
  send: 'M4 12l16-8-6 16-2.5-6.5z',
  back: 'M15 5l-7 7 7 7',
  close: 'M6 6l12 12M18 6L6 18',
  plus: 'M12 5v14M5 12h14',
  smile: 'M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18zM8.5 14.5c1.8 2 5.2 2 7 0M9 9.5h.01M15 9.5h.01',
  more: 'M5 12h.01M12 12h.01M19 12h.01',
  reply: 'M10 8L4 13l6 5M4 13h10a6 6 0 0 1 6 6',
  edit: 'M4 20h4L19 9l-4-4L4 16zM14 6l4 4',
  trash: 'M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13',
  group: 'M8 11a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7zM1.5 20c0-3.5 2.8-5.5 6.5-5.5s6.5 2 6.5 5.5M17 8v6M14 11h6',
  down: 'M12 5v14M6 13l6 6 6-6',
  search: 'M11 18a7 7 0 1 0 0-14 7 7 0 0 0 0 14zM21 21l-5-5',
  shield: 'M12 3l7.5 3v5.5c0 4.6-3.2 8.3-7.5 9.5-4.3-1.2-7.5-4.9-7.5-9.5V6zM8.5 12l2.5 2.5 4.5-5',
  stop: 'M7 7h10v10H7z',
  calc: 'M6 3h12v18H6zM9 7h6M9 11h.01M12 11h.01M15 11h.01M9 14.5h.01M12 14.5h.01M15 14.5h.01M9 18h.01M12 18h.01M15 18h.01',
  assistant: 'M4 5h16v11h-6l-4 4v-4H4zM8.5 10.5h.01M12 10.5h.01M15.5 10.5h.01',
  phone: 'M5.5 3.5h3l1.5 4.5-2.2 1.6a11.5 11.5 0 0 0 6.6 6.6l1.6-2.2 4.5 1.5v3a2 2 0 0 1-2.2 2A16.5 16.5 0 0 1 3.5 5.7a2 2 0 0 1 2-2.2z',
  hangup: 'M5.5 3.5h3l1.5 4.5-2.2 1.6a11.5 11.5 0 0 0 6.6 6.6l1.6-2.2 4.5 1.5v3a2 2 0 0 1-2.2 2A16.5 16.5 0 0 1 3.5 5.7a2 2 0 0 1 2-2.2z',
  video: 'M3 6.5h12v11H3zM15 10.5l6-3.5v10l-6-3.5',
  videoOff: 'M3 6.5h12v11H3zM15 10.5l6-3.5v10l-6-3.5M2 2.5l20 19',
  mic: 'M12 3a3 3 0 0 0-3 3v5.5a3 3 0 0 0 6 0V6a3 3 0 0 0-3-3zM5.5 11a6.5 6.5 0 0 0 13 0M12 17.5V21M8.5 21h7',
  clip: 'M20.5 11.5l-8.6 8.6a5.5 5.5 0 0 1-7.8-7.8l8.9-8.9a3.7 3.7 0 0 1 5.2 5.2l-8.9 8.9a1.8 1.8 0 0 1-2.6-2.6l8.2-8.2',
  tick: 'M5 12.5l4 4L19 7',
  ticks: 'M1.5 12.5l4 4L15.5 7M11 15.5l1 1L22 7',
  clock: 'M12 20a8 8 0 1 0 0-16 8 8 0 0 0 0 16zM12 8v4.5l3 1.5',
  alert: 'M12 20a8 8 0 1 0 0-16 8 8 0 0 0 0 16zM12 8v5M12 16h.01',
  micOff: 'M12 3a3 3 0 0 0-3 3v5.5a3 3 0 0 0 6 0V6a3 3 0 0 0-3-3zM5.5 11a6.5 6.5 0 0 0 13 0M12 17.5V21M8.5 21h7M3 3l18 18',
};

export function icon(name) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', name === 'settings' ? '-1 -1 26 26' : '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'i-' + name);
  svg.setAttribute('focusable', 'false');
  const p = document.createElementNS(ns, 'path');
  p.setAttribute('d', ICONS[name] || '');
  svg.append(p);
  return svg;
}

/** A random UUID v4, also outside secure contexts. */
export function uuid() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 15) | 64;
  b[8] = (b[8] & 63) | 128;
  const x = [...b].map(v => v.toString(16).padStart(2, '0')).join('');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

export function debounce(fn, ms) {
  let id;
  const d = (...a) => { clearTimeout(id); id = setTimeout(() => fn(...a), ms); };
  d.cancel = () => clearTimeout(id);
  return d;
}

// Phone numbers: formatted as typed; sent as "+<digits>".
export function formatPhone(raw) {
  const s = (raw || '').trim();
  let d = s.replace(/\D/g, '');
  if (!d) return s.startsWith('+') ? '+' : '';
  if (!s.startsWith('+')) {
    if (d[0] === '8') d = '7' + d.slice(1);
    else if (d[0] === '9') d = '7' + d;
  }
  d = d.slice(0, 15);
  if (d[0] === '7') {
    const r = d.slice(1, 11);
    let o = '+7';
    if (r) o += ' (' + r.slice(0, 3);
    if (r.length > 3) o += ') ' + r.slice(3, 6);
    if (r.length > 6) o += '-' + r.slice(6, 8);
    if (r.length > 8) o += '-' + r.slice(8, 10);
    return o;
  }
  if (d[0] === '1') {
    const r = d.slice(1, 11);
    return ('+1 ' + r.slice(0, 3) + ' ' + r.slice(3, 6) + ' ' + r.slice(6)).trim();
  }
  return '+' + d.slice(0, 3) + (d.length > 3 ? ' ' + d.slice(3).replace(/(\d{3})(?=\d)/g, '$1 ') : '');
}

export function phoneForApi(formatted) {
  return '+' + (formatted || '').replace(/\D/g, '');
}

export function displayPhone(digits) {
  return digits ? formatPhone('+' + digits) : '';
}

// Times
function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

export function shortTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (isNaN(d)) return '';
  const now = new Date();
  const lang = getLang();
  if (sameDay(d, now)) return d.toLocaleTimeString(lang, { hour: '2-digit', minute: '2-digit' });
  if (now - d < 6 * 864e5) return d.toLocaleDateString(lang, { weekday: 'short' });
  return d.toLocaleDateString(lang, { day: 'numeric', month: 'short', ...(d.getFullYear() !== now.getFullYear() && { year: 'numeric' }) });
}

export function clockTime(iso) {
  const d = new Date(iso);
  return isNaN(d) ? '' : d.toLocaleTimeString(getLang(), { hour: '2-digit', minute: '2-digit' });
}

export function fullTime(iso) {
  const d = new Date(iso);
  return isNaN(d) ? '' : d.toLocaleString(getLang(), { dateStyle: 'medium', timeStyle: 'short' });
}

export function countdown(sec) {
  const s = Math.max(0, Math.ceil(sec));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

// People
export function nameOf(p) {
  if (!p) return t('unknownUser');
  return p.display_name || (p.username ? '@' + p.username : t('unknownUser'));
}

const HUES = [210, 260, 330, 20, 150, 190, 290, 40];
/** An avatar URL an <img> may show: https, or this server's public storage (relative or same origin). */
export function avatarSrc(url) {
  if (typeof url !== 'string' || !url) return null;
  if (/^https:\/\//i.test(url)) return url;
  if (url.startsWith('/storage/v1/object/public/')) return url;
  if (url.startsWith(location.origin + '/storage/v1/object/public/')) return url;
  return null;
}

const graphemeSegmenter = globalThis.Intl?.Segmenter ? new Intl.Segmenter(undefined, { granularity: 'grapheme' }) : null;
/** The characters a reader sees (an emoji with its modifiers is one); code points where Intl.Segmenter is missing. */
export function graphemes(text) {
  return graphemeSegmenter ? Array.from(graphemeSegmenter.segment(text), g => g.segment) : Array.from(text);
}

/** Up to two initials, the first whole character of each of the first two words; an emoji alone. */
export function initialsOf(name) {
  const firsts = String(name || '').replace(/^@/, '').split(/\s+/).filter(Boolean).slice(0, 2).map(w => graphemes(w)[0]);
  if (firsts[0] && !/^[\p{L}\p{N}]/u.test(firsts[0])) return firsts[0];
  return firsts.join('').toUpperCase() || '?';
}

/** An avatar: the image for an https or own-storage URL, otherwise initials on a colour from the id. */
export function avatar(p, { size = '', online = false } = {}) {
  const name = nameOf(p);
  const el = h('span', { class: 'avatar' + (size ? ' ' + size : ''), 'aria-hidden': 'true' });
  let hash = 0;
  for (const c of p?.id || name) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
  el.style.background = `hsl(${HUES[hash % HUES.length]} 55% 32%)`; // white initials ≥ 5:1
  const initials = initialsOf(name);
  const src = avatarSrc(p?.avatar_url);
  if (src) {
    // Own avatars have server-made 64/256 px squares next to them (<name>.64.jpg); the
    // original is the fallback, then the initials.
    const own = /^(\/|https?:\/\/[^/]+\/)storage\/v1\/object\/public\/avatars\/.+\.(jpe?g|png|webp|gif)$/i.test(src)
      && (src.startsWith('/') || src.startsWith(location.origin + '/'));
    const sized = own ? src + (size === 'lg' || size === 'xl' ? '.256.jpg' : '.64.jpg') : src;
    const img = h('img', { src: sized, alt: '', loading: 'lazy', referrerpolicy: 'no-referrer' });
    img.addEventListener('error', () => { if (img.getAttribute('src') !== src) img.src = src; else img.replaceWith(initials); });
    el.append(img);
  } else {
    el.append(initials);
  }
  if (online) el.append(onlineDot());
  return el;
}

export function onlineDot(extra = '') {
  return h('span', { class: 'online-dot ' + extra, testid: 'online-dot', role: 'img', 'aria-label': t('online'), title: t('online') });
}

/** Moves focus to el without scrolling the page. */
export function focus(el) {
  if (el) try { el.focus({ preventScroll: true }); } catch { el.focus(); }
}
