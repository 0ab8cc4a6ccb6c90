// A group call through the SFU (spec sfu-janus.md §2, docs/sfu.md): the room (ROOM_CREATE
// mode "sfu", ROOM_JOIN), ringing the group's members, publishing the microphone, camera and
// screen, subscribing to everyone else, mute and camera toggles, leaving and ending for all,
// PUBLISHERS_FULL (watching until someone stops) and recovery (sfu.interrupted → sfu.restart
// with a new epoch). It never touches the page: the screen (views/group-call.js) reads its
// fields and listens with on(). The people are sfu-tiles.js, the PeerConnections
// sfu-peer.js; the socket is the Calls' Signal.
import { CallsError } from './calls-signal.js';
import { getMedia, stopStream } from './calls-peer.js';
import { Publisher, Subscriber } from './sfu-peer.js';
import { Roster, grade } from './sfu-tiles.js';

const STATS_MS = 2000;
const SLOW_MS = 10000; // an sfu.connection "slow" counts this long
const RETRY_PUBLISH_MS = 15000; // PUBLISHERS_FULL: try again this often (and when someone unpublishes)
const ENDED_KEEP_MS = 3000;
const NEW_STREAMS_MS = 600; // a feed's new stream (a screen) is subscribed this long after it is announced
const TOKEN_RETRY_MS = 30000; // a failed join-token refresh is tried again after this

export class GroupCall {
  /**
   * `calls`: the Calls controller (signal, knownProfile, session). fields: conversationId,
   * title, memberIds (the other members), host (this user started it) and, when joining from
   * an invite, roomId, joinToken (tokenExpiresAt, when known), callId, hostId; ringIds: who to
   * ring instead of every member (a 1:1 call made a group call rings only the people added).
   */
  constructor(calls, fields) {
    this.calls = calls;
    this.s = calls.s;
    this.signal = calls.signal;
    this.userId = calls.userId;
    Object.assign(this, {
      conversationId: null, title: '', memberIds: [], ringIds: null, host: false, hostId: null, roomId: null, joinToken: null, callId: null,
      tokenExpiresAt: 0, // when joinToken expires (ms), when known
    }, fields);
    this.state = 'connecting'; // connecting → active ⇄ reconnecting; error; ended
    this.reason = null; // why it ended
    this.error = null; // {code, retryAfterMs, at}: the join failed
    this.notice = null; // {code}: something that did not stop the call (publishing refused …)
    this.epoch = 0;
    this.media = {}; // ROOM_JOIN_OK's sfu: {epoch, maxBitrate, simulcast, …}
    this.iceServers = [];
    this.local = null;
    this.screen = null;
    this.muted = false;
    this.cameraOff = false;
    this.noMedia = false;
    this.roster = new Roster({
      deviceId: this.signal.deviceId, userId: this.userId, changed: () => this.emit(),
      profileOf: userId => calls.knownProfile(userId, this.conversationId) || (userId ? this.s.rpc('get_profile', { user_id: userId }) : null),
    });
    this.quality = 'good';
    this.pcState = { pub: 'new', sub: 'new' };
    this.slowUntil = 0;
    this.listeners = new Set();
    this.published = null;
    this.rang = false;
    this.requested = new Set(); // "<feedId> <mid>" asked for with sfu.subscribe, not yet in an offer
    this.joined = false;
    this.pub = null;
    this.sub = null;
    this.canShare = !!navigator.mediaDevices?.getDisplayMedia;
  }

  /** The other devices' tiles (deviceId → tile), this device's own and the active speaker's device id. */
  get tiles() { return this.roster.tiles; }

  get self() { return this.roster.self; }

  get speaker() { return this.roster.speaker; }

