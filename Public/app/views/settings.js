// #/settings: theme, language, who may add me to groups, accounts in this browser, sign-out.
import { h, clear, avatar, displayPhone, nameOf } from '../util.js';
import { t, getLang, LANGS } from '../i18n.js';
import * as store from '../store.js';
import { toast, toastError } from '../toast.js';
import { go } from '../router.js';
import { confirmDialog } from './common.js';
import { confirmSignOut, confirmSignOutAll } from './shell.js';

export function settingsView(main, s, route, ctx) {
  const { switchTo, signOut, signOutAll } = ctx.account;
  const theme = h('select', { class: 'input', id: 'theme', testid: 'theme-select' },
    ['system', 'light', 'dark'].map(v => h('option', { value: v, selected: store.prefs().theme === v }, t('theme_' + v))));
  theme.addEventListener('change', () => { store.setPref('theme', theme.value); ctx.applyTheme(theme.value); });
  const lang = h('select', { class: 'input', id: 'lang', testid: 'language-select' },
    LANGS.map(l => h('option', { value: l, selected: getLang() === l }, t('lang_' + l))));
  lang.addEventListener('change', () => ctx.setLanguage(lang.value).then(() => document.getElementById('lang')?.focus()));
  const groupAdds = h('select', { class: 'input', id: 'group-adds', testid: 'group-adds-select' },
    ['everyone', 'contacts', 'nobody'].map(v =>
      h('option', { value: v, selected: (s.me?.who_can_add_to_groups || 'everyone') === v }, t('groupAdds_' + v))));
  groupAdds.addEventListener('change', async () => {
    groupAdds.disabled = true;
    try {
      s.setMe(await s.rpc('update_my_profile', { who_can_add_to_groups: groupAdds.value }));
      toast(t('saved'));
    } catch (err) {
      groupAdds.value = s.me?.who_can_add_to_groups || 'everyone';
      toastError(err);
    } finally {
      groupAdds.disabled = false;
    }
  });

  const accounts = store.accounts().map(acc => {
    const active = acc.userId === s.userId;
    const p = active ? s.me : acc.profile;
    return h('li', {}, h('div', { class: 'person' },
      avatar({ id: acc.userId, ...p }, { size: 'sm' }),
      h('span', { class: 'names' }, h('span', { text: p?.display_name || displayPhone(acc.phone) }),
        h('span', { class: 'muted', text: displayPhone(acc.phone) + (active ? ' · ' + t('currentAccount') : '') })),
      h('span', { class: 'actions' }, active
        ? h('button', { class: 'btn btn-small btn-danger', type: 'button', testid: 'sign-out',
          onClick: async () => { if (await confirmSignOut(nameOf(s.me))) signOut(acc.userId); } }, t('signOut'))
        : h('button', { class: 'btn btn-small', type: 'button', onClick: () => switchTo(acc.userId) }, t('switchTo')))));
  });

  clear(main, h('div', { class: 'page' },
    h('div', { class: 'page-head' }, h('h1', { tabindex: '-1', text: t('settingsTitle') })),
    h('section', { class: 'section', 'aria-labelledby': 'look-h' },
      h('h2', { id: 'look-h', text: t('appearance') }),
      h('div', { class: 'field' }, h('label', { for: 'theme', text: t('theme') }), theme),
      h('div', { class: 'field' }, h('label', { for: 'lang', text: t('language') }), lang)),
    h('section', { class: 'section', 'aria-labelledby': 'privacy-h' },
      h('h2', { id: 'privacy-h', text: t('privacy') }),
      h('div', { class: 'field' }, h('label', { for: 'group-adds', text: t('groupAddsLabel') }), groupAdds),
      h('a', { href: '#/privacy', testid: 'privacy-link', text: t('privacyLink') }),
      (el => { import('../notify.js').then(m => el.replaceWith(m.settingsRow()), () => {}); return el; })(h('div'))), // notifications (notify.js)
    h('section', { class: 'section', 'aria-labelledby': 'acc-h' },
      h('h2', { id: 'acc-h', text: t('accounts') }),
      h('ul', { class: 'list' }, accounts),
      h('div', { class: 'actions-row' },
        h('button', { class: 'btn', type: 'button', testid: 'add-account', onClick: () => go('#/add-account') }, t('addAccount')),
        h('button', { class: 'btn btn-danger', type: 'button', testid: 'sign-out-all',
          onClick: async () => { if (await confirmSignOutAll()) signOutAll(); } }, t('signOutAll')),
        h('button', {
          class: 'btn btn-danger', type: 'button', testid: 'sign-out-global',
          onClick: async () => { if (await confirmDialog(t('signOutEverywhereConfirm'), t('signOutEverywhere'))) signOut(s.userId, 'global'); },
        }, t('signOutEverywhere'))))));
  return {};
}
