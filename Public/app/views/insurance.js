// The insurance section (#/insurance/osago, #/insurance/assistant): the shared page head with
// the section's two links, the section's stylesheet and strings, and number formatting for
// roubles and coefficients.
import { h, icon, stylesheet } from '../util.js';
import { t, getLang, extend } from '../i18n.js';

let assets;
/** Loads styles/insurance.css and i18n/insurance.*.js once; resolves when both are in. */
export function insuranceAssets() {
  assets ||= Promise.all([
    stylesheet(new URL('../../styles/insurance.css', import.meta.url)),
    extend({ ru: () => import('../i18n/insurance.ru.js'), en: () => import('../i18n/insurance.en.js') }),
  ]);
  return assets;
}

const PAGES = [
  ['osago', '#/insurance/osago', 'osagoTab', 'calc', 'insurance-tab-osago'],
  ['assistant', '#/insurance/assistant', 'assistantTab', 'assistant', 'insurance-tab-assistant'],
];

/** The page head: section name, the page's <h1>, links to both pages of the section and the page's own tools. */
export function sectionHead(current, title, tools) {
  return h('div', { class: 'ins-head' },
    h('div', { class: 'ins-titles' },
      h('span', { class: 'ins-section muted', text: t('insuranceSection') }),
      h('h1', { tabindex: '-1', text: title })),
    h('div', { class: 'ins-bar' },
      h('nav', { class: 'ins-tabs', 'aria-label': t('insuranceSection') },
        PAGES.map(([name, href, label, ic, testid]) => h('a', {
          href, testid, class: 'ins-tab', 'aria-current': name === current ? 'page' : null,
        }, icon(ic), h('span', { text: t(label) })))),
      tools));
}

const NBSP = '\u00a0';

/** "9441.8" / "9441.80" / 9441.8 → "9 441,80" (ru) or "9,441.80" (en): exact, from the decimal string. */
export function amount(value) {
  if (value == null || value === '') return '';
  const str = String(value).trim();
  const m = str.match(/^(-?)(\d+)(?:\.(\d+))?$/);
  if (!m) return str;
  const [, sign, int, frac = ''] = m;
  const ru = getLang() !== 'en';
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ru ? NBSP : ',');
  return sign + grouped + (ru ? ',' : '.') + (frac + '00').slice(0, Math.max(2, frac.length));
}

/** An amount with the rouble sign: "9 441,80 ₽". */
export function rub(value) {
  return value == null || value === '' ? '' : amount(value) + NBSP + '₽';
}

/** A coefficient or other decimal as given ("1.8" → "1,8" in Russian); integers stay as they are. */
export function dec(value) {
  if (value == null || value === '') return '—';
  const str = String(value);
  return getLang() === 'en' ? str : str.replace('.', ',');
}

/** A whole number of roubles with grouping ("8665" → "8 665"). */
export function whole(value) {
  const str = String(value ?? '');
  if (!/^\d+$/.test(str)) return dec(str);
  return str.replace(/\B(?=(\d{3})+(?!\d))/g, getLang() === 'en' ? ',' : NBSP);
}

/** "2025-12-09" → "9 декабря 2025 г." / "December 9, 2025" (no time-zone shift). */
export function isoDate(value) {
  const m = String(value || '').match(/^(\d{4})-(\d{2})-(\d{2})$/);
  if (!m) return String(value || '');
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
  return d.toLocaleDateString(getLang(), { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
}

/** Parses a user-typed decimal ("1,8", " 8 665 ", "-1") → "1.8" / "8665" / "-1", or null when it is not a number. */
export function parseDecimal(text) {
  const s = String(text ?? '').replace(/[\s\u00a0\u202f]/g, '').replace(',', '.');
  if (!s) return '';
  return /^[-−]?\d+(\.\d+)?$/.test(s) ? s.replace('−', '-') : null;
}
