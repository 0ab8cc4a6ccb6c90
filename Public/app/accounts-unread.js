// Unread counts of the other accounts signed in in this browser (the account switcher shows
// them). Each account is asked with its own Api (its own tokens, refreshed like the active
// one's), so one account's data never reaches another's: chat_get_inbox_v2, every 60 s while
// the page is visible, on window focus and whenever refresh() is called (the menu opens).
import { Api } from './account-api.js';
import * as store from './store.js';

const EVERY_MS = 60000;
const PAGES = 4; // pages of 50 chats, most recent first: the 200 latest chats are counted

/**
 * Watches every stored account but `session`'s. `onChange(counts)` gets a Map of user id →
 * unread total (muted chats not counted) after each change. Stops by itself once `session`
 * is destroyed (account switch or sign-out) or `alive()` says false (the shell that shows it
 * was replaced, e.g. after a language change); `stop()` stops it at once.
 */
export function watchOtherAccounts(session, onChange, alive = () => true) {
  const apis = new Map(); // user id → Api of that account only
  const counts = new Map(); // user id → unread total
  let last = 0;
  let stopped = false;
  let running = null;

  const publish = () => { if (!stopped) onChange(new Map(counts)); };

  /** Keeps one Api per other stored account; drops those signed out meanwhile. */
  function sync() {
    const others = store.accounts().filter(a => a.userId !== session.userId && a.session);
    const ids = new Set(others.map(a => a.userId));
    for (const [id, api] of apis) {
      if (!ids.has(id)) { api.destroy(); apis.delete(id); counts.delete(id); }
    }
    for (const a of others) {
      if (apis.has(a.userId)) continue;
      const api = new Api(a.userId, {
        // An expired session here is that account's business (it is shown when switched to).
        onExpired: () => { apis.delete(a.userId); counts.delete(a.userId); publish(); },
      });
      apis.set(a.userId, api);
    }
  }

  /** The account's unread total over its first PAGES pages of chats (the most recent ones). */
  async function countOf(api) {
    let n = 0;
    let cursor = null;
    for (let i = 0; i < PAGES; i++) {
      const page = await api.rpc('chat_get_inbox_v2', { p_limit: 50, ...(cursor && { p_cursor: cursor }) });
      n += (page?.items || []).reduce((sum, it) => sum + (it.muted ? 0 : it.unread_count || 0), 0);
      cursor = page?.next_cursor;
      if (!cursor) break;
    }
    return n;
  }

  /** Asks every other account now (one round at a time). */
  function refresh() {
    if (stopped) return Promise.resolve();
    if (running) return running;
    last = Date.now();
    sync();
    running = Promise.all([...apis].map(async ([id, api]) => {
      try {
        const n = await countOf(api);
        // Still the same account's Api (not signed out or replaced while asking).
        if (!stopped && apis.get(id) === api) counts.set(id, n);
      } catch { /* offline or refused: keep the last known count */ }
    })).then(() => { running = null; publish(); });
    return running;
  }

  function stop() {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    removeEventListener('focus', onFocus);
    unwatch();
    for (const api of apis.values()) api.destroy();
    apis.clear();
  }

  const onFocus = () => refresh();
  const tick = () => {
    if (session.destroyed || !alive()) return stop();
    if (document.visibilityState === 'visible' && Date.now() - last >= EVERY_MS) refresh();
  };
  // A cheap check each second notices the session's end; the server is asked once a minute.
  const timer = setInterval(tick, 1000);
  addEventListener('focus', onFocus);
  const unwatch = store.onAccountsChanged(() => { if (!stopped) { sync(); publish(); refresh(); } });
  refresh();
  return { refresh, stop, counts: () => new Map(counts) };
}
