// The console once an admin session is open: its own header (who, roles, the session's
// remaining time, language, sign-out), the navigation, and the hash routes of the pages
// (#/dashboard, #/admins, #/requests, #/jit, #/audit?filters, #/moderation?queue, #/reports, #/accounts).
// A page is listed when the session has its scope (or one of its scopes). Each page module
// gets `ctx` and renders into <main>; after every navigation the page heading takes the focus.
import { h, clear, focus } from '../app/util.js';
import { t, clock, getLang } from './i18n.js';
import { announce, badge, shortId } from './ui.js';
import { languageButton } from './frame.js';

const PAGES = {
  dashboard: { title: 'navDashboard', load: () => import('./pages/dashboard.js') },
  admins: { title: 'navAdmins', scope: 'iam.read', load: () => import('./pages/admins.js') },
  requests: { title: 'navRequests', load: () => import('./pages/requests.js') },
  jit: { title: 'navJit', scope: 'jit.request', load: () => import('./pages/jit.js') },
  audit: { title: 'navAudit', scope: 'audit.read', load: () => import('./pages/audit.js') },
  moderation: { title: 'navModeration', scope: ['moderation.reels', 'moderation.hashtags'], load: () => import('./pages/moderation.js') },
  reports: { title: 'navReports', scope: 'moderation.content', load: () => import('./pages/reports.js') },
  accounts: { title: 'navAccounts', scope: ['users.lookup', 'moderation.content'], load: () => import('./pages/accounts.js') },
};
const WARN_AT = [300, 60]; // seconds left at which the countdown is read out

/** The route in the hash: {page, params}. */
export function currentRoute() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = raw.split('?');
  return { page: PAGES[path] ? path : 'dashboard', params: new URLSearchParams(query) };
}

/**
 * Mounts the console into `root`. `ctx` carries api, people, account, me, expiresLocal, and
 * the guard's callbacks signOut(), expired(), changeLanguage(code).
 */
