// A 1:1 call becomes a group call (docs/calls.md, ROOM_UPGRADE): the user adds people from the
// call screen (views/add-people.js), this device asks for an sfu room with ROOM_UPGRADE, and
// every device of the 1:1 room gets ROOM_UPGRADED (this one as the response frame, the other
// side's with `from`). Each then closes its 1:1 PeerConnection, leaves the old room and joins
// the new one as a GroupCall (sfu-call.js), keeping the camera and microphone; the device that
// added people rings them with call.invite (mode "sfu").
import { stopStream } from './calls-peer.js';

/** Sends ROOM_UPGRADE for the active call `c` with the people to add; rejects with a CallsError. */
export async function upgradeCall(calls, c, userIds) {
  c.upgradeIds = [...new Set(userIds)].filter(id => id && id !== calls.userId && id !== c.peerId);
  const p = await calls.signal.request('ROOM_UPGRADE', { roomId: c.roomId, allowedUserIds: c.upgradeIds });
  // The response frame normally came first; the ACK carries the same room.
  if (p?.roomId) await moveToGroup(calls, c, p, null);
}

/**
 * ROOM_UPGRADED for the call `c` (its fromRoomId is c's room): stop the 1:1 call without a
 * hang-up (the other side moves too) and join the group call. `from`: the device that added
 * people (null on that device itself).
 */
export async function moveToGroup(calls, c, p, from) {
  if (c.upgradedTo || c.state === 'ended' || !p.roomId || !p.joinToken) return;
  c.upgradedTo = p.roomId;
  const mine = !from || from.userId === calls.userId;
  // The 1:1 call ends here: every frame of its room is ignored from now on.
  c.state = 'ended';
  c.reason = 'upgraded';
  c.endedAt = Date.now();
  for (const timer of [c.ringTimer, c.iceTimer, c.goneTimer, c.setupTimer, c.connectTimer, c.lostTimer]) clearTimeout(timer);
  try { c.pc?.close(); } catch { /* ignore */ }
  c.pc = null;
  if (c.roomId && c.joined) calls.leaveRoom(c);
  // The camera and microphone go on into the group call (an audio call's mic is asked again with the camera).
  const local = c.local?.getVideoTracks().some(tr => tr.readyState === 'live') ? c.local : null;
  if (!local) stopStream(c.local);
  c.local = null;
  calls.changed();
  let GroupCall;
  try {
    ({ GroupCall } = await import('./sfu-call.js'));
  } catch (e) {
    stopStream(local);
    calls.tab.markBusy(false);
    if (calls.call === c) { c.reason = 'failed'; calls.changed(); }
    throw e;
  }
  if (calls.destroyed) { stopStream(local); return; }
  const item = c.conversationId && calls.s.item(c.conversationId);
  const added = mine ? c.upgradeIds || [] : [];
  const g = new GroupCall(calls, {
    conversationId: c.conversationId, title: item?.kind === 'group' ? item.title || '' : '',
    memberIds: [...new Set([c.peerId, ...added])].filter(id => id && id !== calls.userId),
    ringIds: added, host: mine, hostId: mine ? calls.userId : from.userId,
    roomId: p.roomId, joinToken: p.joinToken, tokenExpiresAt: Number(p.expiresAt) || 0, callId: p.callId || null,
  });
  g.local = local;
  g.muted = !!c.muted;
  g.cameraOff = !!c.cameraOff;
  if (calls.call === c) calls.call = null;
  calls.group?.leave();
  calls.openGroup(g);
}
