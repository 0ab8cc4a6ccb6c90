// The client of one signed-in account: it keeps the access token fresh (refresh shortly
// before expiry, one refresh at a time across tabs, requests wait for it), retries a call once
// after "JWT expired", and opens streamed answers (the assistant). Loaded with the first session.
import * as store from './store.js';
import { ApiError, request, httpError, config } from './api.js';

/**
 * A POST whose answer is read as a stream (text/event-stream). Resolves with the Response once
 * its headers arrive (they must within 20 s); the body is then limited only by `signal`.
 * A non-2xx answer is read and thrown as an ApiError.
 */
async function openStream(path, { body, token, signal }) {
  const cfg = config();
  const headers = { apikey: cfg.anonKey, 'Content-Type': 'application/json', Accept: 'text/event-stream' };
  if (token) headers.Authorization = 'Bearer ' + token;
  const ctl = new AbortController();
  const onAbort = () => ctl.abort(signal.reason);
  if (signal?.aborted) ctl.abort(signal.reason);
  signal?.addEventListener('abort', onAbort);
  let slow = false;
  const timer = setTimeout(() => { slow = true; ctl.abort(); }, 20000);
  let res;
  try {
    res = await fetch(cfg.base + path, { method: 'POST', headers, body: JSON.stringify(body), signal: ctl.signal, cache: 'no-store' });
  } catch (e) {
    signal?.removeEventListener('abort', onAbort);
    if (e.name === 'AbortError' && !slow) throw e;
    throw new ApiError({ status: 0, code: 'network', message: e.message, network: true });
  } finally {
    clearTimeout(timer);
  }
  if (!res.ok) {
    signal?.removeEventListener('abort', onAbort);
    const text = await res.text().catch(() => '');
    let data = null;
    if (text) try { data = JSON.parse(text); } catch { data = null; }
    throw httpError(res, data);
  }
  // The caller's signal keeps aborting the body read; drop the link once the body is done.
  res.release = () => signal?.removeEventListener('abort', onAbort);
  return res;
}

const now = () => Date.now() / 1000;

export class Api {
  /** hooks: onToken(accessToken) after each refresh, onExpired() when the session is gone. */
  constructor(userId, hooks) {
    this.userId = userId;
    this.hooks = hooks;
    this.session = store.account(userId).session;
    this.refreshing = null;
    this.dead = false;
    this.abort = new AbortController();
    this.unwatch = store.onAccountsChanged(() => this.adopt());
    this.onVisible = () => { if (document.visibilityState === 'visible' && this.left() < 60) this.refresh().catch(() => {}); };
    document.addEventListener('visibilitychange', this.onVisible);
    this.schedule();
  }

  get token() {
    return this.session.access_token;
  }

  left() {
    return (this.session.expires_local || this.session.expires_at || 0) - now();
  }

  schedule(delay) {
    clearTimeout(this.timer);
    if (this.dead) return;
    const left = this.left();
    const ms = delay ?? Math.max(1, left - Math.min(90, Math.max(5, left / 4))) * 1000;
    this.timer = setTimeout(() => this.refresh().catch(() => {}), Math.min(ms, 2 ** 31 - 1));
  }

  /** Takes a newer session another tab stored; true when it did. */
  adopt() {
    if (this.dead) return false;
    const s = store.account(this.userId)?.session;
    if (!s || s.refresh_token === this.session.refresh_token || s.expires_at < this.session.expires_at) return false;
    this.session = s;
    this.schedule();
    this.hooks.onToken?.(s.access_token);
    return true;
  }

  refresh() {
    if (!this.refreshing) this.refreshing = this.doRefresh().finally(() => { this.refreshing = null; });
    return this.refreshing;
  }

  async doRefresh() {
    if (this.dead) throw new ApiError({ code: 'session_expired' });
    const run = async () => {
      if (this.adopt() && this.left() > 20) return;
      try {
        const s = await request('/auth/v1/token?grant_type=refresh_token', { body: { refresh_token: this.session.refresh_token }, signal: this.abort.signal });
        if (this.dead) return;
        store.saveSession(s);
        this.session = store.account(this.userId)?.session || { access_token: s.access_token, refresh_token: s.refresh_token, expires_at: s.expires_at };
        this.schedule();
        this.hooks.onToken?.(s.access_token);
      } catch (e) {
        if (e.name === 'AbortError') throw e;
        if (e.network || e.status >= 500 || e.status === 429) {
          this.schedule((e.retryAfter || 10) * 1000);
          throw e;
        }
        if (this.adopt()) return;
        this.expire();
        throw new ApiError({ code: 'session_expired', message: e.message });
      }
    };
    if (navigator.locks?.request) return navigator.locks.request('eco-refresh-' + this.userId, run);
    return run();
  }

  expire() {
    if (this.dead) return;
    this.destroy();
    this.hooks.onExpired?.();
  }

  async ready() {
    if (this.refreshing) await this.refreshing;
    if (this.left() < 10) await this.refresh();
  }

  async call(path, opts = {}) {
    if (this.dead) throw new ApiError({ code: 'session_expired' });
    await this.ready();
    try {
      return await request(path, { ...opts, token: this.token, signal: this.abort.signal });
    } catch (e) {
      const stale = e.status === 401 && (e.code === 'PGRST303' || e.code === 'PGRST301');
      const badAuth = e.status === 403 && (e.code === 'bad_jwt' || e.code === 'session_not_found');
      if (!stale && !badAuth) throw e;
      if (e.code === 'session_not_found') { this.expire(); throw e; }
      await this.refresh();
      return request(path, { ...opts, token: this.token, signal: this.abort.signal });
    }
  }

  /** A streamed POST (see openStream) with this account's token; retried once after a stale token. */
  async stream(path, body, signal) {
    if (this.dead) throw new ApiError({ code: 'session_expired' });
    await this.ready();
    const both = AbortSignal.any ? AbortSignal.any([signal, this.abort.signal].filter(Boolean)) : signal;
    try {
      return await openStream(path, { body, token: this.token, signal: both });
    } catch (e) {
      const stale = e.status === 401 && (e.code === 'PGRST303' || e.code === 'PGRST301' || /expired/i.test(e.message || ''));
      if (!stale) throw e;
      await this.refresh();
      return openStream(path, { body, token: this.token, signal: both });
    }
  }

  rpc(name, args = {}) {
    return this.call('/rest/v1/rpc/' + name, { body: args });
  }

  getUser() {
    return this.call('/auth/v1/user', { method: 'GET' });
  }

  destroy() {
    this.dead = true;
    clearTimeout(this.timer);
    this.abort.abort();
    this.unwatch();
    document.removeEventListener('visibilitychange', this.onVisible);
  }
}
