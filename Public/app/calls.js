// Calls: the signalling client for /calls/v1/ws (../shared/specs/calls-protocol.md) and the
// 1:1 call controller. One socket per signed-in account (in one tab of the browser at a time):
// HELLO/AUTH with the session's access token (again after each refresh), numbered frames,
// an ACK for every request with retries under the same msgId, heartbeats, reconnection with
// resume (replayed frames are de-duplicated by seq). The controller rings, answers and runs the
// RTCPeerConnection (the caller offers; after a drop the caller restarts ICE). Screens are in
// views/call.js, loaded when a call starts or arrives.
import * as store from './store.js';
import { uuid } from './util.js';
import { t } from './i18n.js';

const ACK_TIMEOUT_MS = 8000;
const MAX_ATTEMPTS = 4;
const BACKOFF = [300, 1000, 2000, 4000, 8000, 15000, 30000];
const RING_MS = 30000; // the caller gives up after this
const INCOMING_MAX_MS = 45000; // an invite nobody cancelled stops ringing after this
const PEER_GONE_MS = 20000; // a peer that dropped and has not come back: the call ends
const BUSY_FRESH_MS = 12000;
const SETUP_MS = 20000; // an outgoing call that is not ringing by then failed
const CONNECT_MS = 30000; // an answered call whose media does not connect by then failed
const LOST_MS = 45000; // media that stays down this long after a drop: the call failed
const RESTART_GAP_MS = 5000; // at most one ICE restart this often
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
    this.url = url;
    this.userId = userId;
    this.hooks = hooks;
    this.deviceId = Signal.deviceId(userId);
    this.ws = null;
    this.state = 'stopped';
    this.seq = 0; // our frames, strictly increasing across connections
    this.lastServerSeq = 0;
    this.resumeToken = null;
    this.heartbeatSec = 25;
    this.pending = new Map(); // msgId → request
    this.attempt = 0;
    this.authedToken = null;
    this.kick = () => { if (this.state === 'offline') this.reconnectNow(); };
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
    this.setState('offline');
    addEventListener('online', this.kick);
    this.open();
  }

  stop() {
    removeEventListener('online', this.kick);
    clearTimeout(this.retryTimer);
    const ws = this.ws;
    this.down(ws);
    try { ws?.close(1000, 'bye'); } catch { /* ignore */ }
    for (const r of this.pending.values()) this.settle(r, new CallsError('STOPPED', 'calls stopped'));
    this.resumeToken = null;
    this.setState('stopped');
  }

  setState(s) {
    if (this.state === s) return;
    this.state = s;
    this.hooks.onState?.(s);
  }

  open() {
    if (this.ws || this.state === 'stopped' || this.state === 'replaced') return;
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.retry();
      return;
    }
    this.ws = ws;
    this.setState('connecting');
    ws.onopen = () => { if (this.ws === ws) this.hello(ws); };
    ws.onmessage = e => { if (this.ws === ws) this.receive(e.data); };
    ws.onclose = e => {
      if (this.ws !== ws) return;
      this.down(ws);
      this.closed(e.code);
    };
    ws.onerror = () => {};
  }

  /** Forgets a connection at once (a dead socket may take long to report its close). */
  down(ws) {
    if (!ws || this.ws !== ws) return;
    ws.onopen = ws.onmessage = ws.onclose = null;
    this.ws = null;
    clearInterval(this.hbTimer);
    for (const r of [...this.pending.values()]) {
      clearTimeout(r.timer);
      r.sent = false;
      if (r.conn) this.settle(r, new CallsError('DISCONNECTED', 'the connection dropped'));
    }
    if (this.state !== 'stopped' && this.state !== 'replaced') this.setState('offline');
  }

  closed(code) {
    if (code === CLOSE.replaced) {
      // Another window took this device over: stay quiet until asked again.
      this.resumeToken = null;
      this.setState('replaced');
      return;
    }
    if (code === CLOSE.tokenExpired) {
      this.resumeToken = null;
      this.hooks.refreshToken?.().catch(() => {}).finally(() => this.retry());
      return;
    }
    if (code === CLOSE.rateLimited) this.attempt = Math.max(this.attempt, BACKOFF.length - 1);
    this.retry();
  }

  retry() {
    if (this.state === 'stopped' || this.state === 'replaced') return;
    clearTimeout(this.retryTimer);
    const base = BACKOFF[Math.min(this.attempt++, BACKOFF.length - 1)];
    this.retryTimer = setTimeout(() => this.open(), base * (0.75 + Math.random() * 0.5));
  }

  reconnectNow() {
    clearTimeout(this.retryTimer);
    const ws = this.ws;
    if (ws) {
      this.down(ws);
      try { ws.close(4000, 'reconnect'); } catch { /* ignore */ }
    }
    if (this.state === 'replaced') this.setState('offline');
    this.open();
  }

  /** Treats the current connection as dead (no ACK in time) and reconnects with resume. */
  dead() {
    const ws = this.ws;
    if (!ws) return;
    this.down(ws);
    try { ws.close(4000, 'no ack'); } catch { /* ignore */ }
    this.retry();
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
      if (this.ws !== ws) return;
      if (e.code === 'UNAUTHORIZED') {
        // This device id belongs to another user (shared browser): take a new one.
        this.deviceId = Signal.deviceId(this.userId, true);
        this.resumeToken = null;
      }
      this.dead();
      return;
    }
    if (this.ws !== ws) return;
    this.attempt = 0;
    this.setState('ready');
    this.hooks.onReady?.({ resumed });
    this.startHeartbeat(ws);
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
    if (this.state !== 'ready' || token === this.authedToken) return;
    this.request('AUTH', { accessToken: token }, { conn: true })
      .then(() => { this.authedToken = token; })
      .catch(() => {});
  }

  startHeartbeat(ws) {
    clearInterval(this.hbTimer);
    const every = Math.max(2, Math.min(this.heartbeatSec, 60)) * 500;
    this.hbTimer = setInterval(() => {
      if (this.ws !== ws) return clearInterval(this.hbTimer);
      if (Date.now() - (this.lastSent || 0) < every) return;
      this.request('PING', {}, { conn: true, attempts: 1 }).catch(() => {});
    }, every);
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
      if (conn && !this.ws) return reject(new CallsError('DISCONNECTED', 'not connected'));
      this.pending.set(r.msgId, r);
      if (conn || this.state === 'ready') this.transmit(r);
    });
  }

  transmit(r) {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      if (r.conn) this.settle(r, new CallsError('DISCONNECTED', 'not connected'));
      return;
    }
    r.tries++;
    r.sent = true;
    const frame = { v: 1, type: r.type, msgId: r.msgId, ts: Date.now(), seq: ++this.seq, payload: r.payload };
    try {
      ws.send(JSON.stringify(frame));
    } catch {
      r.sent = false;
      return;
    }
    this.lastSent = Date.now();
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
        if (Date.now() - (this.lastSent || 0) > 5000) this.request('PING', {}, { conn: true, attempts: 1 }).catch(() => {});
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

