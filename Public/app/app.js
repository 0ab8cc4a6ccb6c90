// The application controller: configuration, theme and language, the active account's
// Session, account switching and sign-out, and rendering the current route. Only main.js
// imports it: views receive `context` (below) instead.
import { configure, logoutSession } from './api.js';
import { loadLang, t, extend } from './i18n.js';
import * as store from './store.js';
import * as router from './router.js';
import { h, clear, focus, stylesheet } from './util.js';
import { errorState } from './views/common.js';

// Modules load on demand (main.js preloads the likely ones): signed-out visitors never fetch
// the chat code, signed-in users never fetch the sign-in code.
const auth = () => import('./views/auth.js');
const shellModule = () => import('./views/shell.js');
const VIEWS = {
  chats: () => import('./views/chats.js').then(m => m.chatsView),
  people: () => import('./views/people.js').then(m => m.peopleView),
  user: () => import('./views/profile.js').then(m => m.profileView),
  me: () => import('./views/me.js').then(m => m.meView),
  settings: () => import('./views/settings.js').then(m => m.settingsView),
  osago: () => import('./views/osago.js').then(m => m.osagoView),
  assistant: () => import('./views/assistant.js').then(m => m.assistantView),
  privacy: () => import('./views/privacy.js').then(m => m.privacyView),
  camera: () => import('./views/camera.js').then(m => m.cameraView),
  reels: () => import('./views/reels.js').then(m => m.reelsView),
};

const app = {
  root: null,
  config: null,
  session: null,
  phase: 'boot', // boot | config-error | loading | load-error | onboarding | ready
  notice: null, // {text, phone} shown on the sign-in screen (e.g. session expired)
  shell: null,
  view: null,
  renderSeq: 0,
};

/**
 * What views may use of the application besides their session and route: the server's
 * configuration, the sign-in notice and the account actions. Views receive it as an
 * argument and never import this module (so nothing imports the controller back).
 */
const context = {
  get config() { return app.config; },
  get notice() { return app.notice; },
  clearNotice() { app.notice = null; },
  account: {
    switchTo: userId => switchTo(userId),
    signOut: (userId, scope) => signOut(userId, scope),
    signOutAll: () => signOutAll(),
    signedIn: session => signedIn(session),
    onboarded: () => onboarded(),
  },
  setLanguage: code => setLanguage(code),
  applyTheme: pref => applyTheme(pref),
};

const dark = matchMedia('(prefers-color-scheme: dark)');

function applyTheme(pref = store.prefs().theme) {
  document.documentElement.dataset.theme = pref === 'system' ? (dark.matches ? 'dark' : 'light') : pref;
}

async function setLanguage(code) {
  store.setPref('lang', code);
  await loadLang(code);
  app.view?.cleanup?.();
  app.view = null;
  app.shell = null;
  await render();
}

export async function boot(root) {
  app.root = root;
  applyTheme();
  dark.addEventListener('change', () => applyTheme());
  await loadLang(store.prefs().lang);
  router.onChange(() => render());
  store.onAccountsChanged(() => {
    if (app.session && !store.account(app.session.userId)) activate(store.activeId());
  });
  addEventListener('online', () => app.session?.retryFailed());
  addEventListener('unhandledrejection', e => {
    if (e.reason?.name === 'AbortError' || e.reason?.code === 'session_expired') e.preventDefault();
  });
  await loadConfig();
}

async function loadConfig() {
  app.phase = 'boot';
  try {
    const res = await fetch('app-config.json', { cache: 'no-store' });
    if (!res.ok) throw new Error('HTTP ' + res.status);
    const c = await res.json();
    if (!c.anonKey) throw new Error('no anonKey');
    // The API is on this page's origin (the server serves both); config.url is informational.
    configure({ base: location.origin, anonKey: c.anonKey });
    app.config = c;
  } catch (e) {
    app.phase = 'config-error';
    app.configError = e;
    render();
    return;
  }
  await activate(store.activeId());
}

/** The signed-in app's strings (i18n/signed-in.*.js) and stylesheet (styles/signed-in.css):
 * added with the first session, so the sign-in screens load only their own (i18n/ru.js,
 * styles/app.css). A failed load is tried again next time. */
