// #/privacy: the privacy notice — what the service stores about a person and why. Shown on
// the sign-in screen (before there is an account) and as a page of the signed-in app.
import { h, clear } from '../util.js';
import { t } from '../i18n.js';

// Each item: the i18n keys of what is stored and of why.
const ITEMS = [
  ['privacyPhone', 'privacyPhoneWhy'],
  ['privacyProfile', 'privacyProfileWhy'],
  ['privacyMessages', 'privacyMessagesWhy'],
  ['privacyFiles', 'privacyFilesWhy'],
  ['privacySessions', 'privacySessionsWhy'],
  ['privacyInsurance', 'privacyInsuranceWhy'],
  ['privacyBrowser', 'privacyBrowserWhy'],
];

/** The notice as an article; `back` is an element placed after it (a link back), if any. */
export function privacyNotice({ back } = {}) {
  return h('article', { class: 'privacy', testid: 'privacy-notice', 'aria-labelledby': 'privacy-title' },
    h('h1', { id: 'privacy-title', tabindex: '-1', text: t('privacyTitle') }),
    h('p', { class: 'lead-text', text: t('privacyLead') }),
    h('h2', { text: t('privacyWhatHeading') }),
    h('dl', { class: 'privacy-list' }, ITEMS.map(([what, why]) => [h('dt', { text: t(what) }), h('dd', { text: t(why) })])),
    h('h2', { text: t('privacyManageHeading') }),
    h('p', { text: t('privacyManage') }),
    back);
}

/** The signed-in page (a view of the shell). */
export function privacyView(main) {
  clear(main, h('div', { class: 'page' }, privacyNotice()));
  return {};
}
