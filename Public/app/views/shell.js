// The signed-in layout: top bar with the account switcher (with the other accounts' unread
// counts), navigation, <main>, the live region for announcements and the connection banner.
// Loading it also brings the chat list's stylesheet and strings, which every signed-in view uses.
import { h, clear, icon, avatar, nameOf, displayPhone, focus, stylesheet } from '../util.js';
import { t, extend } from '../i18n.js';
import * as store from '../store.js';
import { go } from '../router.js';
import { mountCalls } from './call-mount.js';
import { watchOtherAccounts } from '../accounts-unread.js';
import { confirmDialog } from './common.js';

await Promise.all([
  stylesheet(new URL('../../styles/chats.css', import.meta.url)),
  extend({ ru: () => import('../i18n/chats.ru.js'), en: () => import('../i18n/chats.en.js') }),
]);

/** Asks before signing out of the account called `name` on this device. */
export async function confirmSignOut(name) {
  return confirmDialog(t('signOutConfirm', { name }), t('signOut'));
}

/** Asks before signing out of every account in this browser. */
export async function confirmSignOutAll() {
  return confirmDialog(t('signOutAllConfirm', { n: store.accounts().length }), t('signOutAll'));
}

const NAV = [
  ['chats', '#/chats', 'navChats', 'chats', 'nav-chats'],
  ['people', '#/people', 'navPeople', 'people', 'nav-people'],
  ['reels', '#/reels', 'navReels', 'video', 'nav-reels'],
  ['insurance', '#/insurance/osago', 'navInsurance', 'shield', 'nav-insurance'],
  ['me', '#/me', 'navProfile', 'user', 'nav-profile'],
  ['settings', '#/settings', 'navSettings', 'settings', 'nav-settings'],
];

export function renderShell(root, s, ctx) {
  const main = h('main', { id: 'main', tabindex: '-1' });
  const counter = h('span', { class: 'count', hidden: true });
  const links = NAV.map(([name, href, label, ic, testid]) =>
    h('a', { href, testid, 'data-route': name }, icon(ic), h('span', { text: t(label) }), name === 'chats' && counter));
  const nav = h('nav', { class: 'nav', 'aria-label': t('navLabel') }, links);
  const banner = h('div', { class: 'conn-banner', role: 'status', hidden: true }, t('reconnecting'));
  const skip = h('button', { class: 'skip btn btn-small', type: 'button', onClick: () => focus(main.querySelector('h1') || main) }, t('skipToContent'));
  const top = h('header', { class: 'topbar' }, skip, h('a', { class: 'brand', href: '#/chats' }, 'ECOMANSONI'), accountSwitcher(s, ctx.account));
  const shell = h('div', { class: 'shell' }, top, nav, main, banner,
    h('div', { id: 'live', class: 'sr-only', 'aria-live': 'polite', 'aria-atomic': 'true' }));
  clear(root, shell);
  mountCalls(s); // the call screen over any page when a call starts or arrives (calls.js emits 'call')

  const unread = () => {
    const n = s.totalUnread();
    counter.hidden = !n;
    counter.textContent = n > 99 ? '99+' : String(n);
    counter.setAttribute('aria-label', t('unreadCount', { n }));
    document.title = (n ? `(${n}) ` : '') + 'ECOMANSONI';
  };
  s.on('inbox', unread);
  unread();
  let bannerTimer;
  s.on('status', st => {
    clearTimeout(bannerTimer);
    if (st === 'open') banner.hidden = true;
    else bannerTimer = setTimeout(() => { banner.hidden = s.connected; }, 2500);
  });

  return {
    session: s, main,
    update(route) {
      for (const a of links) {
        const on = a.dataset.route === route.name || a.dataset.route === route.section || (route.name === 'user' && a.dataset.route === 'people');
        if (on) a.setAttribute('aria-current', 'page');
        else a.removeAttribute('aria-current');
      }
      shell.classList.toggle('in-conv', route.name === 'chats' && !!route.id);
    },
  };
}

