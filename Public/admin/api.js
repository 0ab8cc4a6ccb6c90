// The console's client of /admin/v1 (docs/admin.md). Every call carries the API key, the
// signed-in user's access token (kept fresh by the main app's Api: one refresh at a time
// across tabs), the admin session token as X-Admin-Session, and an X-Request-Id of its own,
// so a refused call can be found in the audit log by the id the console shows.
import { ApiError } from '../app/api.js';

export class AdminError extends Error {
  constructor(o) {
    super(o.message || o.code || 'error');
    Object.assign(this, o);
  }
}

/** Codes after which the admin session is gone: the console asks for a new code. */
export const SESSION_LOST = ['admin_session_invalid', 'admin_session_required'];

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
function newRequestId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return 'adm-' + Array.from(bytes, b => ID_ALPHABET[b % ID_ALPHABET.length]).join('');
}

export class AdminApi {
  /**
   * user: the main app's Api of the signed-in account; anonKey: from /app-config.json;
   * hooks.onSessionLost(code) when the server no longer knows the admin session,
   * hooks.onUserLost() when the user's own sign-in is gone.
   */
  constructor({ user, anonKey, hooks = {} }) {
    this.user = user;
    this.anonKey = anonKey;
    this.hooks = hooks;
    this.token = null;
  }

  setToken(token) {
    this.token = token || null;
  }

  /**
   * One call: resolves {data, status, serverTime} (serverTime: the answer's Date header in
   * ms, for the session countdown), rejects with an AdminError {status, code, message,
   * field, retryAfter, requestId}. A stale access token is refreshed and the call retried once.
   */
  async call(method, path, { body, query, session = true } = {}) {
    const attempt = async () => {
      if (this.user.dead) throw new AdminError({ status: 401, code: 'user_signed_out' });
      try {
        await this.user.ready();
      } catch (e) {
        throw this.userError(e);
      }
      const requestId = newRequestId();
      const headers = { apikey: this.anonKey, Authorization: 'Bearer ' + this.user.token, 'X-Request-Id': requestId };
      if (body !== undefined) headers['Content-Type'] = 'application/json';
      if (session && this.token) headers['X-Admin-Session'] = this.token;
      let url = '/admin/v1/' + path;
      const params = query ? new URLSearchParams(Object.entries(query).filter(([, v]) => v !== '' && v != null)) : null;
      if (params && [...params].length) url += '?' + params;
      let res;
      try {
        res = await fetch(url, {
          method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store',
          signal: AbortSignal.timeout ? AbortSignal.timeout(20000) : undefined,
        });
      } catch (e) {
        throw new AdminError({ status: 0, code: 'network', message: e.message, requestId });
      }
      const text = await res.text();
      let data = null;
      if (text) try { data = JSON.parse(text); } catch { data = null; }
      const serverTime = Date.parse(res.headers.get('Date') || '') || null;
      if (res.ok) return { data, status: res.status, serverTime };
      throw new AdminError({
        status: res.status,
        code: data?.code || 'http_' + res.status,
        message: data?.error || data?.message || res.statusText,
        field: data?.field,
        retryAfter: Number(res.headers.get('Retry-After')) || 0,
        requestId,
      });
    };
    try {
      return await attempt();
    } catch (e) {
      if (!(e.status === 401 && (e.code === 'PGRST303' || e.code === 'PGRST301'))) throw this.checked(e);
    }
    try {
      await this.user.refresh();
    } catch (e) {
      throw this.userError(e);
    }
    try {
      return await attempt();
    } catch (e) {
      throw this.checked(e);
    }
  }

  /** Tells the hooks about a lost session; returns the error to throw. */
  checked(e) {
    if (!(e instanceof AdminError)) return e;
    if (e.status === 401 && SESSION_LOST.includes(e.code) && this.token) this.hooks.onSessionLost?.(e.code);
    if (e.code === 'user_signed_out' || (e.status === 401 && e.code === '42501')) this.hooks.onUserLost?.();
    return e;
  }

  userError(e) {
    if (e instanceof ApiError && (e.network || e.status === 429 || e.status >= 500)) {
      return new AdminError({ status: e.status || 0, code: 'network', message: e.message });
    }
    this.hooks.onUserLost?.();
    return new AdminError({ status: 401, code: 'user_signed_out', message: e?.message });
  }

  get = (path, query) => this.call('GET', path, { query }).then(r => r.data);
  post = (path, body = {}) => this.call('POST', path, { body }).then(r => r.data);

  openSession(code) {
    return this.call('POST', 'session', { body: { code }, session: false });
  }

  closeSession() {
    return this.call('DELETE', 'session');
  }

  enrol() {
    return this.call('POST', 'enrol', { session: false }).then(r => r.data);
  }

  me() {
    return this.call('GET', 'me');
  }

  admins = () => this.get('admins');
  addAdmin = (userId, reason) => this.post('admins', { user_id: userId, reason });
  setStatus = (userId, active, reason) => this.post(`admins/${encodeURIComponent(userId)}/status`, { active, reason });
  removeAdmin = (userId, reason) => this.post(`admins/${encodeURIComponent(userId)}/remove`, { reason });
  resetAuthenticator = (userId, reason) => this.post(`admins/${encodeURIComponent(userId)}/reset-authenticator`, { reason });
  grantRole = (userId, role, reason) => this.call('POST', 'grants', { body: { user_id: userId, role, reason } });
  requestJIT = (role, minutes, reason) => this.call('POST', 'jit', { body: { role, minutes, reason } });
  revokeGrant = (grantId, reason) => this.post(`grants/${encodeURIComponent(grantId)}/revoke`, { reason });
  requests = () => this.get('requests');
  decide = (requestId, approve, reason) => this.post(`requests/${encodeURIComponent(requestId)}/${approve ? 'approve' : 'deny'}`, { reason });
  execute = requestId => this.post(`requests/${encodeURIComponent(requestId)}/execute`);
  killSwitches = () => this.get('kill-switches');
  setKillSwitch = (name, engaged, reason) => this.post(`kill-switches/${encodeURIComponent(name)}`, { engaged, reason });
  audit = query => this.get('audit', query);
  verifyAudit = () => this.get('audit/verify');
  dashboard = () => this.get('dashboard');
  reelQueue = (queue, limit, before) => this.get('moderation/reels', { queue, limit, before });
  decideReel = (reelId, decision, reason) => this.post(`moderation/reels/${encodeURIComponent(reelId)}`, { decision, reason });
  reportQueue = (kind, limit, before) => this.get(`moderation/${kind}`, { limit, before });
  decideReport = (kind, id, decision, reason) => this.post(`moderation/${kind}/${encodeURIComponent(id)}`, { decision, reason });
  hashtags = () => this.get('moderation/hashtags');
  blockHashtag = (tag, reason) => this.post('moderation/hashtags', { tag, reason });
  unblockHashtag = (tag, reason) => this.post(`moderation/hashtags/${encodeURIComponent(tag)}/unblock`, { reason });
  lookUpAccount = query => this.get('users', query);
  suspendAccount = (userId, hours, reason) => this.post(`users/${encodeURIComponent(userId)}/suspension`, { hours, reason });
}
