// The calls signalling client for /calls/v1/ws (../shared/specs/calls-protocol.md) over the
// reconnecting socket (socket.js): HELLO/AUTH with the session's access token (again after each
// refresh), numbered frames, an ACK for every request with retries under the same msgId,
// PING heartbeats, resume after a reconnect (replayed frames are de-duplicated by seq), and the
// close codes that mean "do not retry" (replaced by another window) or "refresh the token".
import * as store from './store.js';
import { uuid } from './util.js';
import { ReconnectingSocket } from './socket.js';

const ACK_TIMEOUT_MS = 8000;
const MAX_ATTEMPTS = 4;
const BACKOFF = [300, 1000, 2000, 4000, 8000, 15000, 30000];
const CLOSE = { replaced: 4009, tokenExpired: 4001, rateLimited: 4029 };

export class CallsError extends Error {
  constructor(code, message, { retryable = false, details = {} } = {}) {
    super(message || code);
    this.code = code;
    this.retryable = retryable;
    this.details = details;
  }
}

/**
 * One device's calls-ws connection. hooks: getToken() → Promise<access token>, refreshToken(),
 * onFrame(frame) for every new server frame, onReady({resumed}) after WELCOME (and AUTH_OK),
 * onState(state) with 'offline' | 'connecting' | 'ready' | 'replaced' | 'stopped'.
 */
export class Signal {
  constructor(url, userId, hooks) {
    this.userId = userId;
    this.hooks = hooks;
    this.deviceId = Signal.deviceId(userId);
    this.state = 'stopped';
    this.seq = 0; // our frames, strictly increasing across connections
    this.lastServerSeq = 0;
    this.resumeToken = null;
    this.heartbeatSec = 25;
    this.pending = new Map(); // msgId → request
    this.authedToken = null;
    this.socket = new ReconnectingSocket(url, {
      onOpen: ws => this.hello(ws),
      onMessage: data => this.receive(data),
      onDown: () => this.down(),
      onClose: code => this.closed(code),
      onState: st => this.socketState(st),
      heartbeat: () => this.request('PING', {}, { conn: true, attempts: 1 }),
      onToken: token => this.reauth(token),
    }, {
      backoff: BACKOFF,
      heartbeatMs: () => Math.max(2, Math.min(this.heartbeatSec, 60)) * 500,
      missedBeatMs: ACK_TIMEOUT_MS,
      idleBeats: true,
      autoHeartbeat: false, // after HELLO (a PING before it is refused)
      openResetsBackoff: false, // after HELLO
    });
  }

  /** This browser's device id for the account (kept in localStorage, removed with the account). */
  static deviceId(userId, fresh = false) {
    let id = fresh ? null : store.userGet(userId, 'callsDevice', null);
    if (!id) {
      id = 'web-' + uuid();
      store.userSet(userId, 'callsDevice', id);
    }
    return id;
  }

  start() {
    if (this.state !== 'stopped') return;
    this.socket.start();
  }

  stop() {
    this.socket.stop(1000, 'bye');
    for (const r of this.pending.values()) this.settle(r, new CallsError('STOPPED', 'calls stopped'));
    this.resumeToken = null;
    this.setState('stopped');
  }

  setState(s) {
    if (this.state === s) return;
    this.state = s;
    this.hooks.onState?.(s);
  }

  /** The socket's state as the calls' one: 'open' is still 'connecting' until HELLO is done. */
  socketState(st) {
    if (st === 'closed') this.setState('stopped');
    else if (st === 'down') this.setState(this.socket.parked ? 'replaced' : 'offline');
    else this.setState('connecting');
  }

  /** The connection is gone: requests of that connection fail, the others wait. */
  down() {
    for (const r of [...this.pending.values()]) {
      clearTimeout(r.timer);
      r.sent = false;
      if (r.conn) this.settle(r, new CallsError('DISCONNECTED', 'the connection dropped'));
    }
  }

  closed(code) {
    if (code === CLOSE.replaced) {
      // Another window took this device over: stay quiet until asked again.
      this.resumeToken = null;
      this.setState('replaced');
      return 'park';
    }
    if (code === CLOSE.tokenExpired) {
      this.resumeToken = null;
      return this.hooks.refreshToken?.() || undefined;
    }
    if (code === CLOSE.rateLimited) return 'slow';
    return undefined;
  }

  /** Connects now (after 'replaced', or while waiting to retry). */
  reconnectNow() {
    this.socket.reconnectNow();
  }

  /** Treats the current connection as dead (no ACK in time) and reconnects with resume. */
  dead() {
    this.socket.drop(4000, 'no ack');
  }

  // Session

  async hello(ws) {
    const client = { deviceId: this.deviceId, platform: 'web', appVersion: '1' };
    const payload = { client };
    if (this.resumeToken) payload.resume = { resumeToken: this.resumeToken, lastServerSeq: this.lastServerSeq };
    this.welcome = null;
    let resumed = false;
    try {
      const ack = await this.request('HELLO', payload, { conn: true });
      resumed = !!ack.resumed && !!this.welcome?.resumed;
      if (!resumed || this.authedToken !== (await this.hooks.getToken())) await this.authenticate();
    } catch (e) {
      if (this.socket.ws !== ws) return;
      if (e.code === 'UNAUTHORIZED') {
        // This device id belongs to another user (shared browser): take a new one.
        this.deviceId = Signal.deviceId(this.userId, true);
        this.resumeToken = null;
      }
      this.dead();
      return;
    }
    if (this.socket.ws !== ws) return;
    this.socket.connected();
    this.setState('ready');
    this.hooks.onReady?.({ resumed });
    this.socket.startHeartbeat();
    this.flush();
  }