// ---------------------------------------------------------------------------------------------
// Calls of one account

/**
 * The call controller of a Session. `call` is the call on screen (outgoing, being answered,
 * active or just ended); `ringing` holds invites not answered yet. Changes are announced with
 * the session event 'call'. Only the tab holding the account's lock keeps the socket (the
 * server allows one socket per device); a tab the user returns to takes it over unless a call
 * is going on in the other.
 */
export class Calls {
  constructor(session, url) {
    this.s = session;
    this.userId = session.userId;
    this.call = null;
    this.ringing = new Map(); // callId → incoming call
    this.leader = false;
    this.signal = new Signal(url, session.userId, {
      getToken: async () => { await session.api.ready(); return session.api.token; },
      refreshToken: () => session.api.refresh(),
      onFrame: f => this.frame(f),
      onReady: r => this.ready(r),
      onState: () => this.changed(),
    });
    this.onFocus = () => this.claim();
  }

  start() {
    this.lockName = 'eco-calls-' + this.userId;
    addEventListener('focus', this.onFocus);
    document.addEventListener('visibilitychange', this.onFocus);
    this.follow();
  }

  destroy() {
    this.destroyed = true;
    removeEventListener('focus', this.onFocus);
    document.removeEventListener('visibilitychange', this.onFocus);
    if (this.call && this.call.state !== 'ended') this.hangup();
    for (const c of this.ringing.values()) this.clearRinging(c);
    this.ringing.clear();
    this.lockAbort?.abort();
    this.resign();
    this.signal.stop();
    this.closeUI?.();
  }

  // Leadership: one tab per browser and account holds the socket.

