// Phoenix (Supabase Realtime, vsn 1.0.0) client over the reconnecting socket (socket.js):
// heartbeat frames on the "phoenix" topic, channels with join/leave/rejoin, presence state and
// fresh access tokens for joined channels. Channels rejoin by themselves after a drop;
// onJoin(first) tells them to catch up.
import { ReconnectingSocket } from './socket.js';

const HEARTBEAT_MS = 25000;
const TIMEOUT_MS = 10000;
const BACKOFF = [500, 1000, 2000, 5000, 10000, 20000, 30000];

export class Socket {
  /** getToken() returns the current access token; onStatus('open'|'closed'). */
  constructor(url, { getToken, onStatus }) {
    this.getToken = getToken;
    this.onStatus = onStatus || (() => {});
    this.ref = 0;
    this.channels = new Set();
    this.replies = new Map();
    this.conn = new ReconnectingSocket(url, {
      onOpen: () => {
        this.onStatus('open');
        for (const ch of this.channels) ch.rejoin();
      },
      onMessage: data => this.receive(data),
      onDown: () => {
        for (const [, r] of this.replies) r.reject(new Error('disconnected'));
        this.replies.clear();
        for (const ch of this.channels) if (ch.state !== 'left') ch.state = 'closed';
        this.onStatus('closed');
      },
      // A heartbeat is a push on the "phoenix" topic answered by phx_reply.
      heartbeat: () => this.push('phoenix', 'heartbeat', {}),
      onToken: token => { for (const ch of this.channels) ch.sendToken(token); },
    }, { backoff: BACKOFF, heartbeatMs: HEARTBEAT_MS, missedBeatMs: TIMEOUT_MS });
  }

  isOpen() {
    return this.conn.isOpen();
  }

  connect() {
    this.conn.start();
  }

  disconnect() {
    for (const ch of this.channels) ch.state = 'left';
    this.channels.clear();
    this.conn.stop(1000, '');
  }

  push(topic, event, payload, joinRef) {
    if (!this.isOpen()) return Promise.reject(new Error('offline'));
    const ref = String(++this.ref);
    const frame = { topic, event, payload, ref };
    if (joinRef) frame.join_ref = joinRef;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.replies.delete(ref); reject(new Error('timeout')); }, TIMEOUT_MS);
      this.replies.set(ref, {
        resolve: v => { clearTimeout(timer); resolve(v); },
        reject: e => { clearTimeout(timer); reject(e); },
      });
      if (!this.conn.send(JSON.stringify(frame))) {
        this.replies.get(ref)?.reject(new Error('send failed'));
        this.replies.delete(ref);
      }
    });
  }

  receive(text) {
    let f;
    try { f = JSON.parse(text); } catch { return; }
    if (f.event === 'phx_reply' && f.ref != null && this.replies.has(String(f.ref))) {
      const r = this.replies.get(String(f.ref));
      this.replies.delete(String(f.ref));
      r.resolve(f.payload || {});
      return;
    }
    for (const ch of this.channels) if (ch.topic === f.topic) ch.receive(f);
  }

  channel(topic, opts) {
    return new Channel(this, topic, opts);
  }

  /** Sends a fresh access token to every joined channel. */
  setToken(token) {
    this.conn.setToken(token);
  }
}

export class Channel {
  /** opts: {config, onEvent(event, payload), onJoin(first), onPresence(keys), onError(reason)} */
  constructor(socket, topic, opts) {
    this.socket = socket;
    this.topic = topic;
    this.opts = opts;
    this.state = 'closed';
    this.joinedOnce = false;
    this.presence = new Map();
    this.meta = null;
  }

  join() {
    this.state = 'closed';
    this.socket.channels.add(this);
    if (this.socket.isOpen()) this.rejoin();
    return this;
  }

  async rejoin() {
    if (this.state === 'left' || this.state === 'joining' || !this.socket.isOpen()) return;
    this.state = 'joining';
    const joinRef = String(++this.socket.ref);
    this.joinRef = joinRef;
    let reply;
    try {
      reply = await this.socket.push(this.topic, 'phx_join', { config: this.opts.config, access_token: this.socket.getToken() }, joinRef);
    } catch {
      if (this.state === 'joining' && this.joinRef === joinRef) { this.state = 'closed'; this.later(); }
      return;
    }
    if (this.state !== 'joining' || this.joinRef !== joinRef) return;
    if (reply.status === 'ok') {
      this.state = 'joined';
      this.failures = 0;
      const first = !this.joinedOnce;
      this.joinedOnce = true;
      if (this.meta) this.track(this.meta);
      this.opts.onJoin?.(first);
    } else {
      this.state = 'closed';
      const reason = reply.response?.reason || 'join refused';
      this.opts.onError?.(reason);
      if (!/^Unauthorized|TopicNameRequired|Invalid/.test(reason)) this.later();
    }
  }

  later() {
    clearTimeout(this.laterTimer);
    this.failures = (this.failures || 0) + 1;
    this.laterTimer = setTimeout(() => this.rejoin(), Math.min(30000, 1000 * 2 ** this.failures));
  }

  leave() {
    const wasJoined = this.state === 'joined';
    this.state = 'left';
    clearTimeout(this.laterTimer);
    this.socket.channels.delete(this);
    if (wasJoined) this.socket.push(this.topic, 'phx_leave', {}, this.joinRef).catch(() => {});
  }

  push(event, payload) {
    if (this.state !== 'joined') return Promise.resolve(null);
    return this.socket.push(this.topic, event, payload, this.joinRef).catch(() => null);
  }

  broadcast(event, payload) {
    return this.push('broadcast', { type: 'broadcast', event, payload });
  }

  track(meta) {
    this.meta = meta;
    return this.push('presence', { type: 'presence', event: 'track', payload: meta });
  }

  sendToken(token) {
    this.push('access_token', { access_token: token });
  }

  receive(f) {
    if (this.state === 'left') return;
    switch (f.event) {
      case 'phx_close':
      case 'phx_error':
        if (f.join_ref && f.join_ref !== this.joinRef) return;
        // Closed by the server (e.g. token expired): join again with the current token.
        this.state = 'closed';
        this.later();
        return;
      case 'presence_state':
        this.presence = new Map();
        for (const [key, v] of Object.entries(f.payload || {})) this.presence.set(key, new Map((v.metas || []).map(m => [m.phx_ref, m])));
        this.opts.onPresence?.(this.presence);
        return;
      case 'presence_diff': {
        for (const [key, v] of Object.entries(f.payload?.leaves || {})) {
          const metas = this.presence.get(key);
          if (!metas) continue;
          for (const m of v.metas || []) metas.delete(m.phx_ref);
          if (!metas.size) this.presence.delete(key);
        }
        for (const [key, v] of Object.entries(f.payload?.joins || {})) {
          const metas = this.presence.get(key) || new Map();
          for (const m of v.metas || []) metas.set(m.phx_ref, m);
          this.presence.set(key, metas);
        }
        this.opts.onPresence?.(this.presence);
        return;
      }
      case 'system':
        return;
      default:
        this.opts.onEvent?.(f.event, f.payload || {});
    }
  }
}
