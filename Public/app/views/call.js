// The call screen, over whatever page is open: an incoming call (accept with or without video,
// decline; a group call's invite offers to join it), an outgoing call (ringing, cancel), the
// call itself (remote video, own preview, mute, camera off, hang up, duration, connection
// state) and how it ended. A modal dialog: focus moves to its main button and returns to where
// it was when the screen closes. The group call itself has its own screen (group-call.js).
// «Добавить людей» (an active call) opens the picker of add-people.js: the call becomes a group call.
import { h, icon, avatar, nameOf, focus } from '../util.js';
import { t } from '../i18n.js';
import { toast } from '../toast.js';
import { closeCallScreen } from './call-screen.js';

const ENDED_MS = 3000; // how long "Call ended" / "Declined" stays

export function mountCallUI(s, calls, onClosed) {
  const opener = document.activeElement;
  const titleId = 'call-title';
  const statusId = 'call-status';

  const remoteVideo = h('video', { class: 'call-remote', testid: 'call-remote-video', autoplay: true, playsinline: true, 'aria-hidden': 'true' });
  remoteVideo.muted = true; // the sound plays from remoteAudio
  const remoteAudio = h('audio', { class: 'call-audio', autoplay: true });
  const localVideo = h('video', { class: 'call-local-video', testid: 'call-local-video', autoplay: true, playsinline: true, 'aria-hidden': 'true' });
  localVideo.muted = true;
  const camOffNote = h('span', { class: 'call-local-off', text: t('callCameraIsOff') });
  const local = h('div', { class: 'call-local', role: 'img', 'aria-label': t('callYourCamera') }, localVideo, camOffNote);
  const face = h('div', { class: 'call-face' });
  const title = h('h2', { id: titleId, class: 'call-name', testid: 'call-peer-name' });
  const status = h('p', { id: statusId, class: 'call-status', testid: 'call-status', role: 'status', 'aria-live': 'polite' });
  const timer = h('p', { class: 'call-timer', testid: 'call-timer' });

  const button = (testid, name, label, cls, onClick) => h('button', { class: 'call-btn ' + cls, type: 'button', testid, onClick },
    h('span', { class: 'call-btn-icon' }, icon(name)), h('span', { class: 'call-btn-label', text: label }));
  const b = {
    decline: button('call-decline', 'hangup', t('callDecline'), 'danger', () => calls.decline(shown)),
    acceptAudio: button('call-accept-audio', 'phone', t('callAcceptAudio'), 'accept', () => calls.accept(shown, false)),
    acceptVideo: button('call-accept-video', 'video', t('callAcceptVideo'), 'accept', () => calls.accept(shown, true)),
    cancel: button('call-cancel', 'hangup', t('callCancel'), 'danger', () => calls.hangup()),
    mute: button('call-mute', 'mic', t('callMute'), 'toggle', () => calls.setMuted(!shown.muted)),
    camera: button('call-camera', 'video', t('callCameraOff'), 'toggle', () => calls.setCameraOff(!shown.cameraOff)),
    hangup: button('call-hangup', 'hangup', t('callHangUp'), 'danger', () => calls.hangup()),
    close: button('call-close', 'close', t('close'), 'plain', () => dismiss()),
    add: button('call-add-people', 'group', t('callAddPeople'), 'toggle', () => openPicker()),
  };
  b.add.setAttribute('aria-haspopup', 'dialog');
  let closePicker = null;
  function openPicker() {
    if (closePicker || shown?.state !== 'active') return;
    const c = shown;
    import('./add-people.js').then(m => {
      if (closed || shown !== c || c.state !== 'active') return;
      closePicker = m.addPeopleDialog(s, calls, c);
      document.querySelector('[data-testid="add-people-dialog"]')?.addEventListener('close', () => { closePicker = null; });
    }).catch(e => console.error(e));
  }
  b.mute.setAttribute('aria-pressed', 'false');
  b.camera.setAttribute('aria-pressed', 'false');
  const controls = h('div', { class: 'call-controls' }, b.mute, b.camera, b.add, b.decline, b.cancel, b.hangup, b.acceptAudio, b.acceptVideo, b.close);

  const dlg = h('dialog', { class: 'call-screen', testid: 'call-screen', 'aria-labelledby': titleId, 'aria-describedby': statusId },
    h('div', { class: 'call-stage' },
      remoteVideo, face,
      h('div', { class: 'call-top' }, title, status, timer),
      local, controls),
    remoteAudio);
  dlg.addEventListener('cancel', e => {
    e.preventDefault(); // Escape does not hang up; on the "ended" screen it closes it
    if (shown?.state === 'ended') dismiss();
  });
  // The browser may close a modal dialog on a repeated Escape: keep it while a call is on it.
  dlg.addEventListener('close', () => { if (!closed) try { dlg.showModal(); } catch { /* removed */ } });
  document.body.append(dlg);
  dlg.showModal();

  let shown = null; // the call on screen
  let lastState = null;
  let endTimer = 0;
  let tick = 0;
  let closed = false;
  const ring = ringer();

  remoteVideo.addEventListener('resize', () => paint());
  remoteVideo.addEventListener('loadeddata', () => paint());

  function durationText(ms) {
    const sec = Math.max(0, Math.floor(ms / 1000));
    const hh = Math.floor(sec / 3600);
    const mm = String(Math.floor(sec / 60) % 60).padStart(2, '0');
    const ss = String(sec % 60).padStart(2, '0');
    return hh ? `${hh}:${mm}:${ss}` : `${mm}:${ss}`;
  }

  function statusText(c) {
    if (c.state !== 'ended' && c.state !== 'incoming' && calls.signalState !== 'ready' && c.state !== 'outgoing') return t('callReconnecting');
    switch (c.state) {
      case 'incoming':
        if (c.group) return t('groupCallIncoming', { name: nameOf(c.peer) });
        return t(c.type === 'video' ? 'callIncomingVideo' : 'callIncomingAudio');
      case 'outgoing': return t('callCalling');
      case 'ringing': return t('callRinging');
      case 'connecting': return t('callConnecting');
      case 'active': return t('callConnected');
      case 'reconnecting': return t('callReconnecting');
      default: return t('callEnded_' + (c.reason || 'hungUp'));
    }
  }

  function setStream(video, stream) {
    if (video.srcObject !== stream) {
      video.srcObject = stream || null;
      if (stream) video.play().catch(() => {});
    }
  }

  function primary(c) {
    switch (c.state) {
      case 'incoming': return c.type === 'video' ? b.acceptVideo : b.acceptAudio;
      case 'outgoing': case 'ringing': return b.cancel;
      case 'ended': return b.close;
      default: return b.hangup;
    }
  }

  function paint() {
    if (closed) return;
    const c = calls.current();
    if (!c) return close();
    if (c !== shown) { shown = c; lastState = null; }
    const changed = c.state !== lastState;
    const video = c.type === 'video';
    const state = c.state;
    const inCall = state === 'connecting' || state === 'active' || state === 'reconnecting';
    dlg.dataset.state = state;
    dlg.dataset.dir = c.dir;
    dlg.dataset.callType = c.type;
    if (c.group) dlg.dataset.group = ''; else delete dlg.dataset.group;
    dlg.dataset.signal = calls.signalState;
    dlg.dataset.ice = c.ice || 'new';
    dlg.dataset.restarts = String(c.restarts || 0);
    if (c.reason) dlg.dataset.reason = c.reason; else delete dlg.dataset.reason;

    const name = c.group ? c.groupTitle || t('groupCall') : nameOf(c.peer);
    if (title.textContent !== name) title.textContent = name;
    const sig = JSON.stringify([c.peerId, c.peer?.avatar_url, name, !!c.group]);
    if (face.dataset.sig !== sig) {
      face.dataset.sig = sig;
      const who = c.group ? { id: c.conversationId, display_name: name } : { id: c.peerId, ...c.peer };
      face.replaceChildren(avatar(who, { size: 'xl' }));
    }
    const text = statusText(c);
    if (status.textContent !== text) status.textContent = text;

    // Media
    setStream(localVideo, c.local && c.local.getVideoTracks().length ? c.local : null);
    setStream(remoteVideo, c.remoteStream);
    setStream(remoteAudio, c.remoteStream);
    const remoteHasVideo = !!c.remoteStream?.getVideoTracks().some(tr => tr.readyState === 'live') && remoteVideo.videoWidth > 0;
    dlg.classList.toggle('has-remote-video', video && inCall && remoteHasVideo);
    const hasCam = !!c.local?.getVideoTracks().length;
    local.hidden = !hasCam || state === 'incoming' || state === 'ended';
    dlg.classList.toggle('cam-off', !!c.cameraOff);
    dlg.classList.toggle('preview-full', hasCam && (state === 'outgoing' || state === 'ringing'));

    // Buttons
    b.decline.hidden = b.acceptAudio.hidden = state !== 'incoming';
    b.acceptVideo.hidden = state !== 'incoming' || !video;
    b.acceptAudio.querySelector('.call-btn-label').textContent = video ? t('callAcceptAudio') : t('callAccept');
    b.acceptVideo.querySelector('.call-btn-label').textContent = c.group ? t('groupCallJoin') : t('callAcceptVideo');
    if (c.group) b.acceptAudio.hidden = true; // a group call is joined with the camera, turned off inside if wanted
    b.cancel.hidden = !(state === 'outgoing' || state === 'ringing');
    b.hangup.hidden = !inCall;
    b.mute.hidden = !inCall && state !== 'ringing' && state !== 'outgoing';
    b.mute.disabled = !c.local;
    b.camera.hidden = b.mute.hidden || !hasCam;
    b.close.hidden = state !== 'ended';
    b.add.hidden = state !== 'active' || !!c.group;
    if (state !== 'active' && closePicker) closePicker();
    b.mute.setAttribute('aria-pressed', String(!!c.muted));
    b.camera.setAttribute('aria-pressed', String(!!c.cameraOff));
    swapIcon(b.mute, c.muted ? 'micOff' : 'mic');
    swapIcon(b.camera, c.cameraOff ? 'videoOff' : 'video');

    // Duration
    clearInterval(tick);
    timer.hidden = !c.connectedAt || (state !== 'active' && state !== 'reconnecting' && state !== 'ended');
    const paintTimer = () => { timer.textContent = durationText((c.endedAt || Date.now()) - c.connectedAt); };
    if (!timer.hidden) {
      paintTimer();
      if (state !== 'ended') tick = setInterval(paintTimer, 1000);
    }

    // Sounds
    ring(state === 'incoming' ? 'incoming' : state === 'ringing' ? 'ringback' : null);

    if (changed) {
      const first = lastState === null;
      lastState = state;
      const active = document.activeElement;
      if (first || !dlg.contains(active) || active === dlg || active.closest('[hidden]') || active.disabled) focus(primary(c));
      if (state === 'ended') ended(c);
    }
  }

  function swapIcon(btn, name) {
    const svg = btn.querySelector('svg');
    if (svg.getAttribute('class') !== 'i-' + name) svg.replaceWith(icon(name));
  }

  function ended(c) {
    clearTimeout(endTimer);
    if (c.dir === 'in' && calls.call !== c) {
      // An invite that stopped ringing here: say so if it was missed; the screen goes at once.
      if (c.reason === 'missed') toast(t('callMissedFrom', { name: nameOf(c.peer) }));
      dismiss();
      return;
    }
    endTimer = setTimeout(dismiss, ENDED_MS);
  }

  function dismiss() {
    clearTimeout(endTimer);
    const c = shown;
    shown = null;
    if (!c) return paint();
    if (calls.call === c) calls.dismiss(c);
    else if (calls.current()) paint();
    else close();
  }

  function close() {
    if (closed) return;
    closed = true;
    closePicker?.();
    off();
    clearInterval(tick);
    clearTimeout(endTimer);
    ring(null);
    for (const v of [remoteVideo, localVideo, remoteAudio]) v.srcObject = null;
    closeCallScreen(dlg, opener);
    onClosed();
  }

  const off = s.on('call', () => paint());
  paint();
  return close;
}

/** Ring tones from WebAudio (no files): 'incoming', 'ringback' or null for silence. */
function ringer() {
  let ctx = null;
  let timer = 0;
  let kind = null;
  const beep = (freqs, ms) => {
    if (!ctx) return;
    const gain = ctx.createGain();
    gain.gain.value = 0.06;
    gain.connect(ctx.destination);
    for (const f of freqs) {
      const o = ctx.createOscillator();
      o.frequency.value = f;
      o.connect(gain);
      o.start();
      o.stop(ctx.currentTime + ms / 1000);
    }
  };
  return next => {
    if (next === kind) return;
    kind = next;
    clearInterval(timer);
    if (!next) {
      ctx?.close().catch(() => {});
      ctx = null;
      return;
    }
    try {
      ctx ||= new AudioContext();
      ctx.resume().catch(() => {});
    } catch {
      return;
    }
    const play = next === 'incoming' ? () => { beep([440, 480], 400); setTimeout(() => beep([440, 480], 400), 600); } : () => beep([425], 1000);
    play();
    timer = setInterval(play, next === 'incoming' ? 2500 : 4000);
  };
}
