// The two PeerConnections of a group call (spec sfu-janus.md §2): the publisher (`pc:"pub"`,
// sendonly: microphone, camera and, when shared, the screen as a second video m-line) and the
// subscriber (`pc:"sub"`, recvonly: one PeerConnection for every other device's streams,
// answered to the offers the server pushes). Each sends its ICE candidates with sfu.trickle
// after the frame carrying its SDP, then candidate:null. `g` is the group call (sfu-call.js):
// g.request(type, payload), g.roomId, g.epoch, g.iceServers, g.local, g.screen, the mute flags,
// g.takePublished() (the sfu.published frame that came before the ACK) and its callbacks.

function config(g) {
  return { iceServers: g.iceServers || [], bundlePolicy: 'max-bundle' };
}

/**
 * The camera's simulcast layers, highest first (the order Janus reads rids in): full, half and
 * quarter resolution, within the room's cap so the three fit together. The SFU forwards each
 * receiver one layer (sfu.receive picks it); a browser drops layers its resolution cannot fill.
 */
function simulcastEncodings(maxBitrate) {
  const cap = Number(maxBitrate) > 0 ? Number(maxBitrate) : 1000000;
  return [
    { rid: 'h', maxBitrate: Math.round(cap * 0.6) },
    { rid: 'm', maxBitrate: Math.round(cap * 0.25), scaleResolutionDownBy: 2 },
    { rid: 'l', maxBitrate: Math.round(cap * 0.1), scaleResolutionDownBy: 4 },
  ];
}

/** Candidates wait until the SDP that they belong to has been sent; null ends gathering. */
class Trickle {
  constructor(g, pc) {
    this.g = g;
    this.pc = pc;
    this.held = true;
    this.queue = [];
    this.closed = false;
  }

  add(candidate) {
    this.queue.push(candidate ? candidate.toJSON() : null);
    if (!this.held) this.flush();
  }

  hold() { this.held = true; }

  release() {
    this.held = false;
    this.flush();
  }

  flush() {
    const { g } = this;
    for (const candidate of this.queue.splice(0)) {
      if (this.closed) return;
      g.request('sfu.trickle', { roomId: g.roomId, epoch: g.epoch, pc: this.pc, candidate }).catch(() => {});
    }
  }
}

/** The publisher PeerConnection: publish, renegotiate (screen on/off), ICE restart. */
export class Publisher {
  constructor(g) {
    this.g = g;
    this.pc = null;
    this.sources = new Map(); // transceiver → 'mic' | 'camera' | 'screen'
    this.screenTx = null;
    this.chain = Promise.resolve();
    this.closed = false;
    this.published = false;
  }

  create() {
    const { g } = this;
    const pc = new RTCPeerConnection(config(g));
    this.pc = pc;
    this.trickle = new Trickle(g, 'pub');
    pc.onicecandidate = e => this.trickle.add(e.candidate);
    pc.onconnectionstatechange = () => { if (!this.closed) g.peerState('pub', pc.connectionState); };
    const local = g.local;
    for (const track of local?.getTracks() || []) {
      const init = { direction: 'sendonly', streams: [local] };
      if (track.kind === 'video' && g.media?.simulcast) init.sendEncodings = simulcastEncodings(g.media.maxBitrate);
      const tx = pc.addTransceiver(track, init);
      this.sources.set(tx, track.kind === 'audio' ? 'mic' : 'camera');
    }
  }

  /** The screen's m-line follows g.screen: added, re-used or made inactive. */
  async syncScreen() {
    const track = this.g.screen?.getVideoTracks()[0] || null;
    if (track && !this.screenTx) {
      this.screenTx = this.pc.addTransceiver(track, { direction: 'sendonly', streams: [this.g.screen] });
      this.sources.set(this.screenTx, 'screen');
    } else if (this.screenTx) {
      await this.screenTx.sender.replaceTrack(track);
      this.screenTx.direction = track ? 'sendonly' : 'inactive';
    }
  }

  /** Publishes (the first time) or renegotiates; with iceRestart after a lost path. Resolves when applied. */
  publish({ iceRestart = false } = {}) {
    const run = this.chain.then(() => this.negotiate(iceRestart));
    this.chain = run.catch(() => {});
    return run;
  }

  async negotiate(iceRestart) {
    const { g } = this;
    if (this.closed) return;
    if (!this.pc) this.create();
    const pc = this.pc;
    await this.syncScreen();
    if (!pc.getTransceivers().some(tx => tx.direction === 'sendonly')) return; // nothing to send
    this.trickle.hold();
    await pc.setLocalDescription(await pc.createOffer(iceRestart ? { iceRestart: true } : undefined));
    const streams = pc.getTransceivers()
      .filter(tx => tx.mid != null && tx.direction === 'sendonly')
      .map(tx => ({ mid: tx.mid, source: this.sources.get(tx) }));
    const muted = { audio: !!g.muted, video: g.videoMutedOnServer() };
    g.takePublished();
    await g.request('sfu.publish', { roomId: g.roomId, epoch: g.epoch, sdp: pc.localDescription.sdp, streams, muted });
    g.serverVideoMuted = muted.video;
    const published = g.takePublished();
    if (this.closed || pc !== this.pc) return;
    if (!published?.sdp) throw Object.assign(new Error('no answer to the publish offer'), { code: 'SFU_NEGOTIATION_FAILED' });
    await pc.setRemoteDescription({ type: 'answer', sdp: published.sdp });
    this.published = true;
    this.trickle.release();
  }

