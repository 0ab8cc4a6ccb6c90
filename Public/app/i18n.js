// Strings: one module per language (i18n/ru.js, i18n/en.js: what the sign-in screen needs),
// more added by features as they load (extend: the signed-in app's, chats', reels' …); Russian
// is the default and the fallback. A value is a string with {placeholders}, or an object of plural forms
// ({one, few, many, other}) chosen by params.n.
export const LANGS = ['ru', 'en'];
/** Dispatched on `document` when another language's strings are in force. */
export const LANGUAGE_CHANGED = 'ecomansoni:language';
// Literal import URLs, so the server can version them (?v=<content hash>) like every import.
const loaders = { ru: () => import('./i18n/ru.js'), en: () => import('./i18n/en.js') };
const dicts = {};
const extras = []; // strings of lazily loaded features: {ru, en loaders, done: Set of langs}
let lang = 'ru';
let rules;

async function mergeExtras(code) {
  for (const x of extras) {
    if (x.done.has(code) || !x[code] || !dicts[code]) continue;
    Object.assign(dicts[code], (await x[code]()).default);
    x.done.add(code);
  }
}

/** Adds the strings of a lazily loaded feature: {ru: () => import(...), en: () => import(...)}. */
export async function extend(loaders) {
  extras.push({ ...loaders, done: new Set() });
  await mergeExtras('ru');
  await mergeExtras(lang);
}

export async function loadLang(code) {
  const next = LANGS.includes(code) ? code : 'ru';
  if (!dicts.ru) dicts.ru = (await loaders.ru()).default;
  if (!dicts[next]) dicts[next] = (await loaders[next]()).default;
  await mergeExtras('ru');
  await mergeExtras(next);
  lang = next;
  rules = new Intl.PluralRules(lang);
  document.documentElement.lang = lang;
  document.dispatchEvent(new Event(LANGUAGE_CHANGED));
}

export function getLang() {
  return lang;
}

export function t(key, params) {
  let s = dicts[lang]?.[key] ?? dicts.ru?.[key] ?? key;
  if (typeof s === 'object') s = s[rules.select(params?.n ?? 0)] ?? s.other;
  return params ? s.replace(/\{(\w+)\}/g, (m, k) => (params[k] ?? m)) : s;
}
