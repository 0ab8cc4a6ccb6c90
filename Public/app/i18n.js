// Strings: one module per language (i18n/ru.js, i18n/en.js); Russian is the default and the
// fallback. A value is a string with {placeholders}, or an object of plural forms
// ({one, few, many, other}) chosen by params.n.
export const LANGS = ['ru', 'en'];
// Literal import URLs, so the server can version them (?v=<content hash>) like every import.
const loaders = { ru: () => import('./i18n/ru.js'), en: () => import('./i18n/en.js') };
const dicts = {};
let lang = 'ru';
let rules;

export async function loadLang(code) {
  const next = LANGS.includes(code) ? code : 'ru';
  if (!dicts.ru) dicts.ru = (await loaders.ru()).default;
  if (!dicts[next]) dicts[next] = (await loaders[next]()).default;
  lang = next;
  rules = new Intl.PluralRules(lang);
  document.documentElement.lang = lang;
}

export function getLang() {
  return lang;
}

export function t(key, params) {
  let s = dicts[lang]?.[key] ?? dicts.ru?.[key] ?? key;
  if (typeof s === 'object') s = s[rules.select(params?.n ?? 0)] ?? s.other;
  return params ? s.replace(/\{(\w+)\}/g, (m, k) => (params[k] ?? m)) : s;
}