  follow(steal = false) {
    if (this.destroyed) return;
    if (!navigator.locks?.request) { this.lead(); return; }
    this.lockAbort?.abort();
    const abort = new AbortController();
    this.lockAbort = abort;
    navigator.locks.request(this.lockName, steal ? { steal: true } : { signal: abort.signal }, () => new Promise(release => {
      this.release = release;
      this.lead();
    })).catch(() => {
      // Stolen by another tab, or our wait was cancelled for a steal.
      if (this.lockAbort !== abort || this.destroyed) return;
      this.resign();
      this.signal.stop();
      this.changed();
      this.follow();
    });
  }

  lead() {
    if (this.destroyed) return;
    this.leader = true;
    this.signal.start();
    this.changed();
  }

  resign() {
    this.leader = false;
    this.release?.();
    this.release = null;
    clearInterval(this.busyTimer);
  }

  /** Takes the socket over from another tab unless that tab is in a call. */
  claim() {
    if (this.destroyed || document.visibilityState !== 'visible') return false;
    if (this.leader) {
      // Without Web Locks another tab may have taken the device over (close 4009): take it back.
      if (this.signal.state === 'replaced' && !(Date.now() - store.userGet(this.userId, 'callBusy', 0) < BUSY_FRESH_MS)) this.signal.reconnectNow();
      return false;
    }
    if (Date.now() - store.userGet(this.userId, 'callBusy', 0) < BUSY_FRESH_MS) return false;
    this.follow(true);
    return true;
  }

  markBusy(on) {
    clearInterval(this.busyTimer);
    if (!on) { store.userSet(this.userId, 'callBusy', null); return; }
    store.userSet(this.userId, 'callBusy', Date.now());
    this.busyTimer = setInterval(() => store.userSet(this.userId, 'callBusy', Date.now()), 4000);
  }

  get signalState() {
    return this.leader ? this.signal.state : 'standby';
  }

  changed() {
    if (this.destroyed) return;
    this.s.emit('call', this.current());
    if (this.current() && !this.uiLoading && !this.closeUI) {
      this.uiLoading = true;
      import('./views/call.js').then(m => {
        this.uiLoading = false;
        if (!this.destroyed) this.closeUI = m.mountCallUI(this.s, this, () => { this.closeUI = null; });
      }).catch(e => { this.uiLoading = false; console.error(e); });
    }
  }

  /** The call to show: the own call, else the first ringing invite (before a call that just ended). */
  current() {
    const ringing = this.ringing.values().next().value;
    if (this.call && (this.call.state !== 'ended' || !ringing)) return this.call;
    return ringing || null;
  }

  busy() {
    return !!this.call && this.call.state !== 'ended';
  }

  // Placing a call

  /** Calls `peer` (a profile with id) from the DM `conversationId`. */
  async dial(peer, conversationId, callType) {
    if (this.busy()) throw new CallsError('BUSY', t('callInProgress'));
    if (!this.leader && !this.claim()) throw new CallsError('OTHER_TAB', t('callBusyElsewhere'));
    const c = newCall({ dir: 'out', type: callType, peerId: peer.id, peer, conversationId, state: 'outgoing' });
    this.call = c;
    this.markBusy(true);
    this.changed();
    c.setupTimer = setTimeout(() => { if (c.state === 'outgoing') this.finish(c, 'failed'); }, SETUP_MS);
    try {
      c.local = await getMedia(callType === 'video');
      if (c.state === 'ended') return stopStream(c.local);
      this.changed();
      const room = await this.signal.request('ROOM_CREATE', { allowedUserIds: [peer.id], mode: 'p2p', conversationId });
      Object.assign(c, { id: room.callId, roomId: room.roomId, joinToken: room.joinToken });
      if (c.state === 'ended') return;
      await this.join(c);
      if (c.state === 'ended') return;
      const ack = await this.signal.request('call.invite', {
        to: peer.id, callId: c.id, callType, roomId: c.roomId, joinToken: c.joinToken, conversationId,
      });
      if (c.state !== 'outgoing') return;
      if (!ack.delivered) return this.finish(c, 'unavailable', { missed: true });
      c.state = 'ringing';
      c.ringTimer = setTimeout(() => this.noAnswer(c), RING_MS);
      this.changed();
    } catch (e) {
      if (c.state === 'ended') return;
      const reason = !(e instanceof CallsError) ? 'media' : e.code === 'UNAUTHORIZED' ? 'blocked' : 'failed';
      this.finish(c, reason, { missed: false });
    }
  }

