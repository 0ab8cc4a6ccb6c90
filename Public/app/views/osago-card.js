// An OSAGO calculation shared in a chat, and the calculator link both use: the body of a
// share is «Расчёт ОСАГО: <range>\n<origin>/#/insurance/osago?calc=<base64url of the quote
// request JSON>». Tiny on purpose (bubble.js imports it statically): no view code here.
import { h, stylesheet } from '../util.js';
import { getLang } from '../i18n.js';

export const SHARE_PREFIX = 'Расчёт ОСАГО: ';
export const CALC_ROUTE = '#/insurance/osago?calc=';
const MAX_CALC = 6000; // characters of the parameter; a request is a few hundred

const WORDS = {
  ru: { title: 'Расчёт ОСАГО', open: 'Открыть в калькуляторе' },
  en: { title: 'OSAGO quote', open: 'Open in the calculator' },
};
const word = k => (WORDS[getLang()] || WORDS.ru)[k];

/** The quote request as base64url (no padding) of its UTF-8 JSON. */
export function encodeCalc(request) {
  const bytes = new TextEncoder().encode(JSON.stringify(request));
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The request in a calc parameter, or null when it is not base64url of a JSON object with a vehicle. */
export function decodeCalc(text) {
  try {
    const raw = String(text ?? '');
    if (!raw || raw.length > MAX_CALC || !/^[A-Za-z0-9_-]+$/.test(raw)) return null;
    const bin = atob(raw.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((raw.length + 3) % 4));
    const bytes = Uint8Array.from(bin, c => c.charCodeAt(0));
    const value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    if (!value || typeof value !== 'object' || Array.isArray(value)) return null;
    if (!value.vehicle || typeof value.vehicle !== 'object' || Array.isArray(value.vehicle)) return null;
    return value;
  } catch {
    return null;
  }
}

/** `#/insurance/osago?calc=…` for a request. */
export const calcHash = request => CALC_ROUTE + encodeCalc(request);

/** The message body of a share. */
export function shareBody(priceText, request) {
  return SHARE_PREFIX + priceText + '\n' + location.origin + '/' + calcHash(request);
}

/** The calc parameter of a link or hash (`…#/insurance/osago?calc=X`), or null. */
export function calcParam(link) {
  const m = /#\/insurance\/osago\?(?:[^#\s]*&)?calc=([A-Za-z0-9_-]+)/.exec(String(link || ''));
  return m ? m[1] : null;
}

/** A card for a share message body, or null when the body is not a share. */
export function osagoShareCard(body) {
  const m = /^Расчёт ОСАГО: ([^\n]{1,120})\n(https?:\/\/\S+)$/.exec(String(body || ''));
  if (!m) return null;
  const calc = calcParam(m[2]);
  if (!calc || !decodeCalc(calc)) return null;
  stylesheet(new URL('../../styles/insurance.css', import.meta.url));
  // The link opens this app's calculator (never another site's, whatever origin was shared).
  return h('div', { class: 'osago-card', testid: 'osago-card' },
    h('span', { class: 'osago-card-title', text: word('title') }),
    h('span', { class: 'osago-card-range', testid: 'osago-card-range', text: m[1] }),
    h('a', { class: 'osago-card-open', testid: 'osago-card-open', href: CALC_ROUTE + calc, text: word('open') }));
}
