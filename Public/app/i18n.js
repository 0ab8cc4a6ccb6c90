// Strings: one module per language (i18n/ru.js, i18n/en.js); Russian is the default and the
// fallback. A value is a string with {placeholders}, or an object of plural forms
// ({one, few, many, other}) chosen by params.n.
export const LANGS = ['ru', 'en'];
const dicts = {};
let lang = 'ru';
let rules;

export async function loadLang(code) {
  const next = LANGS.includes(code) ? code : 'ru';
  if (!dicts.ru) dicts.ru = (await import('./i18n/ru.js')).default;
  if (!dicts[next]) dicts[next] = (await import(`./i18n/${next}.js`)).default;
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
