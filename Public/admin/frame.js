// The frame of the screens before the console opens (no user, the code step, enrolment):
// the brand, the language switch and one centred panel.
import { h } from '../app/util.js';
import { t, getLang, LANGS } from './i18n.js';

/** opts.changeLanguage(code) switches the language; `wide` for the enrolment screen. */
export function authFrame(opts, ...children) {
  return h('div', { class: 'adm-auth' },
    h('header', { class: 'adm-auth-head' },
      h('div', { class: 'adm-brand' }, 'ECOMANSONI', h('span', { class: 'adm-brand-tag', text: t('brandAdmin') })),
      opts.changeLanguage && languageButton(opts.changeLanguage)),
    h('main', { class: 'adm-auth-main' }, h('div', { class: 'adm-panel' + (opts.wide ? ' wide' : '') }, ...children)));
}

const NATIVE = { ru: 'Русский', en: 'English' };

/** The switch to the other language, named in that language (its own lang attribute). */
export function languageButton(changeLanguage) {
  const other = LANGS.find(l => l !== getLang());
  return h('button', {
    type: 'button', class: 'adm-btn adm-btn-small adm-btn-quiet', testid: 'lang-switch', lang: other,
    title: t('switchLanguage'), onClick: () => changeLanguage(other),
  }, h('span', { class: 'adm-lang-long', text: NATIVE[other] }), h('span', { class: 'adm-lang-short', 'aria-hidden': 'true', text: other.toUpperCase() }));
}
