// The media side of a 1:1 call (a call object of calls.js): the microphone and camera, the
// RTCPeerConnection, offer/answer and ICE candidates over the signalling, and ICE restarts
// after a drop (only the caller offers, so only the caller restarts). `ctl` is the Calls
// controller: ctl.signal for requests, ctl.call (the call on screen), ctl.changed() and
// ctl.finish(c, reason).

const LOST_MS = 45000; // media that stays down this long after a drop: the call failed
const RESTART_GAP_MS = 5000; // at most one ICE restart this often

/** Creates the call's peer connection (after ROOM_JOIN gave the ICE servers). */
export function connectPeer(ctl, c) {
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
    ctl.signal.request('webrtc.ice', { roomId: c.roomId, to: c.remote, candidate: e.candidate.toJSON() }).catch(() => {});
  };
  pc.ontrack = e => {
    if (!c.remoteStream.getTracks().includes(e.track)) c.remoteStream.addTrack(e.track);
    e.track.onunmute = () => ctl.changed();
    ctl.changed();
  };
  pc.onconnectionstatechange = () => pcState(ctl, c);
  pc.oniceconnectionstatechange = () => pcState(ctl, c);
  for (const f of c.early.splice(0)) negotiate(ctl, c, f);
}

function pcState(ctl, c) {
  if (ctl.call !== c || c.state === 'ended') return;
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
      if (!c.lostTimer) c.lostTimer = setTimeout(() => ctl.finish(c, 'failed'), LOST_MS);
    }
    clearTimeout(c.iceTimer);
    if (!c.connectedAt && c.restarts >= 3) { ctl.finish(c, 'failed'); return; }
    // The caller restarts ICE: soon when it failed, after a moment when it is only disconnected.
    if (c.dir === 'out') c.iceTimer = setTimeout(() => restartIce(ctl, c), ice === 'failed' || st === 'failed' ? 0 : 2500);
  }
  ctl.changed();
}

/** Caller: a (new) offer to the callee's device; with iceRestart after a drop. */
export function offer(ctl, c, iceRestart) {
  c.chain = c.chain.then(async () => {
    if (c.state === 'ended' || !c.remote) return;
    const desc = await c.pc.createOffer(iceRestart ? { iceRestart: true } : undefined);
    await c.pc.setLocalDescription(desc);
    if (iceRestart) { c.restarts++; ctl.changed(); }
    await ctl.signal.request('webrtc.offer', { roomId: c.roomId, to: c.remote, sdp: c.pc.localDescription.sdp, ...(iceRestart && { iceRestart: true }) });
  }).catch(e => console.warn('calls: offer failed', e));
}

/** Caller: ICE restart (an offer with new credentials); a later ready() retries while offline. */
export function restartIce(ctl, c) {
  if (ctl.call !== c || c.state === 'ended' || c.dir !== 'out' || !c.offered) return;
  if (ctl.signal.state !== 'ready') return;
  const wait = (c.lastRestart || 0) + RESTART_GAP_MS - Date.now();
  clearTimeout(c.iceTimer);
  if (wait > 0) { c.iceTimer = setTimeout(() => restartIce(ctl, c), wait); return; }
  c.lastRestart = Date.now();
  offer(ctl, c, true);
}

/** A webrtc.offer / webrtc.answer / webrtc.ice frame of the call (kept until the peer connection exists). */
export function negotiate(ctl, c, f) {
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
      await addCandidates(c);
      // An ICE restart need not change the connection's state: say so (the screen shows the count).
      if (p.iceRestart) { c.restarts++; ctl.changed(); }
      await ctl.signal.request('webrtc.answer', { roomId: c.roomId, to: c.remote, sdp: c.pc.localDescription.sdp });
    }).catch(e => console.warn('calls: answer failed', e));
  } else if (f.type === 'webrtc.answer' && c.dir === 'out') {
    c.chain = c.chain.then(async () => {
      if (c.state === 'ended' || c.pc.signalingState !== 'have-local-offer') return;
      await c.pc.setRemoteDescription({ type: 'answer', sdp: p.sdp });
      await addCandidates(c);
    }).catch(e => console.warn('calls: answer not applied', e));
  } else if (f.type === 'webrtc.ice' && p.candidate) {
    c.candidates.push(p.candidate);
    c.chain = c.chain.then(() => addCandidates(c));
  }
}

async function addCandidates(c) {
  if (!c.pc.remoteDescription) return;
  for (const cand of c.candidates.splice(0)) {
    try { await c.pc.addIceCandidate(cand); } catch (e) { console.warn('calls: bad candidate', e); }
  }
}

/** Microphone, and the camera for video calls (audio only when there is no camera). */
export async function getMedia(video) {
  if (!navigator.mediaDevices?.getUserMedia) throw Object.assign(new Error('no media devices'), { name: 'NotFoundError' });
  try {
    return await navigator.mediaDevices.getUserMedia({ audio: true, video: video ? { width: { ideal: 1280 }, height: { ideal: 720 } } : false });
  } catch (e) {
    if (!video || e.name === 'NotAllowedError') throw e;
    return navigator.mediaDevices.getUserMedia({ audio: true, video: false });
  }
}

/** Stops every track of a stream (camera light off). */
export function stopStream(stream) {
  for (const track of stream?.getTracks() || []) track.stop();
}