  on(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit() {
    for (const fn of this.listeners) try { fn(this); } catch (e) { console.error(e); }
  }

  request(type, payload, opts) {
    return this.signal.request(type, payload, opts);
  }

  get ended() {
    return this.state === 'ended';
  }

  // Starting and joining

  /** Camera and microphone, then the room (created and rung when this user starts the call). */
  async start() {
    this.state = 'connecting';
    this.error = null;
    await this.capture();
    if (this.ended) return;
    if (this.host && !this.roomId) {
      try {
        const room = await this.request('ROOM_CREATE', {
          allowedUserIds: this.memberIds, mode: 'sfu', ...(this.conversationId && { conversationId: this.conversationId }),
        });
        Object.assign(this, { roomId: room.roomId, callId: room.callId, joinToken: room.joinToken, tokenExpiresAt: room.expiresAt, hostId: this.userId });
      } catch (e) {
        return this.fail(e);
      }
    }
    if (this.ended) return;
    this.startStats();
    await this.join();
  }

  /** The camera and microphone (again after an error stopped them), with the mute flags applied. */
  async capture() {
    if (this.local?.getTracks().some(track => track.readyState === 'live')) return;
    try {
      this.local = await getMedia(true);
      this.noMedia = false;
    } catch {
      this.local = null;
      this.noMedia = true; // still in the call: watching and listening
    }
    if (this.ended) { stopStream(this.local); return; }
    for (const track of this.local?.getAudioTracks() || []) track.enabled = !this.muted;
    for (const track of this.local?.getVideoTracks() || []) track.enabled = !this.cameraOff;
    this.emit();
  }

  /**
   * ROOM_JOIN (its ROOM_JOIN_OK, ROOM_SNAPSHOT and sfu.feeds come before the ACK), then media;
   * a rejoin whose media session the server took over (`sfu.resumed`, docs/sfu.md "Moving
   * between instances") keeps both PeerConnections as they are.
   */
  async join({ urgent = false } = {}) {
    if (this.ended) return;
    this.error = null;
    const rejoining = this.joined, epoch = this.epoch;
    this.state = rejoining ? 'reconnecting' : 'connecting';
    this.emit();
    try {
      this.joinOk = null;
      await this.request('ROOM_JOIN', { roomId: this.roomId, joinToken: this.joinToken }, { urgent });
    } catch (e) {
      return this.fail(e);
    }
    if (this.ended) { this.leaveRoom(); return; }
    const ok = this.joinOk || {};
    this.keepTokenFresh(this.tokenExpiresAt);
    if (rejoining && ok.sfu?.resumed && Number(ok.sfu.epoch) === epoch && this.pub && this.sub) {
      this.state = 'active';
      this.emit();
      return;
    }
    this.joined = true;
    this.media = ok.sfu || {};
    this.epoch = Number(ok.sfu?.epoch) || this.epoch || 1;
    this.iceServers = Array.isArray(ok.iceServers) ? ok.iceServers : [];
    if (this.host && !this.rang) this.ring();
    await this.connectMedia();
  }

  /**
   * Keeps the room's join token fresh while in the call (ROOM_TOKEN_REFRESH, halfway through
   * each token's life), so people rung late and a rejoin after a drop carry one that works.
   */
  keepTokenFresh(expiresAt) {
    clearTimeout(this.tokenTimer);
    const half = (Number(expiresAt) - Date.now()) / 2;
    this.tokenTimer = setTimeout(async () => {
      if (this.ended || !this.joined) return;
      try {
        const fresh = await this.request('ROOM_TOKEN_REFRESH', { roomId: this.roomId });
        if (fresh?.joinToken) {
          this.joinToken = fresh.joinToken;
          this.tokenExpiresAt = Number(fresh.expiresAt) || 0;
        }
        this.keepTokenFresh(this.tokenExpiresAt);
      } catch {
        if (!this.ended) this.keepTokenFresh(Date.now() + 2 * TOKEN_RETRY_MS);
      }
    }, Math.max(TOKEN_RETRY_MS, half || 0));
  }

  /** A join that failed: the error state (retry offered); the camera is off meanwhile. */
  fail(e) {
    if (this.ended) return;
    const code = e instanceof CallsError ? e.code : 'INTERNAL';
    this.error = { code, retryAfterMs: Number(e?.details?.retryAfterMs) || 0, at: Date.now() };
    this.state = 'error';
    this.closePeers();
    stopStream(this.local);
    this.shareScreen(false);
    this.emit();
  }

  /** Retry after an error: the room again (created again when creating it failed). */
  async retry() {
    if (this.state !== 'error') return;
    if (!this.roomId) return this.start();
    this.state = this.joined ? 'reconnecting' : 'connecting';
    this.error = null;
    this.emit();
    await this.capture();
    await this.join();
  }

  /**
   * Rings every other member (or ringIds): call.invite with the room and its token, one at a
   * time. The server takes 10 invites a minute from a connection, so in a larger group the
   * rest wait for the limit (RATE_LIMITED's retryAfterMs) instead of being refused together
   * again and again; a member who has joined meanwhile is not rung.
   */
  async ring() {
    this.rang = true;
    for (const to of this.ringIds || this.memberIds) {
      while (!this.ended && ![...this.roster.tiles.values()].some(tile => tile.userId === to)) {
        try {
          await this.request('call.invite', {
            to, callId: this.callId, callType: 'video', mode: 'sfu', roomId: this.roomId, joinToken: this.joinToken,
            ...(this.conversationId && { conversationId: this.conversationId }),
          });
          break;
        } catch (e) {
          if (e?.code !== 'RATE_LIMITED') break;
          await new Promise(resolve => setTimeout(resolve, Math.max(1000, Number(e.details?.retryAfterMs) || 6000)));
        }
      }
    }
  }

  /** Publish, then subscribe to everyone (spec §2.3 "Client recovery", also the first time). */
  async connectMedia() {
    this.closePeers();
    this.requested.clear();
    this.pub = new Publisher(this);
    this.sub = new Subscriber(this);
    const epoch = this.epoch;
    await this.publish();
    if (this.ended || epoch !== this.epoch) return;
    try {
      await this.request('sfu.subscribe', { roomId: this.roomId, epoch, all: true });
    } catch (e) {
      this.problem(e);
    }
    if (this.ended || epoch !== this.epoch) return;
    if (this.state === 'connecting' || this.state === 'reconnecting') this.state = 'active';
    this.emit();
  }

  async publish(opts) {
    if (this.noMedia && !this.screen) return;
    const pub = this.pub;
    try {
      await pub.publish(opts);
      if (this.notice?.code === 'PUBLISHERS_FULL') this.notice = null;
      clearTimeout(this.publishTimer);
    } catch (e) {
      if (pub !== this.pub || this.ended) return;
      this.problem(e);
      if (e?.code === 'PUBLISHERS_FULL' || e?.code === 'SFU_UNAVAILABLE') {
        // Start again with a fresh PeerConnection later (or when someone stops publishing).
        clearTimeout(this.publishTimer);
        this.publishTimer = setTimeout(() => this.republish(), Math.max(1000, Number(e.details?.retryAfterMs) || RETRY_PUBLISH_MS));
      }
    }
    this.emit();
  }

  /** A fresh publisher PeerConnection (the SFU closed the old one, or publishing was refused). */
  republish() {
    if (this.ended || !this.joined || this.state === 'reconnecting' || this.state === 'error') return;
    clearTimeout(this.publishTimer);
    this.pub?.close();
    this.pub = new Publisher(this);
    this.publish();
  }

  /** An error that keeps the call going, shown as a notice. An epoch mismatch means the room
   * moved: the sfu.restart that brings the new epoch is on its way (docs/sfu.md). */
  problem(e) {
    if (['SFU_EPOCH_MISMATCH', 'STOPPED', 'DISCONNECTED'].includes(e?.code)) return;
    this.notice = { code: typeof e?.code === 'string' ? e.code : 'SFU_NEGOTIATION_FAILED' };
    console.warn('group call:', e);
    this.emit();
  }

  peerError(pc, e) {
    if (this.ended) return;
    this.problem(e);
  }

  /** The sfu.published frame that came before the publish ACK (taken once). */
  takePublished() {
    const p = this.published;
    this.published = null;
    return p;
  }

  /** While sharing the screen the SFU must relay video (sfu.mute is per kind), so the camera is only disabled here. */
  videoMutedOnServer() {
    const hasCamera = !!this.local?.getVideoTracks().length;
    return !this.screen && (this.cameraOff || !hasCamera);
  }

  // Controls

  setMuted(on) {
    this.muted = on;
    for (const track of this.local?.getAudioTracks() || []) track.enabled = !on;
    if (this.pub?.published) this.request('sfu.mute', { roomId: this.roomId, epoch: this.epoch, kind: 'audio', muted: on }).catch(e => this.problem(e));
    this.emit();
  }

  setCameraOff(on) {
    this.cameraOff = on;
    for (const track of this.local?.getVideoTracks() || []) track.enabled = !on;
    this.syncVideoMute();
    this.emit();
  }

  syncVideoMute() {
    const want = this.videoMutedOnServer();
    if (!this.pub?.published || this.serverVideoMuted === want) return;
    this.serverVideoMuted = want;
    this.request('sfu.mute', { roomId: this.roomId, epoch: this.epoch, kind: 'video', muted: want }).catch(e => this.problem(e));
  }

  /** Screen sharing: a second video m-line on the publisher (a renegotiation). */
  async shareScreen(on) {
    if (!this.canShare || this.ended || !!this.screen === on) return;
    if (on) {
      let stream;
      try {
        stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15, max: 15 } }, audio: false });
      } catch (e) {
        if (e?.name !== 'NotAllowedError' && e?.name !== 'AbortError') this.problem({ code: 'SCREEN_FAILED' });
        return;
      }
      if (this.ended) return stopStream(stream);
      this.screen = stream;
      stream.getVideoTracks()[0]?.addEventListener('ended', () => { if (this.screen === stream) this.shareScreen(false); });
    } else {
      stopStream(this.screen);
      this.screen = null;
    }
    this.emit();
    if (!this.pub) return;
    if (on) this.syncVideoMute(); // before the screen goes out: the SFU relays video
    await this.publish();
    if (!on) this.syncVideoMute();
  }

  // Leaving

  /** Leaves the call (sfu.leave and ROOM_LEAVE); the last one out stops the ringing. */
  leave(reason = 'left') {
    if (this.ended) return;
    if (this.host && this.joined && this.tiles.size === 0) this.hangUpMembers(new Set());
    this.end(reason);
  }

  /** The creator ends the call for everyone: hang up the members in it, cancel the others' ringing, leave. */
  endForAll() {
    if (!this.host || this.ended) return;
    this.hangUpMembers(new Set([...this.tiles.values()].map(tile => tile.userId)));
    this.end('endedForAll');
  }

  hangUpMembers(inCall) {
    if (!this.callId) return;
    for (const to of this.memberIds) {
      this.request(inCall.has(to) ? 'call.hangup' : 'call.cancel', { to, callId: this.callId, reason: 'ended' }).catch(() => {});
    }
  }

  end(reason) {
    if (this.ended) return;
    this.state = 'ended';
    this.reason = reason;
    clearTimeout(this.publishTimer);
    clearTimeout(this.streamsTimer);
    clearTimeout(this.tokenTimer);
    clearInterval(this.statsTimer);
    this.closePeers();
    if (this.joined) this.leaveRoom();
    stopStream(this.local);
    stopStream(this.screen);
    this.screen = null;
    this.emit();
    this.calls.groupEnded(this, reason === 'left' || reason === 'endedForAll' ? 0 : ENDED_KEEP_MS);
  }

  leaveRoom() {
    this.joined = false;
    this.request('sfu.leave', { roomId: this.roomId }).catch(() => {});
    this.request('ROOM_LEAVE', { roomId: this.roomId }).catch(() => {});
  }

  closePeers() {
    this.pub?.close();
    this.sub?.close();
    this.pub = null;
    this.sub = null;
    this.pcState = { pub: 'new', sub: 'new' };
    this.roster.clearTracks();
  }

  // Signalling

  /** After the socket is back: a session the server forgot means joining the room again. */
  ready({ resumed }) {
    if (this.ended || !this.joined || resumed) { this.emit(); return; }
    this.join({ urgent: true });
  }

  /** Frames of this call's room, its sfu.* pushes and the creator's hang-up; true when used. */
  frame(f) {
    const p = f.payload || {};
    if ((f.type === 'call.hangup' || f.type === 'call.cancel') && p.callId === this.callId) {
      if (f.from?.userId === this.hostId && !this.host) this.end('endedByHost');
      return true;
    }
    if (!this.roomId || p.roomId !== this.roomId || this.ended) return false;
    if (p.epoch != null && f.type.startsWith('sfu.') && f.type !== 'sfu.restart' && Number(p.epoch) !== this.epoch) return true;
    switch (f.type) {
      case 'ROOM_JOIN_OK':
        this.joinOk = p;
        this.epoch = Number(p.sfu?.epoch) || this.epoch; // the sfu.feeds snapshot that follows carries it
        break;
      case 'ROOM_SNAPSHOT': this.roster.snapshot(p.peers || []); break;
      case 'PEER_JOINED': this.roster.joined(p); break;
      case 'PEER_LEFT': this.roster.left(p); break;
      case 'sfu.published': this.published = p; return true;
      case 'sfu.feeds': this.feedsChanged(p); break;
      case 'sfu.offer':
        if (this.sub) this.sub.offer(p);
        return true;
      case 'sfu.media': this.roster.mediaChanged(p); break;
      case 'sfu.talking': this.roster.talking(p); break;
      case 'sfu.connection': this.connection(p); break;
      case 'sfu.interrupted': this.interrupted(); break;
      case 'sfu.restart': this.restart(Number(p.epoch)); break;
      default: return true;
    }
    this.emit();
    return true;
  }

  feedsChanged(p) {
    const freed = this.roster.feedsChanged(p);
    if (freed && this.notice?.code === 'PUBLISHERS_FULL') this.republish();
    this.tracksChanged();
    clearTimeout(this.streamsTimer);
    this.streamsTimer = setTimeout(() => this.subscribeNewStreams(), NEW_STREAMS_MS);
  }

  /**
   * sfu.subscribe {all:true} brings new feeds but not a new stream of a feed already received
   * (a screen shared later): those are asked for by feed and mid.
   */
  subscribeNewStreams() {
    if (!this.sub || this.state !== 'active') return;
    const want = this.roster.missingStreams([...this.sub.streams.values()]).filter(st => !this.requested.has(st.feedId + ' ' + st.mid));
    for (const st of want) this.requested.add(st.feedId + ' ' + st.mid);
    if (want.length) this.request('sfu.subscribe', { roomId: this.roomId, epoch: this.epoch, streams: want }).catch(e => this.problem(e));
  }

  connection(p) {
    if (p.pc !== 'pub' && p.pc !== 'sub') return;
    if (p.state === 'slow') this.slowUntil = Date.now() + SLOW_MS;
    if (p.state !== 'down') return;
    // The SFU closed a PeerConnection: publish again on a fresh one (a refused publish is
    // closed too: that one waits for its retry); subscribe again on a fresh subscriber.
    if (p.pc === 'pub') {
      if (this.pub?.published) this.republish();
    } else {
      this.resubscribe();
    }
  }

  /** A fresh subscriber PeerConnection: the server makes a new subscriber handle on the next sfu.subscribe. */
  resubscribe() {
    if (this.ended || !this.joined || this.state !== 'active') return;
    this.sub?.close();
    this.sub = new Subscriber(this);
    this.requested.clear();
    this.roster.clearTracks();
    this.request('sfu.subscribe', { roomId: this.roomId, epoch: this.epoch, all: true }).catch(e => this.problem(e));
  }

  /** The media path is gone (the node failed): close both PeerConnections, keep tiles and capture. */
  interrupted() {
    this.state = 'reconnecting';
    clearTimeout(this.publishTimer);
    this.closePeers();
    this.roster.quiet();
  }

  /** A new epoch is ready: publish again and subscribe to everyone. */
  restart(epoch) {
    if (!epoch || epoch <= this.epoch || this.ended) return;
    this.epoch = epoch;
    this.state = 'reconnecting';
    this.notice = null;
    this.connectMedia();
  }

  /** Browser-side PeerConnection states: a failed publisher restarts its ICE, a failed subscriber asks for a new offer. */
  peerState(pc, st) {
    this.pcState[pc] = st;
    if (st === 'failed' && this.state === 'active') {
      if (pc === 'pub') this.pub?.publish({ iceRestart: true }).catch(e => this.problem(e));
      else this.request('sfu.restartIce', { roomId: this.roomId, epoch: this.epoch, pc: 'sub' }).catch(e => this.problem(e));
    }
    this.emit();
  }

  tracksChanged() {
    for (const st of this.sub?.streams.values() || []) this.requested.delete(st.feedId + ' ' + st.feedMid);
    // An m-line stays active after its publisher stopped that stream (a screen share ended,
    // unpublished): only the streams its feed still lists are shown.
    this.roster.setTracks(this.sub?.tracks(st => this.roster.published(st)) || new Map());
    this.chooseLayers();
    this.emit();
  }

  /**
   * The simulcast layer of each remote camera, by how large its tile is: the highest with up
   * to two cameras on screen, the middle one with up to four, the lowest above that or while a
   * shared screen fills the stage (sfu.receive, only for m-lines whose layer changes).
   */
  chooseLayers() {
    const sub = this.sub;
    if (!sub || this.ended || this.state !== 'active') return;
    const shown = [...sub.streams.values()].filter(st => st.active !== false && st.kind === 'video' && this.roster.published(st));
    const cameras = shown.filter(st => st.source !== 'screen');
    const substream = shown.length > cameras.length || cameras.length > 4 ? 0 : cameras.length > 2 ? 1 : 2;
    const change = cameras.filter(st => this.roster.simulcast(st) && sub.layers.get(st.mid) !== substream)
      .map(st => ({ mid: st.mid, substream }));
    if (!change.length) return;
    for (const c of change) sub.layers.set(c.mid, substream);
    this.request('sfu.receive', { roomId: this.roomId, epoch: this.epoch, streams: change }).catch(e => {
      for (const c of change) sub.layers.delete(c.mid);
      this.problem(e);
    });
  }

  // Connection quality

  startStats() {
    clearInterval(this.statsTimer);
    this.statsTimer = setInterval(() => this.measure().catch(() => {}), STATS_MS);
  }

  async measure() {
    if (this.ended || !this.sub) return;
    const [byMid, outLoss] = await Promise.all([this.sub.stats(), this.pub?.loss() ?? null]);
    const worstIn = this.roster.measure(byMid);
    const down = this.state === 'reconnecting' || this.pcState.pub === 'failed' || this.pcState.sub === 'failed'
      || this.calls.signalState !== 'ready';
    const loss = Math.max(worstIn, outLoss || 0);
    const quality = down ? 'lost' : Date.now() < this.slowUntil ? 'poor' : grade(loss);
    this.self.quality = quality;
    this.quality = quality;
    this.emit();
  }
}
