// The admin session token of this tab: sessionStorage only (never localStorage), so it ends
// with the tab and is never shared with the main app or other tabs. Kept with the user it
// belongs to and its expiry by this device's clock (the server's expiry corrected by the
// difference between the server's Date header and this clock).
const KEY = 'eco:admin:v1:session';

/** {userId, token, expiresLocal} for `userId`, or null. */
export function load(userId) {
  try {
    const saved = JSON.parse(sessionStorage.getItem(KEY) || 'null');
    if (saved && saved.userId === userId && saved.token && saved.expiresLocal > Date.now()) return saved;
  } catch { /* storage disabled or corrupt: no session */ }
  return null;
}

export function save(userId, token, expiresLocal) {
  const saved = { userId, token, expiresLocal };
  try { sessionStorage.setItem(KEY, JSON.stringify(saved)); } catch { /* kept in memory only */ }
  return saved;
}

export function clear() {
  try { sessionStorage.removeItem(KEY); } catch { /* ignore */ }
}

/**
 * The expiry by this device's clock. A device whose clock is more than two seconds off the
 * server's Date header gets `expiresAt` shifted by the difference; otherwise `expiresAt` is
 * taken as it is (the header has whole seconds, so it cannot do better than the clocks).
 */
export function localExpiry(expiresAt, serverTime) {
  const expires = Date.parse(expiresAt);
  if (!Number.isFinite(expires)) return Date.now();
  const skew = serverTime ? serverTime - Date.now() : 0;
  return Math.abs(skew) > 2000 ? expires - skew : expires;
}
