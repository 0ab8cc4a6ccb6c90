// Links in message text: http(s), www., mailto: and tel: become <a> elements with
// rel="noopener noreferrer" and target=_blank; everything else (javascript:, data:, …) stays
// text. Built from text nodes only, never from HTML.
import { h } from '../util.js';

// A candidate ends at white space or at characters that never end a URL in prose.
const CANDIDATE = /\b(?:https?:\/\/|www\.)[^\s<>"«»]+|\bmailto:[^\s<>"«»]+|\btel:\+?[0-9()\-.\s]{3,20}[0-9]/gi;
const SAFE = new Set(['http:', 'https:', 'mailto:', 'tel:']);

/** Trims punctuation that ends the sentence rather than the URL (a `)` only if unbalanced). */
function trimEnd(text) {
  let s = text;
  for (;;) {
    const last = s.at(-1);
    if (/[.,;:!?'"…]/.test(last)) s = s.slice(0, -1);
    else if (last === ')' && (s.split('(').length - 1) < (s.split(')').length - 1)) s = s.slice(0, -1);
    else return s;
  }
}

/** The URL a candidate points to, or null when it is not a safe http(s)/mailto/tel URL. */
export function safeUrl(text) {
  const raw = /^www\./i.test(text) ? 'https://' + text : text;
  let url;
  try { url = new URL(raw); } catch { return null; }
  if (!SAFE.has(url.protocol)) return null;
  if ((url.protocol === 'http:' || url.protocol === 'https:') && !url.hostname) return null;
  return url;
}

/** The links of a text in order: [{start, end, text, url}]. */
export function findLinks(text) {
  const out = [];
  for (const m of String(text || '').matchAll(CANDIDATE)) {
    const piece = trimEnd(m[0]);
    const url = safeUrl(piece);
    if (url) out.push({ start: m.index, end: m.index + piece.length, text: piece, url });
  }
  return out;
}

/** Fills `el` with `text`, its safe links as <a> elements; returns the links found. */
export function renderLinkedText(el, text) {
  const links = findLinks(text);
  const parts = [];
  let at = 0;
  for (const l of links) {
    if (l.start > at) parts.push(document.createTextNode(text.slice(at, l.start)));
    parts.push(h('a', { href: l.url.href, rel: 'noopener noreferrer', target: '_blank', testid: 'message-link', text: l.text }));
    at = l.end;
  }
  if (at < text.length) parts.push(document.createTextNode(text.slice(at)));
  el.replaceChildren(...parts);
  return links;
}

/** The domain of the first web link («example.com», without «www.»), or ''. */
export function firstDomain(links) {
  const web = links.find(l => l.url.protocol === 'http:' || l.url.protocol === 'https:');
  return web ? web.url.hostname.replace(/^www\./i, '') : '';
}