  /** Local outbound loss (0…1) as the SFU reports it back, or null. */
  async loss() {
    if (!this.pc || this.closed) return null;
    let worst = null;
    (await this.pc.getStats()).forEach(r => {
      if (r.type === 'remote-inbound-rtp' && typeof r.fractionLost === 'number') worst = Math.max(worst ?? 0, r.fractionLost);
    });
    return worst;
  }

  close() {
    this.closed = true;
    if (this.trickle) this.trickle.closed = true;
    try { this.pc?.close(); } catch { /* closed */ }
  }
}

/** The subscriber PeerConnection: answers each sfu.offer (the latest only) and maps m-lines to streams. */
export class Subscriber {
  constructor(g) {
    this.g = g;
    this.pc = null;
    this.streams = new Map(); // mid → {mid, feedId, kind, userId, deviceId, source, active}
    this.latest = 0;
    this.chain = Promise.resolve();
    this.closed = false;
    this.lastStats = new Map(); // mid → {lost, received, frames}
    this.layers = new Map(); // mid → the simulcast substream asked for (sfu-call.js chooseLayers)
  }

  create() {
    const { g } = this;
    const pc = new RTCPeerConnection(config(g));
    this.pc = pc;
    this.trickle = new Trickle(g, 'sub');
    pc.onicecandidate = e => this.trickle.add(e.candidate);
    pc.onconnectionstatechange = () => { if (!this.closed) g.peerState('sub', pc.connectionState); };
    pc.ontrack = e => { e.track.onunmute = () => g.tracksChanged(); };
  }

  /** An sfu.offer push: answered in order; an offer already superseded is skipped. */
  offer(p) {
    this.latest = Math.max(this.latest, Number(p.offerId) || 0);
    const run = this.chain.then(() => this.answer(p));
    this.chain = run.catch(e => this.g.peerError('sub', e));
  }

  async answer(p) {
    const { g } = this;
    if (this.closed || p.epoch !== g.epoch || Number(p.offerId) < this.latest) return;
    if (!this.pc) this.create();
    const pc = this.pc;
    this.trickle.hold();
    await pc.setRemoteDescription({ type: 'offer', sdp: p.sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    for (const s of p.streams || []) if (s?.mid != null) this.streams.set(String(s.mid), s);
    g.tracksChanged();
    await g.request('sfu.answer', { roomId: g.roomId, epoch: g.epoch, offerId: p.offerId, sdp: pc.localDescription.sdp });
    this.trickle.release();
  }

  /** deviceId → {audio, video, screen, mids} receiver tracks of the active m-lines that `live(stream)` accepts. */
  tracks(live = () => true) {
    const out = new Map();
    if (!this.pc) return out;
    const byMid = new Map(this.pc.getTransceivers().filter(tx => tx.mid != null).map(tx => [tx.mid, tx]));
    for (const s of this.streams.values()) {
      const tx = byMid.get(s.mid);
      if (!tx || s.active === false || !s.deviceId || !live(s)) continue;
      const slot = s.source === 'screen' ? 'screen' : s.kind;
      const entry = out.get(s.deviceId) || { userId: s.userId, feedId: s.feedId, mids: {} };
      entry[slot] = tx.receiver.track;
      entry.mids[slot] = s.mid;
      out.set(s.deviceId, entry);
    }
    return out;
  }

  /** Per m-line packet loss (0…1) and decoded frames since the last call. */
  async stats() {
    const out = new Map();
    if (!this.pc || this.closed) return out;
    (await this.pc.getStats()).forEach(r => {
      if (r.type !== 'inbound-rtp' || r.mid == null) return;
      const prev = this.lastStats.get(r.mid) || { lost: 0, received: 0, frames: 0 };
      const lost = Math.max(0, (r.packetsLost || 0) - prev.lost);
      const received = Math.max(0, (r.packetsReceived || 0) - prev.received);
      out.set(r.mid, { loss: lost + received ? lost / (lost + received) : 0, frames: (r.framesDecoded || 0) - prev.frames, received });
      this.lastStats.set(r.mid, { lost: r.packetsLost || 0, received: r.packetsReceived || 0, frames: r.framesDecoded || 0 });
    });
    return out;
  }

  close() {
    this.closed = true;
    if (this.trickle) this.trickle.closed = true;
    try { this.pc?.close(); } catch { /* closed */ }
  }
}
