// Everything of one signed-in account while it is active: the API client, the realtime
// socket and channels, the calls socket, the profile, the inbox, loaded conversations, online users. Views read
// this state and subscribe to its events; destroy() tears all of it down on switch/sign-out.
import { Api, config } from './api.js';
import { Socket } from './realtime.js';
import { Calls } from './calls.js';
import { Receipts } from './receipts.js';
import * as store from './store.js';
import { uuid, debounce } from './util.js';

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
      onEvent: (event, payload) => { if (event === 'postgres_changes') this.change(payload.data || {}); },
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

  // Inbox

  /** Loads the inbox; a call while a load is running waits for that load (and one more after it). */
  loadInbox(quiet = false) {
    if (this.inbox.loading) {
      this.inbox.again ||= this.inbox.loading.then(() => { this.inbox.again = null; return this.loadInbox(true); });
      return this.inbox.again;
    }
    this.inbox.loading = this.fetchInbox(quiet).finally(() => { this.inbox.loading = null; });
    return this.inbox.loading;
  }

  async fetchInbox(quiet) {
    if (!quiet) { this.inbox.error = null; this.emit('inbox'); }
    try {
      const page = await this.rpc('chat_get_inbox_v2', { p_limit: 50 });
      if (this.destroyed) return;
      this.inbox.items = page.items || [];
      this.inbox.next = page.next_cursor;
      this.inbox.loaded = true;
      this.inbox.error = null;
      this.receipts.fromInbox(this.inbox.items);
      for (const it of this.inbox.items) {
        const c = this.convs.get(it.conversation_id);
        if (c) c.meta = it;
      }
    } catch (e) {
      if (this.destroyed) return;
      if (!this.inbox.loaded) this.inbox.error = e;
    }
    this.emit('inbox');
  }

  async loadMoreInbox() {
    if (!this.inbox.next) return;
    const page = await this.rpc('chat_get_inbox_v2', { p_limit: 50, p_cursor: this.inbox.next });
    const known = new Set(this.inbox.items.map(i => i.conversation_id));
    this.inbox.items.push(...page.items.filter(i => !known.has(i.conversation_id)));
    this.inbox.next = page.next_cursor;
    this.receipts.fromInbox(page.items);
    this.emit('inbox');
  }

  item(id) {
    return this.inbox.items.find(i => i.conversation_id === id);
  }

  totalUnread() {
    return this.inbox.items.reduce((n, i) => n + (i.muted ? 0 : i.unread_count || 0), 0);
  }

  bump(item) {
    this.inbox.items = [item, ...this.inbox.items.filter(i => i !== item)];
  }

  // Realtime changes

  change(d) {
    const rec = d.record || {};
    const old = d.old_record || {};
    const convId = rec.conversation_id || old.conversation_id;
    if (d.table === 'messages') this.messageChange(d.type, rec);
    else if (d.table === 'reactions') this.reactionChange(d.type, d.type === 'DELETE' ? old : rec);
    else if (d.table === 'participants') this.participantChange(d.type, d.type === 'DELETE' ? old : rec, convId);
  }

  messageChange(type, m) {
    const item = this.item(m.conversation_id);
    const c = this.convs.get(m.conversation_id);
    if (type === 'INSERT') {
      if (c?.typing.has(m.sender_id)) {
        clearTimeout(c.typing.get(m.sender_id));
        c.typing.delete(m.sender_id);
        this.emit('typing:' + c.id);
      }
      if (c?.loaded) this.addMessages(c, [m]);
      if (!item) { this.refreshInboxSoon(); return; }
      if (m.seq > (item.last_seq || 0)) {
        item.last_seq = m.seq;
        item.last_message_at = m.created_at;
        item.last_message = { id: m.id, sender_id: m.sender_id, seq: m.seq, kind: m.kind, body: m.body, deleted: !!m.deleted_at, created_at: m.created_at };
        if (m.sender_id !== this.userId) {
          if (this.isViewing(m.conversation_id)) this.ackRead(m.conversation_id); // a read ack also moves delivery
          else {
            item.unread_count = (item.unread_count || 0) + 1;
            this.receipts.arrived(m.conversation_id, m.seq);
          }
        }
        this.bump(item);
      }
      this.emit('inbox');
    } else if (type === 'UPDATE') {
      if (c?.loaded) this.addMessages(c, [m]);
      if (item?.last_message?.id === m.id) {
        item.last_message = { ...item.last_message, body: m.body, deleted: !!m.deleted_at };
        if (m.deleted_at && m.sender_id !== this.userId && m.seq > (item.read_up_to_seq || 0)) this.refreshInboxSoon();
        this.emit('inbox');
      } else if (m.deleted_at && item?.unread_count) {
        this.refreshInboxSoon();
      }
    }
  }

  reactionChange(type, r) {
    for (const c of this.convs.values()) {
      const msg = c.byId.get(r.message_id);
      if (!msg) continue;
      const rest = (msg.reactions || []).filter(x => x.user_id !== r.user_id);
      msg.reactions = type === 'DELETE' ? rest : [...rest, { user_id: r.user_id, emoji: r.emoji }];
      this.emit('conv:' + c.id, { type: 'update', msgs: [msg] });
    }
  }

  participantChange(type, p, convId) {
    const item = this.item(convId);
    if (type === 'INSERT') {
      this.refreshInboxSoon();
    } else if (type === 'DELETE') {
      if (p.user_id === this.userId) {
        this.inbox.items = this.inbox.items.filter(i => i.conversation_id !== convId);
        const c = this.convs.get(convId);
        if (c) { this.closeConvChannel(c); this.convs.delete(convId); }
        this.emit('inbox');
        this.emit('removed:' + convId);
      } else {
        this.refreshInboxSoon();
      }
    } else if (type === 'UPDATE') {
      if (p.user_id === this.userId) {
        // Only a read cursor that moved (here or on another device) changes the unread count;
        // this device's delivery acks come back here too.
        if (item && (p.read_up_to_seq || 0) > (item.read_up_to_seq || 0)) {
          item.read_up_to_seq = p.read_up_to_seq;
          if (item.read_up_to_seq >= (item.last_seq || 0)) item.unread_count = 0;
          else this.refreshInboxSoon();
          this.emit('inbox');
        }
      } else {
        this.receipts.update(convId, p);
      }
    }
  }

  // Conversations

  conv(id) {
    let c = this.convs.get(id);
    if (!c) {
      c = { id, msgs: new Map(), byId: new Map(), pending: new Map(), minSeq: Infinity, maxSeq: 0, hasMore: true, loaded: false, typing: new Map() };
      this.convs.set(id, c);
    }
    c.meta = this.item(id) || c.meta;
    return c;
  }

  addMessages(c, list) {
    const added = [];
    for (const m of list) {
      const existing = c.msgs.get(m.seq);
      const msg = existing ? Object.assign(existing, m, { reactions: m.reactions || existing.reactions || [] }) : { ...m, reactions: m.reactions || [] };
      if (!existing) {
        c.msgs.set(m.seq, msg);
        c.byId.set(m.id, msg);
        if (m.client_msg_id && c.pending.has(m.client_msg_id)) {
          msg.replaces = c.pending.get(m.client_msg_id);
          c.pending.delete(m.client_msg_id);
        }
      }
      c.minSeq = Math.min(c.minSeq, m.seq);
      if (m.seq > c.maxSeq + 1 && c.loaded && c.maxSeq && !c.catching) this.catchUp(c.id);
      c.maxSeq = Math.max(c.maxSeq, m.seq);
      added.push(msg);
    }
    if (added.length) this.emit('conv:' + c.id, { type: 'update', msgs: added });
  }

  async loadLatest(id) {
    const c = this.conv(id);
    const page = await this.rpc('get_messages', { conversation_id: id, limit: 50 });
    c.hasMore = page.has_more;
    c.loaded = true;
    this.addMessages(c, page.items);
    if (!page.items.length) c.minSeq = 0;
    return c;
  }

  async loadOlder(id) {
    const c = this.conv(id);
    if (!c.hasMore || c.loadingOlder || !isFinite(c.minSeq) || c.minSeq <= 1) { c.hasMore = c.hasMore && c.minSeq > 1; return []; }
    c.loadingOlder = true;
    try {
      const page = await this.rpc('get_messages', { conversation_id: id, before_seq: c.minSeq, limit: 50 });
      c.hasMore = page.has_more;
      this.addMessages(c, page.items);
      return page.items;
    } finally {
      c.loadingOlder = false;
    }
  }

  /** Fetches what was missed (after a drop): new messages, then the latest page for edits and reactions. */
  async catchUp(id) {
    const c = this.convs.get(id);
    if (!c?.loaded || c.catching) return;
    c.catching = true;
    try {
      let more = true;
      while (more && !this.destroyed) {
        const page = await this.rpc('get_messages', { conversation_id: id, after_seq: c.maxSeq, limit: 100 });
        this.addMessages(c, page.items);
        more = page.has_more && page.items.length > 0;
      }
      const latest = await this.rpc('get_messages', { conversation_id: id, limit: 50 });
      this.addMessages(c, latest.items);
      if (this.isViewing(id)) this.ackRead(id);
    } catch { /* the next reconnect or event tries again */ } finally {
      c.catching = false;
    }
  }

  resync() {
    this.loadInbox(true);
    for (const c of this.convs.values()) if (c.loaded) this.catchUp(c.id);
  }

  isViewing(id) {
    return this.openConv === id && document.visibilityState === 'visible' && this.atBottom !== false;
  }

  async ackRead(id) {
    const c = this.convs.get(id);
    const item = this.item(id);
    const upTo = Math.max(c?.maxSeq || 0, item?.last_seq || 0);
    if (!upTo || (item && (item.read_up_to_seq || 0) >= upTo && !item.unread_count)) return;
    if (item) {
      item.unread_count = 0;
      item.read_up_to_seq = Math.max(item.read_up_to_seq || 0, upTo);
      this.emit('inbox');
    }
    try {
      await this.rpc('ack_read_v1', { conversation_id: id, up_to_seq: upTo });
    } catch { /* harmless: retried on the next message or visit */ }
  }

  // Sending

  /**
   * Sends a file as a message of `kind` (image, video, file, voice, audio): an optimistic
   * bubble at once, the upload (progress events 'conv:<id>' {type:'progress'}), then
   * send_message_v1. `local` is what the bubble shows meanwhile (preview, width/height,
   * duration). A retry re-uploads only if the upload did not finish, with the same
   * client_msg_id, so the send stays idempotent.
   */
  sendFile(id, file, { kind, caption = '', replyTo = null, local = {} }) {
    const c = this.conv(id);
    const msg = {
      client_msg_id: uuid(), conversation_id: id, sender_id: this.userId, body: caption, reply_to_id: replyTo || null,
      kind, created_at: new Date().toISOString(), reactions: [], state: 'sending',
      upload: { file, path: null, loaded: 0, total: file.size, done: false, abort: null }, local,
      after: c.fileChain || null, // files upload side by side but are sent in the order chosen
    };
    c.pending.set(msg.client_msg_id, msg);
    this.emit('conv:' + id, { type: 'pending', msg });
    c.fileChain = this.deliver(c, msg);
    return msg;
  }

  async uploadFor(c, msg) {
    const storage = await import('./storage.js');
    // Canceled while the module loaded: nothing may be uploaded (it would be left orphaned).
    if (msg.canceled) throw new DOMException('upload canceled', 'AbortError');
    const u = msg.upload;
    u.path ||= `${this.userId}/${uuid()}-${storage.safeName(u.file.name)}`;
    u.loaded = 0;
    const job = storage.upload(this.api, 'attachments', u.path, u.file, {
      onProgress: (loaded, total) => { u.loaded = loaded; u.total = total || u.total; this.emit('conv:' + c.id, { type: 'progress', msg }); },
    });
    u.abort = job.abort;
    try {
      await job.promise;
    } catch (e) {
      // An earlier attempt stored it but its answer was lost: the name is ours, so it is there.
      if (!(e.status === 409 && e.storage)) throw e;
    } finally {
      u.abort = null;
    }
    u.done = true;
    u.loaded = u.total;
    const l = msg.local || {};
    msg.attachment = {
      bucket: 'attachments', path: u.path, name: u.path.split('/').pop(), mime_type: storage.typeOf(u.file), size: u.file.size,
      width: l.width ?? null, height: l.height ?? null, duration_ms: l.duration_ms ?? null, waveform: l.waveform ?? null,
      thumbnail_path: null, poster_path: null,
    };
  }

  /** Stops an upload in progress and drops its message. */
  cancelSend(id, clientId) {
    const msg = this.conv(id).pending.get(clientId);
    if (!msg) return;
    msg.canceled = true;
    msg.upload?.abort?.();
    this.discard(id, clientId);
  }

  send(id, body, replyTo) {
    const c = this.conv(id);
    const msg = {
      client_msg_id: uuid(), conversation_id: id, sender_id: this.userId, body, reply_to_id: replyTo || null,
      created_at: new Date().toISOString(), reactions: [], state: 'sending',
      after: c.textChain || null, // sent in the order typed
    };
    c.pending.set(msg.client_msg_id, msg);
    this.emit('conv:' + id, { type: 'pending', msg });
    c.textChain = this.deliver(c, msg);
    return msg;
  }

  async deliver(c, msg) {
    msg.state = 'sending';
    msg.error = null;
    this.emit('conv:' + c.id, { type: 'pending', msg });
    try {
      if (msg.upload && !msg.upload.done) await this.uploadFor(c, msg);
      if (msg.after) { const before = msg.after; msg.after = null; await before; }
      if (msg.canceled) return;
      const args = { conversation_id: c.id, client_msg_id: msg.client_msg_id, body: msg.body, reply_to_id: msg.reply_to_id };
      if (msg.upload) Object.assign(args, { kind: msg.kind, attachment: { path: msg.upload.path } });
      const r = await this.rpc('send_message_v1', args);
      if (!c.pending.has(msg.client_msg_id)) return; // realtime delivered it first
      this.addMessages(c, [{
        id: r.message_id, seq: r.seq, created_at: r.created_at, conversation_id: c.id, sender_id: this.userId,
        client_msg_id: msg.client_msg_id, kind: msg.upload ? msg.kind : 'text', body: msg.body, reply_to_id: msg.reply_to_id, reactions: [],
        ...(msg.upload && { attachment: r.attachment || msg.attachment }),
      }]);
    } catch (e) {
      if (!c.pending.has(msg.client_msg_id) || msg.canceled) return;
      msg.state = 'failed';
      msg.error = e;
      this.emit('conv:' + c.id, { type: 'pending', msg });
    }
  }

  retry(id, clientId) {
    const c = this.conv(id);
    const msg = c.pending.get(clientId);
    // Only a failed message: a Retry click racing the automatic retry after reconnecting
    // would otherwise start a second upload of the same file.
    if (msg?.state === 'failed') this.deliver(c, msg);
  }

  /** Sends again every message that failed for lack of network (after reconnecting). */
  retryFailed() {
    for (const c of this.convs.values()) {
      for (const m of c.pending.values()) if (m.state === 'failed' && m.error?.network) this.deliver(c, m);
    }
  }

  discard(id, clientId) {
    const c = this.conv(id);
    const msg = c.pending.get(clientId);
    c.pending.delete(clientId);
    if (msg?.upload?.done && msg.error && !msg.error.network) import('./storage.js').then(st => st.removeObject(this.api, 'attachments', msg.upload.path));
    if (msg) this.emit('conv:' + id, { type: 'discard', msg });
  }

  async edit(c, msg, body) {
    const m = await this.rpc('edit_message', { message_id: msg.id, body });
    this.addMessages(c, [m]);
  }

  async remove(c, msg) {
    const m = await this.rpc('delete_message', { message_id: msg.id });
    this.addMessages(c, [m]);
  }

  async react(c, msg, emoji) {
    const mine = (msg.reactions || []).find(r => r.user_id === this.userId);
    const next = mine?.emoji === emoji ? null : emoji;
    const before = msg.reactions;
    msg.reactions = [...(msg.reactions || []).filter(r => r.user_id !== this.userId), ...(next ? [{ user_id: this.userId, emoji: next }] : [])];
    this.emit('conv:' + c.id, { type: 'update', msgs: [msg] });
    try {
      await this.rpc('set_reaction', { message_id: msg.id, emoji: next });
    } catch (e) {
      msg.reactions = before;
      this.emit('conv:' + c.id, { type: 'update', msgs: [msg] });
      throw e;
    }
  }

  // Conversation channel: typing indicators

  openConvChannel(id) {
    const c = this.conv(id);
    if (c.channel) return c;
    c.channel = this.socket.channel(`realtime:conversation:${id}`, {
      config: { broadcast: { self: false, ack: false }, presence: { key: '', enabled: false }, private: false },
      onEvent: (event, payload) => {
        if (event !== 'broadcast' || payload.event !== 'typing') return;
        const who = payload.payload?.user_id;
        if (!who || who === this.userId) return;
        clearTimeout(c.typing.get(who));
        if (payload.payload.typing === false) c.typing.delete(who);
        else c.typing.set(who, setTimeout(() => { c.typing.delete(who); this.emit('typing:' + id); }, 6000));
        this.emit('typing:' + id);
      },
    }).join();
    return c;
  }

  closeConvChannel(c) {
    c.channel?.leave();
    c.channel = null;
    for (const timer of c.typing.values()) clearTimeout(timer);
    c.typing.clear();
  }

  typing(id, on) {
    const c = this.convs.get(id);
    if (!c?.channel) return;
    const now = Date.now();
    if (on && now - (c.typedAt || 0) < 3000) return;
    c.typedAt = on ? now : 0;
    c.channel.broadcast('typing', { typing: on });
  }

  /** Forgets a conversation that is no longer on screen (keeps memory small). */
  leaveConv(id) {
    const c = this.convs.get(id);
    if (!c) return;
    this.closeConvChannel(c);
    if (![...c.pending.values()].length) this.convs.delete(id);
  }
}
