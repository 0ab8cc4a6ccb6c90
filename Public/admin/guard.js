// The console's guard: which screen the visitor gets.
//   no signed-in user            → an explanation and a link to sign in with the phone at /#/
//   no live admin session here   → the code step (signin.js), or enrolment (enrol.js)
//   a live admin session         → the console (layout.js)
// It owns the admin token (token.js: this tab's sessionStorage), ends the console when the
// session expires or the server answers 401 admin_session_invalid, and follows the user's
// sign-in (another tab signing out removes the account).
import { Api } from '../app/account-api.js';
import * as store from '../app/store.js';
import { h, clear, focus } from '../app/util.js';
import { t, setLanguage } from './i18n.js';
import { AdminApi } from './api.js';
import * as tokens from './token.js';
import { People } from './people.js';
import { authFrame } from './frame.js';
import { mountSignIn } from './signin.js';
import { mountEnrol } from './enrol.js';
import { mountConsole } from './layout.js';
import { loading, errorState, announce, clearAnnouncements } from './ui.js';

const CHOSEN = 'eco:admin:v1:account'; // the account this tab's console uses, when several are signed in

export function startGuard(root, { anonKey }) {
  const state = {
    userId: null, user: null, api: null, people: null, view: null, screen: null, notice: null, first: true,
    deadRefresh: null, // the refresh token of a sign-in that ended (its account may still be stored)
  };

  function unmount() {
    if (state.screen && state.screen !== 'checking') state.first = false;
    if (typeof state.view === 'function') state.view();
    else state.view?.destroy?.();
    state.view = null;
  }

  function chosenAccount() {
    let id = null;
    try { id = sessionStorage.getItem(CHOSEN); } catch { /* ignore */ }
    return id && store.account(id) ? id : store.activeId();
  }

  /** Sets up the clients for the account in use; false when nobody is signed in. */
  function useAccount() {
    const userId = chosenAccount();
    if (userId === state.userId && state.user && !state.user.dead) return true;
    state.user?.destroy();
    state.user = null;
    state.userId = userId;
    const session = store.account(userId)?.session;
    // A sign-in whose refresh already failed is not tried again until the app stores a new one.
    if (!userId || !session || session.refresh_token === state.deadRefresh) {
      state.userId = null;
      return false;
    }
    state.user = new Api(userId, { onExpired: () => userLost() });
    state.api = new AdminApi({ user: state.user, anonKey, hooks: { onSessionLost: () => sessionLost('sessionLost'), onUserLost: () => userLost() } });
    state.people = new People(state.user, userId);
    return true;
  }

  function changeLanguage(code) {
    setLanguage(code);
    clearAnnouncements();
    route({ keepNotice: true });
  }

  function showSignedOut() {
    unmount();
    state.screen = 'signed-out';
    document.title = t('signedOutTitle') + ' — ECOMANSONI Admin';
    clear(root, authFrame({ changeLanguage },
      h('h1', { tabindex: '-1', testid: 'page-title', text: t('signedOutTitle') }),
      state.notice && h('p', { class: 'adm-notice', role: 'status', testid: 'signin-notice', text: state.notice }),
      h('p', { class: 'adm-lead', testid: 'signed-out', text: t('signedOutText') }),
      h('p', null, h('a', { class: 'adm-btn adm-btn-primary', href: '/#/', testid: 'open-app-signin', text: t('signedOutLink') })),
      h('p', { class: 'adm-muted adm-small', text: t('signedOutAfter') })));
    // Replacing another screen (signed out elsewhere): the heading takes the focus; on a fresh load the page starts at the top.
    if (!state.first) focus(root.querySelector('h1'));
  }

  function showSignIn() {
    unmount();
    state.screen = 'signin';
    document.title = t('signInTitle') + ' — ECOMANSONI Admin';
    const notice = state.notice;
    state.notice = null;
    state.view = mountSignIn(root, {
      api: state.api, account: store.account(state.userId), accounts: store.accounts(), notice, changeLanguage,
      onOpened: opened => opened && sessionOpened(opened),
      onEnrol: () => showEnrol(),
      onSwitchAccount: userId => {
        try { sessionStorage.setItem(CHOSEN, userId); } catch { /* ignore */ }
        tokens.clear();
        route();
      },
    });
  }

  function showEnrol() {
    unmount();
    state.screen = 'enrol';
    document.title = t('enrolTitle') + ' — ECOMANSONI Admin';
    state.view = mountEnrol(root, {
      api: state.api, changeLanguage: null,
      onDone: () => { state.notice = t('enrolFinish'); showSignIn(); },
      onBack: () => showSignIn(),
    });
  }

  function sessionOpened({ data, serverTime }) {
    const saved = tokens.save(state.userId, data.admin_session, tokens.localExpiry(data.expires_at, serverTime));
    state.api.setToken(saved.token);
    showConsole({ user_id: state.userId, expires_at: data.expires_at, roles: data.roles, scopes: data.scopes }, saved.expiresLocal);
    announce(t('signedInAnnounce'));
  }

  function showConsole(me, expiresLocal) {
    unmount();
    state.screen = 'console';
    state.view = mountConsole(root, {
      api: state.api, people: state.people, account: store.account(state.userId), me, expiresLocal, changeLanguage,
      signOut: () => signOut(),
      expired: () => sessionLost('sessionExpired'),
    });
  }

  async function signOut() {
    const api = state.api;
    unmount();
    state.screen = 'signing-out';
    clear(root, authFrame({}, loading(t('signingOut'))));
    try {
      await api.closeSession();
    } catch { /* an ended session or no network: the token is dropped here anyway */ }
    tokens.clear();
    api.setToken(null);
    state.notice = t('signedOutNotice');
    route();
  }

  /** The server no longer knows the session (or it expired): back to the code step. */
  function sessionLost(reason) {
    if (state.screen !== 'console') return;
    tokens.clear();
    state.api.setToken(null);
    state.notice = t(reason);
    showSignIn();
    announce(t(reason), { assertive: true });
  }

  function userLost() {
    state.deadRefresh = store.account(state.userId)?.session?.refresh_token ?? state.deadRefresh;
    tokens.clear();
    state.user?.destroy();
    state.user = null;
    state.userId = null;
    if (state.screen === 'signed-out') return;
    state.notice = t('userSignedOut');
    route();
  }

  /** Decides the screen from the stored sign-in and this tab's admin token. */
  async function route({ keepNotice = false } = {}) {
    if (!useAccount()) {
      showSignedOut();
      return;
    }
    if (!keepNotice && state.screen === 'signed-out') state.notice = null;
    const saved = tokens.load(state.userId);
    if (!saved) {
      tokens.clear();
      state.api.setToken(null);
      showSignIn();
      return;
    }
    state.api.setToken(saved.token);
    unmount();
    state.screen = 'checking';
    clear(root, authFrame({}, loading(t('checkingSession'))));
    try {
      const { data, serverTime } = await state.api.me();
      const fresh = tokens.save(state.userId, saved.token, tokens.localExpiry(data.expires_at, serverTime));
      showConsole(data, fresh.expiresLocal);
    } catch (e) {
      if (state.screen !== 'checking') return; // a hook moved on already
      if (e.code === 'network' || e.status >= 500) {
        clear(root, authFrame({ changeLanguage }, errorState(e, () => route())));
        focus(root.querySelector('[role=alert] button'));
        return;
      }
      tokens.clear();
      state.api.setToken(null);
      state.notice = t('sessionLost');
      showSignIn();
    }
  }

  // Another tab signed this account out, or signed someone in while nobody was.
  store.onAccountsChanged(() => {
    if (state.userId && !store.account(state.userId)) userLost();
    else if (!state.userId && store.accounts().length) route();
  });

  route();
}