let signedInAssets = null;
function loadSignedInAssets() {
  signedInAssets ??= Promise.all([
    extend({ ru: () => import('./i18n/signed-in.ru.js'), en: () => import('./i18n/signed-in.en.js') }),
    stylesheet(new URL('../styles/signed-in.css', import.meta.url)),
  ]).catch(e => { signedInAssets = null; throw e; });
  return signedInAssets;
}

/** Makes an account the active one (null: nobody is signed in). */
async function activate(userId) {
  app.session?.destroy();
  app.session = null;
  app.shell = null;
  document.title = 'ECOMANSONI';
  if (!userId || !store.account(userId)) {
    app.phase = 'ready';
    render();
    return;
  }
  store.setActive(userId);
  // From here until the session exists, a render (a hash change, say) shows "loading", not the
  // sign-in page: signing out of one account must not flash the sign-in page before the next.
  app.phase = 'loading';
  let Session;
  try {
    [{ Session }] = await Promise.all([import('./session.js'), loadSignedInAssets()]);
  } catch (e) {
    app.phase = 'load-error';
    app.loadError = { code: 'network' };
    app.retryUser = userId;
    render();
    return;
  }
  const s = new Session(userId, { onExpired: expired });
  app.session = s;
  app.phase = 'loading';
  render();
  try {
    await s.loadMe();
  } catch (e) {
    if (app.session !== s) return;
    app.phase = 'load-error';
    app.loadError = e;
    render();
    return;
  }
  if (app.session !== s) return;
  app.phase = s.me.username ? 'ready' : 'onboarding';
  if (app.phase === 'ready') s.start();
  render();
  if (app.phase === 'ready') import('./views/warnings.js').then(w => app.session === s && w.showWarnings(s), () => {});
}

function onboarded() {
  app.phase = 'ready';
  app.session.start();
  router.go('#/chats');
  render();
}

/** After a successful code check: store the session and switch to that account. */
async function signedIn(session) {
  store.saveSession(session);
  app.notice = null;
  history.replaceState(null, '', '#/chats');
  await activate(session.user.id);
}

function expired(s) {
  const acc = store.account(s.userId);
  store.removeAccount(s.userId);
  app.notice = { text: t('sessionExpired'), phone: acc?.phone || '' };
  if (app.session === s) {
    s.destroy();
    app.session = null;
    app.shell = null;
    app.phase = 'ready';
    router.go('#/chats', { replace: true });
    render();
  }
}

function switchTo(userId) {
  if (app.session?.userId === userId) return;
  activate(userId).then(() => router.go('#/chats'));
}

async function logout(acc, scope) {
  let session = acc.session;
  if ((session.expires_local || session.expires_at) - Date.now() / 1000 < 30) {
    // An expired access token cannot log out: refresh first (best effort).
    try {
      const { Api } = await import('./account-api.js');
      const api = new Api(acc.userId, {});
      try { await api.refresh(); session = api.session; } finally { api.destroy(); }
    } catch { /* gone already, or offline */ }
  }
  await logoutSession(session, scope);
}

async function signOut(userId = app.session?.userId, scope = 'local') {
  const acc = store.account(userId);
  if (!acc) return;
  // Active: its session is running, or it failed to load and its error screen is showing.
  const wasActive = app.session ? app.session.userId === userId : app.phase === 'load-error' && app.retryUser === userId;
  if (app.session?.userId === userId) { app.session.destroy(); app.session = null; }
  const done = logout(acc, scope);
  store.removeAccount(userId);
  if (wasActive) {
    const next = store.accounts()[0]?.userId || null;
    await activate(next);
    router.go('#/chats');
  }
  await done;
}

async function signOutAll() {
  const all = store.accounts();
  app.session?.destroy();
  app.session = null;
  for (const acc of all) store.removeAccount(acc.userId);
  app.notice = null;
  await activate(null);
  router.go('#/chats');
  await Promise.all(all.map(acc => logout(acc, 'local')));
}

// Rendering

/** Imports a module; on failure (offline) shows an error with a retry instead of a blank page. */
async function loadOr(load) {
  try {
    return await load();
  } catch {
    screen(h('div', { class: 'auth' }, h('div', { class: 'auth-card' }, h('span', { class: 'brand' }, 'ECOMANSONI'),
      errorState(t('errNetwork'), () => render()))));
    return null;
  }
}