  async authenticate() {
    let token = await this.hooks.getToken();
    try {
      await this.request('AUTH', { accessToken: token }, { conn: true });
    } catch (e) {
      if (e.code !== 'UNAUTHENTICATED') throw e;
      await this.hooks.refreshToken?.();
      token = await this.hooks.getToken();
      await this.request('AUTH', { accessToken: token }, { conn: true });
    }
    this.authedToken = token;
  }

  /** A fresh access token (after the app refreshed it): AUTH again on the open session. */
  setToken(token) {
    this.socket.setToken(token);
  }

  reauth(token) {
    if (this.state !== 'ready' || token === this.authedToken) return;
    this.request('AUTH', { accessToken: token }, { conn: true })
      .then(() => { this.authedToken = token; })
      .catch(() => {});
  }

  // Requests

  /**
   * Sends a request; resolves with its ACK payload or rejects with a CallsError. Requests wait
   * while offline and are sent again (same msgId) after a reconnect; `conn` requests belong to
   * one connection and fail with it; `urgent` ones go before the others on a reconnect.
   */
  request(type, payload, { conn = false, urgent = false, attempts = MAX_ATTEMPTS } = {}) {
    return new Promise((resolve, reject) => {
      const r = { msgId: uuid(), type, payload, conn, urgent, attempts, tries: 0, resolve, reject, sent: false, timer: 0 };
      if (conn && !this.socket.ws) return reject(new CallsError('DISCONNECTED', 'not connected'));
      this.pending.set(r.msgId, r);
      if (conn || this.state === 'ready') this.transmit(r);
    });
  }

  transmit(r) {
    if (!this.socket.isOpen()) {
      if (r.conn) this.settle(r, new CallsError('DISCONNECTED', 'not connected'));
      return;
    }
    r.tries++;
    r.sent = true;
    const frame = { v: 1, type: r.type, msgId: r.msgId, ts: Date.now(), seq: ++this.seq, payload: r.payload };
    if (!this.socket.send(JSON.stringify(frame))) {
      r.sent = false;
      return;
    }
    clearTimeout(r.timer);
    r.timer = setTimeout(() => this.noAck(r), ACK_TIMEOUT_MS);
  }

  noAck(r) {
    if (!this.pending.has(r.msgId)) return;
    if (r.tries >= r.attempts) this.settle(r, new CallsError('TIMEOUT', 'no answer from the call server', { retryable: true }));
    // No ACK in time: the connection is not working. The request is sent again after resume.
    this.dead();
  }

  /** After (re)connecting: every waiting request, urgent ones first. */
  flush() {
    const waiting = [...this.pending.values()].filter(r => !r.sent && !r.conn);
    waiting.sort((a, b) => Number(b.urgent) - Number(a.urgent));
    for (const r of waiting) this.transmit(r);
  }

  settle(r, error, payload) {
    clearTimeout(r.timer);
    this.pending.delete(r.msgId);
    if (error) r.reject(error);
    else r.resolve(payload || {});
  }

  // Frames

  receive(text) {
    let f;
    try { f = JSON.parse(text); } catch { return; }
    if (!f || typeof f !== 'object') return;
    if (f.type === 'ACK') return this.acked(f);
    if (f.type === 'ERROR') { console.warn('calls: server error', f.payload); return; }
    if (typeof f.seq === 'number') {
      if (f.type === 'WELCOME' && !f.payload?.resumed) {
        this.lastServerSeq = f.seq; // a fresh session numbers from 1 again
      } else if (f.seq <= this.lastServerSeq) {
        return; // already seen (replayed after a resume)
      } else {
        this.lastServerSeq = f.seq;
      }
    }
    switch (f.type) {
      case 'WELCOME':
        this.welcome = f.payload || {};
        this.resumeToken = this.welcome.resumeToken || null;
        this.heartbeatSec = Number(this.welcome.heartbeatSec) || 25;
        return;
      case 'PING':
        // Answer at once: timers of a background tab may be throttled, messages are not.
        if (Date.now() - this.socket.lastSentAt > 5000) this.request('PING', {}, { conn: true, attempts: 1 }).catch(() => {});
        return;
      case 'AUTH_OK': case 'AUTH_FAIL':
        return;
      default:
        try { this.hooks.onFrame?.(f); } catch (e) { console.error(e); }
    }
  }

  acked(f) {
    const a = f.ack || {};
    const r = this.pending.get(a.ackOfMsgId);
    if (!r) return;
    if (a.ok) return this.settle(r, null, f.payload);
    const err = a.error || {};
    const e = new CallsError(err.code || 'INTERNAL', err.message, { retryable: !!err.retryable, details: err.details || {} });
    if (err.code === 'RATE_LIMITED' && r.tries < r.attempts && !r.conn) {
      clearTimeout(r.timer);
      r.sent = false;
      r.timer = setTimeout(() => { if (this.pending.has(r.msgId) && this.state === 'ready') this.transmit(r); }, Number(err.details?.retryAfterMs) || 1000);
      return;
    }
    this.settle(r, e);
  }
}
