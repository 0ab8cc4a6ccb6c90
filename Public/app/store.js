// Browser storage: signed-in accounts with their sessions (localStorage, shared by tabs),
// the active account (per tab, remembered for the next visit), preferences, and small
// per-account caches. Nothing of one account is read while another is active.
const P = 'eco:v1:';
const ACCOUNTS = P + 'accounts';
const ACTIVE = P + 'active';
const PREFS = P + 'prefs';

function read(key, fallback) {
  try {
    const v = localStorage.getItem(key);
    return v ? JSON.parse(v) : fallback;
  } catch {
    return fallback;
  }
}

function write(key, value) {
  try {
    if (value == null) localStorage.removeItem(key);
    else localStorage.setItem(key, JSON.stringify(value));
  } catch { /* storage full or disabled: the app still works for this tab */ }
}

/** Accounts in the order they were added: [{userId, phone, session, profile}]. */
export function accounts() {
  const all = read(ACCOUNTS, {});
  return Object.values(all).sort((a, b) => (a.addedAt || 0) - (b.addedAt || 0));
}

export function account(userId) {
  return read(ACCOUNTS, {})[userId] || null;
}

function update(userId, fn) {
  const all = read(ACCOUNTS, {});
  const next = fn(all[userId] || null);
  if (next) all[userId] = next;
  else delete all[userId];
  write(ACCOUNTS, all);
  return next;
}

/** Stores a session (from /verify or /token) for its user. */
export function saveSession(s) {
  const userId = s.user?.id;
  return update(userId, a => ({
    userId,
    addedAt: a?.addedAt || Date.now(),
    profile: a?.profile || null,
    phone: s.user?.phone || a?.phone || '',
    // expires_local: the expiry by this device's clock (immune to clock skew).
    session: {
      access_token: s.access_token, refresh_token: s.refresh_token, expires_at: s.expires_at,
      expires_local: s.expires_in ? Date.now() / 1000 + s.expires_in : s.expires_at,
    },
  }));
}

export function saveProfile(userId, p) {
  update(userId, a => a && { ...a, profile: { username: p.username, display_name: p.display_name, avatar_url: p.avatar_url } });
}

export function removeAccount(userId) {
  update(userId, () => null);
  for (const key of Object.keys(localStorage)) {
    if (key.startsWith(P + 'u:' + userId + ':')) localStorage.removeItem(key);
  }
  if (localStorage.getItem(ACTIVE) === JSON.stringify(userId)) write(ACTIVE, null);
}

export function activeId() {
  let id = null;
  try { id = JSON.parse(sessionStorage.getItem(ACTIVE) || 'null'); } catch { /* ignore */ }
  id = id || read(ACTIVE, null);
  return id && account(id) ? id : accounts()[0]?.userId || null;
}

export function setActive(userId) {
  try { sessionStorage.setItem(ACTIVE, JSON.stringify(userId)); } catch { /* ignore */ }
  write(ACTIVE, userId);
}

export function prefs() {
  return { theme: 'system', lang: 'ru', ...read(PREFS, {}) };
}

export function setPref(key, value) {
  write(PREFS, { ...prefs(), [key]: value });
}

/** A per-account value (e.g. known read receipts); removed with the account. */
export function userGet(userId, key, fallback) {
  return read(P + 'u:' + userId + ':' + key, fallback);
}

export function userSet(userId, key, value) {
  write(P + 'u:' + userId + ':' + key, value);
}

/** Calls fn when another tab changes the accounts. */
export function onAccountsChanged(fn) {
  const listener = e => { if (e.key === ACCOUNTS || e.key === null) fn(); };
  addEventListener('storage', listener);
  return () => removeEventListener('storage', listener);
}