  noAnswer(c) {
    if (this.call !== c || c.state !== 'ringing') return;
    this.signal.request('call.cancel', { to: c.peerId, callId: c.id, reason: 'timeout' }).catch(() => {});
    this.finish(c, 'noAnswer', { missed: true });
  }

  // Answering

  incoming(f) {
    const p = f.payload || {};
    if (!p.callId || !p.roomId || !p.joinToken || !f.from?.userId) return;
    if (this.ringing.has(p.callId) || this.call?.id === p.callId) return;
    if (this.busy()) {
      this.signal.request('call.decline', { to: f.from.userId, callId: p.callId, toDevice: f.from.deviceId, reason: 'busy' }).catch(() => {});
      return;
    }
    const c = newCall({
      dir: 'in', id: p.callId, type: p.callType === 'audio' ? 'audio' : 'video', peerId: f.from.userId,
      conversationId: p.conversationId || null, roomId: p.roomId, joinToken: p.joinToken, state: 'incoming', from: f.from,
    });
    c.peer = this.knownProfile(c.peerId, c.conversationId);
    if (!c.peer) this.s.rpc('get_profile', { user_id: c.peerId }).then(pr => { c.peer = pr; this.changed(); }).catch(() => {});
    c.ringTimer = setTimeout(() => this.stopRinging(c, 'missed'), INCOMING_MAX_MS);
    this.ringing.set(c.id, c);
    this.changed();
  }

  knownProfile(userId, conversationId) {
    const item = conversationId && this.s.item(conversationId);
    const fromItem = item?.participants?.find(p => p.id === userId);
    if (fromItem) return fromItem;
    for (const it of this.s.inbox.items) {
      const p = it.participants?.find(x => x.id === userId);
      if (p) return p;
    }
    return null;
  }

  clearRinging(c) {
    clearTimeout(c.ringTimer);
  }

  stopRinging(c, reason) {
    if (!this.ringing.has(c.id)) return;
    this.clearRinging(c);
    this.ringing.delete(c.id);
    c.state = 'ended';
    c.reason = reason;
    this.changed();
  }

  async accept(c, withVideo) {
    if (c.state !== 'incoming' || this.busy()) return;
    this.clearRinging(c);
    this.ringing.delete(c.id);
    for (const other of [...this.ringing.values()]) this.decline(other, 'busy');
    this.call = c;
    c.state = 'connecting';
    c.video = withVideo;
    this.markBusy(true);
    this.changed();
    try {
      c.local = await getMedia(withVideo && c.type === 'video');
      if (c.state === 'ended') return stopStream(c.local);
      await this.join(c);
      if (c.state === 'ended') return;
      this.armConnect(c);
      await this.signal.request('call.accept', { to: c.peerId, callId: c.id, toDevice: c.from.deviceId });
    } catch (e) {
      if (c.state === 'ended') return;
      const media = !(e instanceof CallsError);
      if (media) this.signal.request('call.decline', { to: c.peerId, callId: c.id, toDevice: c.from.deviceId, reason: 'media' }).catch(() => {});
      this.finish(c, media ? 'media' : 'failed');
    }
  }

  decline(c, reason) {
    if (c.state !== 'incoming') return;
    this.signal.request('call.decline', { to: c.peerId, callId: c.id, toDevice: c.from.deviceId, ...(reason && { reason }) }).catch(() => {});
    this.stopRinging(c, 'declinedByMe');
  }

  // Room and peer connection

  async join(c) {
    const ok = await this.roomJoin(c, false);
    if (c.state === 'ended') { this.leaveRoom(c); return; }
    c.iceServers = Array.isArray(ok?.iceServers) ? ok.iceServers : [];
    this.connect(c);
  }

  /** An answered call must connect its media in time. */
  armConnect(c) {
    clearTimeout(c.connectTimer);
    c.connectTimer = setTimeout(() => { if (!c.connectedAt && c.state !== 'ended') this.finish(c, 'failed'); }, CONNECT_MS);
  }

  /** ROOM_JOIN; the response frame (with iceServers) comes before the ACK. */
  roomJoin(c, urgent) {
    c.joinOk = null;
    return this.signal.request('ROOM_JOIN', { roomId: c.roomId, joinToken: c.joinToken }, { urgent }).then(() => c.joinOk);
  }