function accountSwitcher(s, { switchTo, signOut, signOutAll }) {
  const who = h('span', { class: 'who' });
  const face = h('span');
  const btn = h('button', {
    class: 'acct-btn', type: 'button', testid: 'account-switcher', 'aria-haspopup': 'true', 'aria-expanded': 'false',
    'aria-controls': 'account-menu',
  }, face, who);
  const wrap = h('div', { class: 'acct' }, btn);
  const dot = h('span', { class: 'badge acct-unread', testid: 'accounts-unread', hidden: true });
  btn.append(dot);
  let others = new Map(); // other account's user id → unread total
  const paint = () => {
    clear(face, avatar(s.me, { size: 'sm' }));
    clear(who, h('span', { text: nameOf(s.me) }), h('span', { class: 'muted', text: s.me?.username ? '@' + s.me.username : '' }));
    const n = [...others.values()].reduce((a, b) => a + b, 0);
    dot.hidden = !n;
    dot.textContent = n > 99 ? '99+' : String(n);
    dot.dataset.count = String(n);
    btn.setAttribute('aria-label', t('accountMenu', { name: nameOf(s.me) }) + (n ? '. ' + t('otherAccountsUnread', { n }) : ''));
  };
  paint();
  s.on('me', paint);
  const paintCount = (el, n) => {
    el.hidden = !n;
    el.textContent = n > 99 ? '99+' : String(n);
    el.dataset.count = String(n);
    el.setAttribute('aria-label', t('unreadCount', { n }));
  };
  let menu = null;
  const watcher = watchOtherAccounts(s, counts => {
    others = counts;
    paint();
    if (menu) for (const el of menu.querySelectorAll('[data-testid="account-unread"]')) paintCount(el, counts.get(el.dataset.userId) || 0);
  }, () => btn.isConnected);

  const close = (refocus = true) => {
    if (!menu) return;
    menu.remove();
    menu = null;
    btn.setAttribute('aria-expanded', 'false');
    document.removeEventListener('pointerdown', outside, true);
    document.removeEventListener('keydown', onKey);
    if (refocus) focus(btn);
  };
  const onKey = e => { if (e.key === 'Escape' && menu) { e.preventDefault(); close(wrap.contains(document.activeElement)); } };
  const outside = e => { if (!wrap.contains(e.target)) close(false); };
  const open = () => {
    const items = store.accounts().map(acc => {
      const active = acc.userId === s.userId;
      const p = active ? s.me : acc.profile;
      const count = !active && h('span', { class: 'badge', testid: 'account-unread', 'data-user-id': acc.userId });
      if (count) paintCount(count, others.get(acc.userId) || 0);
      return h('button', {
        type: 'button', testid: 'account-option', 'data-phone': acc.phone, 'aria-current': active ? 'true' : null,
        onClick: () => { close(false); if (!active) switchTo(acc.userId); },
      }, avatar({ id: acc.userId, ...p }, { size: 'sm' }),
      h('span', { class: 'who' }, h('span', { text: p?.display_name || displayPhone(acc.phone) }), h('span', { class: 'muted', text: displayPhone(acc.phone) })),
      active && h('span', { class: 'sr-only', text: t('currentAccount') }), count);
    });
    menu = h('div', { class: 'menu', id: 'account-menu', role: 'group', 'aria-label': t('accounts') },
      items,
      h('hr'),
      h('button', { type: 'button', testid: 'add-account', onClick: () => { close(false); go('#/add-account'); } }, t('addAccount')),
      h('button', {
        type: 'button', testid: 'sign-out', class: 'danger',
        onClick: async () => { close(); if (await confirmSignOut(nameOf(s.me))) signOut(); },
      }, t('signOut')),
      h('button', {
        type: 'button', testid: 'sign-out-all', class: 'danger',
        onClick: async () => { close(); if (await confirmSignOutAll()) signOutAll(); },
      }, t('signOutAll')));
    wrap.append(menu);
    btn.setAttribute('aria-expanded', 'true');
    document.addEventListener('pointerdown', outside, true);
    document.addEventListener('keydown', onKey);
    focus(menu.querySelector('button'));
    watcher.refresh();
  };
  btn.addEventListener('click', () => (menu ? close() : open()));
  wrap.addEventListener('focusout', e => { if (menu && e.relatedTarget && !wrap.contains(e.relatedTarget)) close(false); });
  return wrap;
}
