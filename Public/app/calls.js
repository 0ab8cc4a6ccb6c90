// The 1:1 call controller of a Session: rings, answers, hangs up and runs the call's state
// (outgoing → ringing → connecting → active ⇄ reconnecting → ended; incoming invites wait in
// `ringing`). It never touches the page: every change is the session event 'call' (the call
// to show, see current()), and the shell mounts the call screen (views/call.js) on it.
// Signalling is calls-signal.js, media and the peer connection calls-peer.js, which tab holds
// the socket calls-tab.js. Group calls (an sfu room per call) are sfu-call.js, loaded when the
// first one starts or rings: `group` is the group call on screen (views/group-call.js).
import { t } from './i18n.js';
import { Signal, CallsError } from './calls-signal.js';
import { connectPeer, offer, restartIce, negotiate, getMedia, stopStream } from './calls-peer.js';
import { TabLeadership } from './calls-tab.js';
import { upgradeCall, moveToGroup } from './calls-upgrade.js';

const RING_MS = 30000; // the caller gives up after this
const INCOMING_MAX_MS = 45000; // an invite nobody cancelled stops ringing after this
const PEER_GONE_MS = 20000; // a peer that dropped and has not come back: the call ends
const SETUP_MS = 20000; // an outgoing call that is not ringing by then failed
const CONNECT_MS = 30000; // an answered call whose media does not connect by then failed

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
    this.group = null; // the group call (sfu-call.js GroupCall), while on screen
    this.signal = new Signal(url, session.userId, {
      getToken: async () => { await session.api.ready(); return session.api.token; },
      refreshToken: () => session.api.refresh(),
      onFrame: f => this.frame(f),
      onReady: r => this.ready(r),
      onState: () => this.changed(),
    });
    this.tab = new TabLeadership(session.userId, {
      onLead: () => { this.signal.start(); this.changed(); },
      onLost: () => { this.signal.stop(); this.changed(); },
    });
    this.onFocus = () => this.claim();
  }

  /** Whether this tab holds the account's calls socket. */
  get leader() {
    return this.tab.leader;
  }

  start() {
    addEventListener('focus', this.onFocus);
    document.addEventListener('visibilitychange', this.onFocus);
    this.tab.follow();
  }

  destroy() {
    this.destroyed = true;
    removeEventListener('focus', this.onFocus);
    document.removeEventListener('visibilitychange', this.onFocus);
    if (this.call && this.call.state !== 'ended') this.hangup();
    this.group?.leave();
    for (const c of this.ringing.values()) clearTimeout(c.ringTimer);
    this.ringing.clear();
    this.tab.destroy();
    this.signal.stop();
    // The last word: the call screen closes on it (destroyed, nothing to show).
    this.s.emit('call', null);
  }

  /** Takes the socket over from another tab unless that tab is in a call. */
  claim() {
    if (this.destroyed || document.visibilityState !== 'visible') return false;
    if (this.leader) {
      // Without Web Locks another tab may have taken the device over (close 4009): take it back.
      if (this.signal.state === 'replaced' && !this.tab.busyElsewhere()) this.signal.reconnectNow();
      return false;
    }
    if (this.tab.busyElsewhere()) return false;
    this.tab.follow(true);
    return true;
  }

  /** The signalling state for the screen: the Signal's, or 'standby' in a tab without the socket. */
  get signalState() {
    return this.leader ? this.signal.state : 'standby';
  }

  changed() {
    if (this.destroyed) return;
    this.s.emit('call', this.current());
  }

  /** The call to show: the own call, else the first ringing invite (before a call that just ended). */
  current() {
    const ringing = this.ringing.values().next().value;
    if (this.call && (this.call.state !== 'ended' || !ringing)) return this.call;
    return ringing || null;
  }

  busy() {
    return (!!this.call && this.call.state !== 'ended') || (!!this.group && !this.group.ended);
  }

  // Group calls

  /** Starts a group call in the group `item` (an inbox item) and rings its members. */
  async startGroup(item) {
    if (this.busy()) throw new CallsError('BUSY', t('callInProgress'));
    if (!this.leader && !this.claim()) throw new CallsError('OTHER_TAB', t('callBusyElsewhere'));
    const { GroupCall } = await import('./sfu-call.js');
    if (this.busy()) return;
    const memberIds = (item.participants || []).map(p => p.id).filter(id => id && id !== this.userId);
    this.openGroup(new GroupCall(this, { conversationId: item.conversation_id, title: item.title || '', memberIds, host: true }));
  }

  /** Joins the group call of an accepted invite `c` (stops its ringing on this user's other devices). */
  async joinGroup(c) {
    const { GroupCall } = await import('./sfu-call.js');
    if (this.busy()) return;
    const item = c.conversationId && this.s.item(c.conversationId);
    const memberIds = (item?.participants || []).map(p => p.id).filter(id => id && id !== this.userId);
    this.signal.request('call.accept', { to: c.peerId, callId: c.id, toDevice: c.from.deviceId }).catch(() => {});
    this.openGroup(new GroupCall(this, {
      conversationId: c.conversationId, title: c.groupTitle || '', memberIds, host: false, hostId: c.peerId,
      roomId: c.roomId, joinToken: c.joinToken, callId: c.id,
    }));
  }

  openGroup(g) {
    this.group = g;
    this.tab.markBusy(true);
    this.changed();
    g.start();
  }

  /** The group call ended: it stays on screen `keepMs` (why it ended), then goes. */
  groupEnded(g, keepMs) {
    this.tab.markBusy(false);
    clearTimeout(this.groupTimer);
    const drop = () => { if (this.group === g) { this.group = null; this.changed(); } };
    if (keepMs) { this.changed(); this.groupTimer = setTimeout(drop, keepMs); } else drop();
  }

  /** Adds people to the active 1:1 call: it becomes a group call (calls-upgrade.js). */
  async addPeople(userIds) {
    const c = this.call;
    if (!c || c.state !== 'active' || !c.roomId) throw new CallsError('NOT_ACTIVE', t('callAddErr_NOT_ACTIVE'));
    await upgradeCall(this, c, userIds);
  }

  // Placing a call

  /** Calls `peer` (a profile with id) from the DM `conversationId`. */
  async dial(peer, conversationId, callType) {
    if (this.busy()) throw new CallsError('BUSY', t('callInProgress'));
    if (!this.leader && !this.claim()) throw new CallsError('OTHER_TAB', t('callBusyElsewhere'));
    const c = newCall({ dir: 'out', type: callType, peerId: peer.id, peer, conversationId, state: 'outgoing' });
    this.call = c;
    this.tab.markBusy(true);
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
      if (!ack.delivered) return this.finish(c, 'unavailable');
      c.state = 'ringing';
      c.ringTimer = setTimeout(() => this.noAnswer(c), RING_MS);
      this.changed();
    } catch (e) {
      if (c.state === 'ended') return;
      const reason = !(e instanceof CallsError) ? 'media' : e.code === 'UNAUTHORIZED' ? 'blocked' : 'failed';
      this.finish(c, reason);
    }
  }

  noAnswer(c) {
    if (this.call !== c || c.state !== 'ringing') return;
    this.signal.request('call.cancel', { to: c.peerId, callId: c.id, reason: 'timeout' }).catch(() => {});
    this.finish(c, 'noAnswer');
  }

  // Answering

  incoming(f) {
    const p = f.payload || {};
    if (!p.callId || !p.roomId || !p.joinToken || !f.from?.userId) return;
    if (this.ringing.has(p.callId) || this.call?.id === p.callId || this.group?.callId === p.callId) return;
    if (this.busy()) {
      this.signal.request('call.decline', { to: f.from.userId, callId: p.callId, toDevice: f.from.deviceId, reason: 'busy' }).catch(() => {});
      return;
    }
    const c = newCall({
      dir: 'in', id: p.callId, type: p.callType === 'audio' ? 'audio' : 'video', peerId: f.from.userId,
      conversationId: p.conversationId || null, roomId: p.roomId, joinToken: p.joinToken, state: 'incoming', from: f.from,
    });
    const item = c.conversationId && this.s.item(c.conversationId);
    // A group call's invite says mode "sfu"; older senders' invites are told by the group or the token.
    if (p.mode ? p.mode === 'sfu' : item ? item.kind === 'group' : groupToken(p.joinToken)) {
      Object.assign(c, { group: true, type: 'video', groupTitle: item?.title || '' });
      // A group this device has not heard of yet: its name from a fresh inbox.
      if (!item && c.conversationId) this.s.loadInbox(true).then(() => { c.groupTitle = this.s.item(c.conversationId)?.title || ''; this.changed(); }).catch(() => {});
    }
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

  stopRinging(c, reason) {
    if (!this.ringing.has(c.id)) return;
    clearTimeout(c.ringTimer);
    this.ringing.delete(c.id);
    c.state = 'ended';
    c.reason = reason;
    this.changed();
  }

  async accept(c, withVideo) {
    if (c.state !== 'incoming' || this.busy()) return;
    clearTimeout(c.ringTimer);
    this.ringing.delete(c.id);
    for (const other of [...this.ringing.values()]) this.decline(other, 'busy');
    if (c.group) {
      c.state = 'ended';
      c.reason = 'joined';
      this.changed();
      return this.joinGroup(c);
    }
    this.call = c;
    c.state = 'connecting';
    c.video = withVideo;
    this.tab.markBusy(true);
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

  // Room

  async join(c) {
    const ok = await this.roomJoin(c, false);
    if (c.state === 'ended') { this.leaveRoom(c); return; }
    c.iceServers = Array.isArray(ok?.iceServers) ? ok.iceServers : [];
    connectPeer(this, c);
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

  leaveRoom(c) {
    c.joined = false;
    this.signal.request('ROOM_LEAVE', { roomId: c.roomId }).catch(() => {});
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
    this.finish(c, ringing ? 'cancelled' : 'hungUp');
  }

  /**
   * Ends a call: media, peer connection and room. The chat's call event (missed, declined,
   * duration) is written by the server, not sent from here.
   */
  finish(c, reason) {
    if (c.state === 'ended') return;
    c.state = 'ended';
    c.reason = reason;
    c.endedAt = Date.now();
    for (const timer of [c.ringTimer, c.iceTimer, c.goneTimer, c.setupTimer, c.connectTimer, c.lostTimer]) clearTimeout(timer);
    stopStream(c.local);
    try { c.pc?.close(); } catch { /* ignore */ }
    if (c.roomId && c.joined) this.leaveRoom(c);
    this.tab.markBusy(false);
    this.changed();
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
    this.group?.ready({ resumed });
    const c = this.call;
    if (!c || c.state === 'ended' || !c.roomId || !c.joined) { this.changed(); return; }
    if (!resumed) {
      // The server forgot this device (grace over): join the room again with the same token.
      this.roomJoin(c, true).then(() => {
        if (c.dir === 'out' && c.offered) restartIce(this, c);
      }).catch(() => this.finish(c, 'failed'));
    } else if (c.dir === 'out' && c.offered) {
      // Back after a drop: the network may have changed under the media too.
      restartIce(this, c);
    }
    this.changed();
  }

  frame(f) {
    const p = f.payload || {};
    const c = this.call;
    const mine = f.from?.userId === this.userId;
    if (this.group && f.type !== 'call.invite' && this.group.frame(f)) return;
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
          this.finish(c, p.reason === 'busy' ? 'busy' : 'declined');
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
      case 'ROOM_UPGRADED':
        // This 1:1 call became a group call (added people here, or on the other side: `from`).
        if (c && c.roomId === p.fromRoomId) moveToGroup(this, c, p, f.from && !mine ? f.from : null).catch(e => console.error(e));
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
          offer(this, c, again);
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
        negotiate(this, c, f);
        return;
      default:
    }
  }
}

/** Whether an invite's join token admits more than two people (a group call whose chat is not in the inbox yet). */
function groupToken(token) {
  try {
    const body = String(token || '').split('.')[0].replace(/-/g, '+').replace(/_/g, '/');
    return (JSON.parse(atob(body)).users || []).length > 2;
  } catch {
    return false;
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