export function mountConsole(root, ctx) {
  let page = null; // {cleanup}
  let renderSeq = 0;
  const who = h('div', { class: 'adm-who', testid: 'who' });
  const countdown = h('span', { class: 'adm-countdown-value' });
  const timer = h('div', { class: 'adm-countdown', role: 'timer', 'aria-live': 'off', testid: 'session-countdown' },
    h('span', { class: 'adm-countdown-label', text: t('sessionLeft') }), countdown);
  const langButton = languageButton(ctx.changeLanguage);
  const signOut = h('button', { type: 'button', class: 'adm-btn adm-btn-small', testid: 'sign-out', text: t('signOut'), onClick: () => ctx.signOut() });
  const nav = h('nav', { class: 'adm-nav', 'aria-label': t('navLabel') });
  const main = h('main', { class: 'adm-main', id: 'adm-main', tabindex: '-1', testid: 'main' });
  const skip = h('a', { class: 'adm-skip', href: '#adm-main', testid: 'skip-link', text: t('skipToContent') });
  skip.addEventListener('click', e => { e.preventDefault(); focus(main.querySelector('h1') || main); });

  clear(root,
    h('div', { class: 'adm-shell', testid: 'console' },
      skip,
      h('header', { class: 'adm-header' },
        h('div', { class: 'adm-brand' }, 'ECOMANSONI', h('span', { class: 'adm-brand-tag', text: t('brandAdmin') })),
        who,
        timer,
        h('div', { class: 'adm-header-actions' }, langButton, signOut)),
      nav,
      main));

  /** Whether the session has `scope` (or, given a list, any of them). */
  function can(scope) {
    return Array.isArray(scope) ? scope.some(can) : ctx.me.scopes.includes(scope);
  }

  function drawWho() {
    const a = ctx.account;
    const name = a.profile?.display_name || (a.profile?.username ? '@' + a.profile.username : '') || a.phone || shortId(a.userId);
    clear(who,
      h('span', { class: 'adm-who-name', testid: 'who-name', text: name }),
      h('span', { class: 'adm-roles', testid: 'who-roles', 'aria-label': t('yourRoles') },
        ctx.me.roles.length ? ctx.me.roles.map(r => badge(t('role_' + r.role), r.kind === 'jit' ? 'jit' : 'role', { testid: 'who-role', 'data-role': r.role, title: r.kind === 'jit' ? t('jitUntil', { time: new Date(r.expires_at).toLocaleTimeString(getLang()) }) : null }))
          : badge(t('noRoles'), 'muted')));
  }

  function drawNav(active) {
    clear(nav, h('ul', null, Object.entries(PAGES).map(([name, p]) => {
      if (p.scope && !can(p.scope) && name !== active) return null;
      return h('li', null, h('a', {
        href: '#/' + name, testid: 'nav-' + name, 'aria-current': name === active ? 'page' : null, text: t(p.title),
      }));
    })));
    centerCurrent();
  }

  /** On a phone the sections scroll sideways: keeps the current one in view (without scrolling the page). */
  function centerCurrent() {
    const current = nav.querySelector('[aria-current="page"]');
    if (!current || nav.scrollWidth <= nav.clientWidth) return;
    const at = current.getBoundingClientRect(), box = nav.getBoundingClientRect();
    nav.scrollLeft = Math.max(0, nav.scrollLeft + at.left - box.left - (box.width - at.width) / 2);
  }
  let resizing = 0;
  const onResize = () => { cancelAnimationFrame(resizing); resizing = requestAnimationFrame(centerCurrent); };
  addEventListener('resize', onResize);

  // Warnings already past when the console opens (a short session) are not read out.
  const warned = new Set(WARN_AT.filter(at => (ctx.expiresLocal - Date.now()) / 1000 <= at));
  function tick() {
    const left = (ctx.expiresLocal - Date.now()) / 1000;
    countdown.textContent = clock(left);
    timer.dataset.left = String(Math.max(0, Math.round(left)));
    timer.classList.toggle('soon', left <= 300);
    for (const at of WARN_AT) {
      if (left <= at && left > 0 && !warned.has(at)) {
        warned.add(at);
        announce(t('sessionEndsIn', { time: clock(left) }));
      }
    }
    if (left <= 0) ctx.expired();
  }
  const ticker = setInterval(tick, 1000);
  tick();

  /** Reads /me again: roles and scopes may have changed (a JIT grant ended, a revoke). */
  async function refreshMe() {
    try {
      const me = await ctx.api.me();
      ctx.me = me.data;
      drawWho();
      drawNav(currentRoute().page);
    } catch { /* a lost session is handled by the guard; other failures keep the last view */ }
    return ctx.me;
  }
  const meTimer = setInterval(refreshMe, 60000);

  const pageCtx = {
    get api() { return ctx.api; },
    get me() { return ctx.me; },
    get userId() { return ctx.account.userId; },
    people: ctx.people,
    can,
    refreshMe,
    navigate: hash => { if (location.hash === hash) render(); else location.hash = hash; },
  };

  async function render({ focusHeading = true } = {}) {
    const seq = ++renderSeq;
    const { page: name, params } = currentRoute();
    const spec = PAGES[name];
    drawNav(name);
    document.title = t(spec.title) + ' — ECOMANSONI Admin';
    page?.cleanup?.();
    page = null;
    clear(main, h('div', { class: 'adm-state adm-loading', role: 'status' }, h('span', { class: 'adm-spinner', 'aria-hidden': 'true' }), t('loading')));
    let module;
    try {
      module = await spec.load();
    } catch {
      if (seq !== renderSeq) return;
      clear(main, h('div', { class: 'adm-state adm-error', role: 'alert', testid: 'error-state' }, t('errLoadPage')));
      return;
    }
    if (seq !== renderSeq) return;
    clear(main);
    main.dataset.page = name;
    page = { cleanup: module.mount(main, pageCtx, params) };
    if (focusHeading) focus(main.querySelector('h1'));
  }

  const onHash = () => { render(); refreshMe(); };
  addEventListener('hashchange', onHash);
  drawWho();
  if (!location.hash || !PAGES[location.hash.replace(/^#\/?/, '').split('?')[0]]) history.replaceState(null, '', '#/dashboard');
  render({ focusHeading: true });

  return {
    destroy() {
      clearInterval(ticker);
      clearInterval(meTimer);
      removeEventListener('hashchange', onHash);
      removeEventListener('resize', onResize);
      page?.cleanup?.();
    },
  };
}