/** Marks <html data-ready> once the first usable screen is on the page (for tests and metrics). */
function ready() {
  document.documentElement.dataset.ready = 'true';
}

function screen(...kids) {
  app.view?.cleanup?.();
  app.view = null;
  app.shell = null;
  clear(app.root, ...kids);
  app.root.removeAttribute('aria-busy');
}

async function render() {
  try {
    await renderRoute();
  } catch (e) {
    // A bug must not leave a blank page: show an error with a way out.
    console.error(e);
    screen(h('div', { class: 'auth' }, h('div', { class: 'auth-card' }, h('span', { class: 'brand' }, 'ECOMANSONI'),
      errorState(t('errGeneric'), () => location.reload()))));
  }
}

async function renderRoute() {
  const seq = ++app.renderSeq;
  const route = router.current();
  if (app.phase === 'boot') return;
  if (app.phase === 'config-error') {
    return screen(h('div', { class: 'auth' }, h('div', { class: 'auth-card' },
      h('span', { class: 'brand' }, 'ECOMANSONI'),
      errorState(t('errConfig'), () => { clear(app.root, h('div', { class: 'boot' }, 'ECOMANSONI')); loadConfig(); }))));
  }
  if ((!app.session && app.phase !== 'load-error' && app.phase !== 'loading') || route.name === 'add-account') {
    const mode = app.session ? 'add' : 'signin';
    if (app.view?.kind === 'auth' && app.view.mode === mode) return;
    const m = await loadOr(auth);
    if (!m || seq !== app.renderSeq) return;
    screen();
    app.view = m.renderAuth(app.root, { mode }, context);
    app.view.kind = 'auth';
    app.view.mode = mode;
    ready();
    return;
  }
  if (app.phase === 'loading') {
    return screen(h('div', { class: 'boot', role: 'status', 'aria-live': 'polite' }, t('loading')));
  }
  if (app.phase === 'load-error') {
    return screen(h('div', { class: 'auth' }, h('div', { class: 'auth-card' },
      h('span', { class: 'brand' }, 'ECOMANSONI'),
      errorState(app.loadError, () => activate(app.session?.userId || app.retryUser)),
      h('div', { class: 'auth-foot' }, h('button', { class: 'btn-link', type: 'button', onClick: () => signOut(app.session?.userId || app.retryUser) }, t('signOut'))))));
  }
  if (app.phase === 'onboarding') {
    if (app.view?.kind === 'onboarding') return;
    const m = await loadOr(auth);
    if (!m || seq !== app.renderSeq) return;
    screen();
    app.view = m.renderOnboarding(app.root, app.session, context);
    app.view.kind = 'onboarding';
    ready();
    return;
  }
  // Signed in and ready: the shell with the route's view in <main>.
  if (!app.shell || app.shell.session !== app.session) {
    const m = await loadOr(shellModule);
    if (!m || seq !== app.renderSeq) return;
    app.view?.cleanup?.();
    app.view = null;
    app.shell = m.renderShell(app.root, app.session, context);
    const watched = app.session; import('./notify.js').then(n => n.watch(watched), () => {}); // notifications, badge
    app.root.removeAttribute('aria-busy');
  }
  const shell = app.shell;
  shell.update(route);
  if (app.view?.name === 'chats' && route.name === 'chats') {
    app.view.update(route);
    return;
  }
  app.view?.cleanup?.();
  app.view = null;
  const main = shell.main;
  main.className = '';
  clear(main, h('div', { class: 'page' }, h('div', { class: 'skel l', 'aria-hidden': 'true' })));
  let make;
  try {
    make = await VIEWS[route.name]();
  } catch (e) {
    if (seq !== app.renderSeq) return;
    clear(main, errorState(t('errNetwork'), () => render()));
    return;
  }
  if (seq !== app.renderSeq || app.shell !== shell) return;
  clear(main);
  app.view = make(main, app.session, route, context) || {};
  app.view.name = route.name;
  ready();
  if (!route.id) focus(main.querySelector('h1'));
}
