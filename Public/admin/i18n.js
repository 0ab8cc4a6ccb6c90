// The console's strings and formats. The language is the main app's preference (store.js
// `prefs().lang`, Russian by default, as Public/app/i18n.js picks it); the header's switch
// changes that same preference. A value is a string with {placeholders}, or plural forms
// ({one, few, many, other}) chosen by params.n.
import * as store from '../app/store.js';
import STRINGS from './strings.js';

export const LANGS = ['ru', 'en'];
let lang = 'ru';
let rules = new Intl.PluralRules('ru');

/** Takes the language from the app's preference and marks the document with it. */
export function pickLanguage() {
  const wanted = store.prefs().lang;
  lang = LANGS.includes(wanted) ? wanted : 'ru';
  rules = new Intl.PluralRules(lang);
  document.documentElement.lang = lang;
  return lang;
}

export function setLanguage(code) {
  store.setPref('lang', LANGS.includes(code) ? code : 'ru');
  return pickLanguage();
}

export const getLang = () => lang;

export function t(key, params) {
  let s = STRINGS[lang]?.[key] ?? STRINGS.ru[key] ?? key;
  if (typeof s === 'object') s = s[rules.select(params?.n ?? 0)] ?? s.other;
  return params ? s.replace(/\{(\w+)\}/g, (m, k) => (params[k] ?? m)) : s;
}

/** Whether a string exists (for codes the server may add later). */
export const has = key => key in STRINGS.ru;

export function dateTime(iso) {
  const d = new Date(iso);
  return isNaN(d) ? '' : d.toLocaleString(lang, { dateStyle: 'medium', timeStyle: 'medium' });
}

export function shortDateTime(iso) {
  const d = new Date(iso);
  return isNaN(d) ? '' : d.toLocaleString(lang, { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
}

/** To the second, for the audit log: «4 дек. 00:24:41». */
export function preciseTime(iso) {
  const d = new Date(iso);
  return isNaN(d) ? '' : d.toLocaleString(lang, { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** Seconds as m:ss, or h:mm:ss from an hour. */
export function clock(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${r}` : `${m}:${r}`;
}

/** A wait in words: «15 минут», «40 секунд», «1 час 5 минут». */
export function duration(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return t('unitSeconds', { n: s });
  const m = Math.ceil(s / 60);
  if (m < 60) return t('unitMinutes', { n: m });
  const h = Math.floor(m / 60), rest = m % 60;
  return rest ? t('unitHours', { n: h }) + ' ' + t('unitMinutes', { n: rest }) : t('unitHours', { n: h });
}
