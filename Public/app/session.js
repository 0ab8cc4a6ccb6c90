// Everything of one signed-in account while it is active: the API client, the realtime
// socket and channels, the calls controller, the profile, the inbox, loaded conversations,
// online users. Views read this state and subscribe to its events; destroy() tears all of it
// down on switch/sign-out. This file holds the core (events, profile, start/stop, realtime
// dispatch); the rest of Session's methods live by concern in session-inbox.js (inbox, unread,
// read acks), session-messages.js (loaded conversations, catch-up, typing) and session-send.js
// (the send queue with optimistic messages, edits, reactions). Nothing here imports views.
import { config } from './api.js';
import { Api } from './account-api.js';
import { Socket } from './realtime.js';
import { Calls } from './calls.js';
import { Receipts } from './receipts.js';
import * as store from './store.js';
import { debounce } from './util.js';
import { InboxPart } from './session-inbox.js';
import { MessagesPart } from './session-messages.js';
import { SendPart } from './session-send.js';

export class Session {
  constructor(userId, hooks) {
    this.userId = userId;
    this.hooks = hooks;
    this.listeners = new Map();
    this.me = null;
    this.inbox = { items: [], loaded: false, loading: false, error: null, next: null };
    this.convs = new Map();
    this.online = new Set();
    this.openConv = null;
    this.connected = false;
    this.receipts = new Receipts(this);
    this.api = new Api(userId, {
      onToken: token => { this.socket?.setToken(token); this.calls?.signal.setToken(token); },
      onExpired: () => hooks.onExpired(this),
    });
    const c = config();
    const wsBase = c.base.replace(/^http/, 'ws');
    this.socket = new Socket(`${wsBase}/realtime/v1/websocket?apikey=${encodeURIComponent(c.anonKey)}&vsn=1.0.0`, {
      getToken: () => this.api.token,
      onStatus: s => { this.connected = s === 'open'; this.emit('status', s); },
    });
    this.calls = new Calls(this, `${wsBase}/calls/v1/ws`);
    this.refreshInboxSoon = debounce(() => this.loadInbox(true), 400);
  }

  // Events: 'me', 'inbox', 'conv:<id>', 'typing:<id>', 'online', 'status', 'removed:<id>',
  // 'call' (the call on screen, or the calls connection, changed)
  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
    return () => this.listeners.get(type)?.delete(fn);
  }

  emit(type, detail) {
    for (const fn of this.listeners.get(type) || []) {
      try { fn(detail); } catch (e) { console.error(e); }
    }
  }

  rpc(name, args) {
    return this.api.rpc(name, args);
  }

  async loadMe() {
    this.me = await this.rpc('get_my_profile');
    store.saveProfile(this.userId, this.me);
    this.emit('me', this.me);
    return this.me;
  }

  setMe(p) {
    this.me = { ...this.me, ...p };
    store.saveProfile(this.userId, this.me);
    this.emit('me', this.me);
  }

  /** Starts realtime and the inbox (after the profile is complete). */
  start() {
    if (this.started) return;
    this.started = true;
    this.socket.connect();
    this.userChannel = this.socket.channel(`realtime:user:${this.userId}`, {
      config: {
        broadcast: { self: false, ack: false }, presence: { key: '', enabled: false }, private: false,
        postgres_changes: [
          { event: '*', schema: 'public', table: 'messages' },
          { event: '*', schema: 'public', table: 'reactions' },
          { event: '*', schema: 'public', table: 'participants' },
        ],
      },
      onEvent: (event, payload) => { if (event === 'postgres_changes') this.change(payload.data || {}); else if (event === 'broadcast') this.emit('broadcast:' + payload.event, payload.payload || {}); },
      onJoin: first => { if (!first) this.resync(); },
    }).join();
    this.onlineChannel = this.socket.channel('realtime:online', {
      config: { broadcast: { self: false, ack: false }, presence: { key: this.userId, enabled: true }, private: false },
      onPresence: p => { this.online = new Set(p.keys()); this.emit('online', this.online); },
    }).join();
    this.onlineChannel.meta = { user_id: this.userId, online_at: new Date().toISOString() };
    this.loadInbox();
    this.calls.start();
  }

  destroy() {
    this.destroyed = true;
    this.calls.destroy();
    this.socket.disconnect();
    this.api.destroy();
    this.listeners.clear();
    for (const c of this.convs.values()) this.closeConvChannel(c);
    this.refreshInboxSoon.cancel();
    this.receipts.flush.cancel();
  }

  // Realtime changes (the inbox and message parts handle them)

  change(d) {
    const rec = d.record || {};
    const old = d.old_record || {};
    const convId = rec.conversation_id || old.conversation_id;
    if (d.table === 'messages') this.messageChange(d.type, rec);
    else if (d.table === 'reactions') this.reactionChange(d.type, d.type === 'DELETE' ? old : rec);
    else if (d.table === 'participants') this.participantChange(d.type, d.type === 'DELETE' ? old : rec, convId);
  }
}

// The parts' methods become Session's own (they run with `this` = the session).
for (const part of [InboxPart, MessagesPart, SendPart]) {
  for (const [name, d] of Object.entries(Object.getOwnPropertyDescriptors(part.prototype))) {
    if (name !== 'constructor') Object.defineProperty(Session.prototype, name, d);
  }
}