  connect(c) {
    const pc = new RTCPeerConnection({ iceServers: c.iceServers, bundlePolicy: 'max-bundle' });
    c.pc = pc;
    c.remoteStream = new MediaStream();
    if (c.dir === 'out') {
      for (const track of c.local.getTracks()) pc.addTrack(track, c.local);
      // No camera here: still receive the other side's video.
      if (c.type === 'video' && !c.local.getVideoTracks().length) pc.addTransceiver('video', { direction: 'recvonly' });
    }
    pc.onicecandidate = e => {
      if (!e.candidate || !c.remote || c.state === 'ended') return;
      this.signal.request('webrtc.ice', { roomId: c.roomId, to: c.remote, candidate: e.candidate.toJSON() }).catch(() => {});
    };
    pc.ontrack = e => {
      if (!c.remoteStream.getTracks().includes(e.track)) c.remoteStream.addTrack(e.track);
      e.track.onunmute = () => this.changed();
      this.changed();
    };
    pc.onconnectionstatechange = () => this.pcState(c);
    pc.oniceconnectionstatechange = () => this.pcState(c);
    for (const f of c.early.splice(0)) this.negotiation(c, f);
  }

  pcState(c) {
    if (this.call !== c || c.state === 'ended') return;
    const st = c.pc.connectionState;
    const ice = c.pc.iceConnectionState;
    c.ice = ice;
    if (st === 'connected' || ice === 'connected' || ice === 'completed') {
      clearTimeout(c.iceTimer);
      clearTimeout(c.lostTimer);
      c.lostTimer = 0;
      if (!c.connectedAt) c.connectedAt = Date.now();
      c.state = 'active';
    } else if (st === 'failed' || ice === 'failed' || ice === 'disconnected') {
      if (c.connectedAt) {
        c.state = 'reconnecting';
        if (!c.lostTimer) c.lostTimer = setTimeout(() => this.finish(c, 'failed'), LOST_MS);
      }
      clearTimeout(c.iceTimer);
      if (!c.connectedAt && c.restarts >= 3) { this.finish(c, 'failed'); return; }
      // The caller restarts ICE: soon when it failed, after a moment when it is only disconnected.
      if (c.dir === 'out') c.iceTimer = setTimeout(() => this.restartIce(c), ice === 'failed' || st === 'failed' ? 0 : 2500);
    }
    this.changed();
  }

  /** Caller: a (new) offer to the callee's device; with iceRestart after a drop. */
  offer(c, iceRestart) {
    c.chain = c.chain.then(async () => {
      if (c.state === 'ended' || !c.remote) return;
      const desc = await c.pc.createOffer(iceRestart ? { iceRestart: true } : undefined);
      await c.pc.setLocalDescription(desc);
      if (iceRestart) c.restarts++;
      await this.signal.request('webrtc.offer', { roomId: c.roomId, to: c.remote, sdp: c.pc.localDescription.sdp, ...(iceRestart && { iceRestart: true }) });
    }).catch(e => console.warn('calls: offer failed', e));
  }

  /** Caller: ICE restart (an offer with new credentials); a later ready() retries while offline. */
  restartIce(c) {
    if (this.call !== c || c.state === 'ended' || c.dir !== 'out' || !c.offered) return;
    if (this.signal.state !== 'ready') return;
    const wait = (c.lastRestart || 0) + RESTART_GAP_MS - Date.now();
    clearTimeout(c.iceTimer);
    if (wait > 0) { c.iceTimer = setTimeout(() => this.restartIce(c), wait); return; }
    c.lastRestart = Date.now();
    this.offer(c, true);
  }

  negotiation(c, f) {
    if (!c.pc) { c.early.push(f); return; }
    const p = f.payload || {};
    if (f.type === 'webrtc.offer' && c.dir === 'in') {
      c.remote = { userId: f.from.userId, deviceId: f.from.deviceId };
      c.chain = c.chain.then(async () => {
        if (c.state === 'ended') return;
        await c.pc.setRemoteDescription({ type: 'offer', sdp: p.sdp });
        if (!c.tracksAdded) {
          c.tracksAdded = true;
          for (const track of c.local.getTracks()) c.pc.addTrack(track, c.local);
        }
        await c.pc.setLocalDescription(await c.pc.createAnswer());
        await this.addCandidates(c);
        if (p.iceRestart) c.restarts++;
        await this.signal.request('webrtc.answer', { roomId: c.roomId, to: c.remote, sdp: c.pc.localDescription.sdp });
      }).catch(e => console.warn('calls: answer failed', e));
    } else if (f.type === 'webrtc.answer' && c.dir === 'out') {
      c.chain = c.chain.then(async () => {
        if (c.state === 'ended' || c.pc.signalingState !== 'have-local-offer') return;
        await c.pc.setRemoteDescription({ type: 'answer', sdp: p.sdp });
        await this.addCandidates(c);
      }).catch(e => console.warn('calls: answer not applied', e));
    } else if (f.type === 'webrtc.ice' && p.candidate) {
      c.candidates.push(p.candidate);
      c.chain = c.chain.then(() => this.addCandidates(c));
    }
  }

  async addCandidates(c) {
    if (!c.pc.remoteDescription) return;
    for (const cand of c.candidates.splice(0)) {
      try { await c.pc.addIceCandidate(cand); } catch (e) { console.warn('calls: bad candidate', e); }
    }
  }

  // Ending

  /** Hangs up (or cancels while ringing) the own call. */
  hangup() {
    const c = this.call;
    if (!c || c.state === 'ended') return;
    const ringing = c.dir === 'out' && !c.answered;
    if (c.id) {
      if (ringing) this.signal.request('call.cancel', { to: c.peerId, callId: c.id }).catch(() => {});
      else this.signal.request('call.hangup', { to: c.peerId, callId: c.id, ...(c.remote && { toDevice: c.remote.deviceId }) }).catch(() => {});
    }
    this.finish(c, ringing ? 'cancelled' : 'hungUp', { missed: ringing && !!c.id });
  }

  /** Ends a call: media, peer connection and room; the caller notes an unanswered call in the chat. */
  finish(c, reason, { missed = false } = {}) {
    if (c.state === 'ended') return;
    const wasConnected = !!c.connectedAt;
    c.state = 'ended';
    c.reason = reason;
    c.endedAt = Date.now();
    for (const timer of [c.ringTimer, c.iceTimer, c.goneTimer, c.setupTimer, c.connectTimer, c.lostTimer]) clearTimeout(timer);
    stopStream(c.local);
    try { c.pc?.close(); } catch { /* ignore */ }
    if (c.roomId && c.joined) this.leaveRoom(c);
    this.markBusy(false);
    if (missed && c.dir === 'out' && !wasConnected && c.conversationId) {
      try { this.s.send(c.conversationId, t(c.type === 'video' ? 'missedVideoCall' : 'missedAudioCall')); } catch (e) { console.warn(e); }
    }
    this.changed();
  }

  leaveRoom(c) {
    c.joined = false;
    this.signal.request('ROOM_LEAVE', { roomId: c.roomId }).catch(() => {});
  }

  /** The ended call leaves the screen. */
  dismiss(c) {
    if (this.call === c && c.state === 'ended') this.call = null;
    this.changed();
  }

  // Media controls

  setMuted(on) {
    const c = this.call;
    if (!c?.local) return;
    c.muted = on;
    for (const track of c.local.getAudioTracks()) track.enabled = !on;
    this.changed();
  }

  setCameraOff(on) {
    const c = this.call;
    if (!c?.local) return;
    c.cameraOff = on;
    for (const track of c.local.getVideoTracks()) track.enabled = !on;
    this.changed();
  }

  // Signalling events

  ready({ resumed }) {
    const c = this.call;
    if (!c || c.state === 'ended' || !c.roomId || !c.joined) { this.changed(); return; }
    if (!resumed) {
      // The server forgot this device (grace over): join the room again with the same token.
      this.roomJoin(c, true).then(() => {
        if (c.dir === 'out' && c.offered) this.restartIce(c);
      }).catch(() => this.finish(c, 'failed'));
    } else if (c.dir === 'out' && c.offered) {
      // Back after a drop: the network may have changed under the media too.
      this.restartIce(c);
    }
    this.changed();
  }

  frame(f) {
    const p = f.payload || {};
    const c = this.call;
    const mine = f.from?.userId === this.userId;
    switch (f.type) {
      case 'call.invite':
        if (!mine) this.incoming(f);
        return;
      case 'call.accept': case 'call.decline': {
        if (mine) {
          // Answered or declined on another of my devices.
          const r = this.ringing.get(p.callId);
          if (r) this.stopRinging(r, f.type === 'call.accept' ? 'answeredElsewhere' : 'declinedElsewhere');
          return;
        }
        if (!c || c.id !== p.callId || c.dir !== 'out' || c.state === 'ended') return;
        if (f.type === 'call.decline') {
          if (c.answered) return;
          this.finish(c, p.reason === 'busy' ? 'busy' : 'declined', { missed: true });
          return;
        }
        c.answered = true;
        c.answeredBy = f.from;
        clearTimeout(c.ringTimer);
        if (c.state === 'ringing' || c.state === 'outgoing') c.state = 'connecting';
        this.changed();
        return;
      }
      case 'call.cancel': {
        const r = this.ringing.get(p.callId);
        if (r) this.stopRinging(r, 'missed');
        else if (c && c.id === p.callId && c.dir === 'in' && !c.connectedAt) this.finish(c, 'cancelled');
        return;
      }
      case 'call.hangup':
        if (c && c.id === p.callId && !mine) this.finish(c, 'remoteHungUp');
        return;
      case 'ROOM_JOIN_OK':
        if (c && c.roomId === p.roomId) { c.joinOk = p; c.joined = true; }
        return;
      case 'PEER_JOINED':
        if (!c || c.roomId !== p.roomId || p.userId !== c.peerId || c.state === 'ended') return;
        clearTimeout(c.goneTimer);
        if (c.dir === 'out') {
          const again = c.offered && c.remote?.deviceId === p.deviceId;
          if (c.offered && !again) return; // another device of the callee: the call is already taken
          c.remote = { userId: p.userId, deviceId: p.deviceId };
          c.offered = true;
          if (c.state === 'ringing' || c.state === 'outgoing') c.state = 'connecting';
          clearTimeout(c.ringTimer);
          c.answered = true;
          if (!again) this.armConnect(c);
          this.offer(c, again);
          this.changed();
        }
        return;
      case 'PEER_LEFT':
        if (!c || c.roomId !== p.roomId || p.userId !== c.peerId || c.state === 'ended') return;
        if (c.remote && c.remote.deviceId !== p.deviceId) return;
        if (p.reason !== 'left') {
          // Gone without a goodbye (dropped, or its session was replaced): wait for it to come back.
          c.state = c.connectedAt ? 'reconnecting' : c.state;
          clearTimeout(c.goneTimer);
          c.goneTimer = setTimeout(() => this.finish(c, 'failed'), PEER_GONE_MS);
          this.changed();
        } else if (c.answered || c.dir === 'in') {
          this.finish(c, 'remoteHungUp');
        }
        return;
      case 'webrtc.offer': case 'webrtc.answer': case 'webrtc.ice':
        if (!c || c.roomId !== p.roomId || c.state === 'ended' || f.from?.userId !== c.peerId) return;
        if (c.remote && f.type !== 'webrtc.offer' && f.from.deviceId !== c.remote.deviceId) return;
        this.negotiation(c, f);
        return;
      default:
    }
  }
}

function newCall(fields) {
  return {
    id: null, dir: 'out', type: 'video', peerId: null, peer: null, conversationId: null, roomId: null, joinToken: null,
    state: 'outgoing', reason: null, remote: null, from: null, local: null, remoteStream: null, pc: null, iceServers: [],
    muted: false, cameraOff: false, connectedAt: 0, endedAt: 0, restarts: 0, ice: 'new', early: [], candidates: [],
    chain: Promise.resolve(), offered: false, answered: false, joined: false, tracksAdded: false,
    ...fields,
  };
}

/** Microphone, and the camera for video calls (audio only when there is no camera). */
async function getMedia(video) {
  if (!navigator.mediaDevices?.getUserMedia) throw Object.assign(new Error('no media devices'), { name: 'NotFoundError' });
  try {
    return await navigator.mediaDevices.getUserMedia({ audio: true, video: video ? { width: { ideal: 1280 }, height: { ideal: 720 } } : false });
  } catch (e) {
    if (!video || e.name === 'NotAllowedError') throw e;
    return navigator.mediaDevices.getUserMedia({ audio: true, video: false });
  }
}

function stopStream(stream) {
  for (const track of stream?.getTracks() || []) track.stop();
}
