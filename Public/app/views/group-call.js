// The group call screen, over whatever page is open (a modal dialog, like the 1:1 screen):
// the grid of tiles (views/group-call-tile.js; 1 to 9 on screen at once, the own tile
// included), a shared screen shown large above them, the status (connecting, waiting for
// others, how many are in the call, reconnecting), the connection quality, a notice for what
// went wrong without ending the call, the error state with retry, and the buttons: microphone,
// camera, screen sharing, leave and, for the one who started the call, end for all. It reads
// the group call of sfu-call.js (calls.group) and repaints on its changes. Its stylesheet and
// strings are loaded with it (styles/group-call.css, i18n/group-call.*.js).
import { h, icon, focus, stylesheet } from '../util.js';
import { t, extend } from '../i18n.js';
import { closeCallScreen } from './call-screen.js';
import { tileElement, paintTile, dropTile, personName, qualityBars, playTrack } from './group-call-tile.js';

const SVG = 'http://www.w3.org/2000/svg';
const SCREEN_ICON = 'M3 4.5h18v12H3zM8 20.5h8M12 16.5v4M9 10.5l3-3 3 3M12 7.5v6';
const LEAVE_ICON = 'M14 4.5h5v15h-5M10 8l-4 4 4 4M6 12h10';
const RETRYABLE = new Set(['SFU_UNAVAILABLE', 'RATE_LIMITED', 'INTERNAL', 'TIMEOUT', 'DISCONNECTED', 'PUBLISHERS_FULL']);

let assets = null;

/** The screen's stylesheet and strings (a failed stylesheet still resolves). */
function groupCallAssets() {
  assets ||= Promise.all([
    stylesheet(new URL('../../styles/group-call.css', import.meta.url)),
    extend({ ru: () => import('../i18n/group-call.ru.js'), en: () => import('../i18n/group-call.en.js') }),
  ]);
  assets.catch(() => { assets = null; });
  return assets;
}

function pathIcon(d, name) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', 'i-' + name);
  const p = document.createElementNS(SVG, 'path');
  p.setAttribute('d', d);
  svg.append(p);
  return svg;
}

/** Mounts the screen for calls.group once its assets are in; resolves with close() (null when the call is gone). */
export async function mountGroupCallUI(s, calls, onClosed) {
  await groupCallAssets();
  const g = calls.group;
  if (!g || calls.destroyed) { onClosed(); return null; }
  return groupCallScreen(s, calls, g, onClosed);
}

function groupCallScreen(s, calls, g, onClosed) {
  const opener = document.activeElement;
  const title = h('h2', { id: 'gc-title', class: 'call-name gc-title', testid: 'group-call-title' });
  const status = h('p', { id: 'gc-status', class: 'gc-status', testid: 'group-call-status', role: 'status', 'aria-live': 'polite' });
  const quality = h('span', { class: 'gc-quality gc-own-quality', testid: 'group-call-quality', role: 'img' }, qualityBars());
  const notice = h('p', { class: 'gc-notice', testid: 'group-call-notice', role: 'alert', hidden: true });
  const grid = h('div', { class: 'gc-grid', testid: 'group-call-grid' });
  const screenVideo = h('video', { class: 'gc-video', testid: 'group-call-screen-video', autoplay: true, playsinline: true, 'aria-hidden': 'true' });
  screenVideo.muted = true;
  const screenLabel = h('span', { class: 'gc-name' });
  const stage = h('div', { class: 'gc-tile gc-stage', testid: 'group-call-stage', role: 'group', hidden: true },
    screenVideo, h('div', { class: 'gc-tile-bar' }, screenLabel));
  const waiting = h('p', { class: 'gc-waiting', testid: 'group-call-empty', hidden: true });
  const errorText = h('p', { class: 'gc-error-text', testid: 'group-call-error-text' });
  const retryNote = h('p', { class: 'gc-retry-note' });
  const main = h('div', { class: 'gc-main' }, stage, grid, waiting);

  const button = (testid, iconEl, label, cls, onClick) => h('button', { class: 'call-btn ' + cls, type: 'button', testid, onClick },
    h('span', { class: 'call-btn-icon' }, iconEl), h('span', { class: 'call-btn-label', text: label }));
  const b = {
    mute: button('group-call-mute', icon('mic'), t('gcMute'), 'toggle', () => g.setMuted(!g.muted)),
    camera: button('group-call-camera', icon('video'), t('gcCameraOff'), 'toggle', () => g.setCameraOff(!g.cameraOff)),
    share: button('group-call-share', pathIcon(SCREEN_ICON, 'screen'), t('gcShare'), 'toggle', () => g.shareScreen(!g.screen)),
    leave: button('group-call-leave', pathIcon(LEAVE_ICON, 'leave'), t('gcLeave'), 'danger', () => g.leave()),
    end: button('group-call-end', icon('hangup'), t('gcEndForAll'), 'danger', () => g.endForAll()),
    retry: h('button', { class: 'btn btn-primary', type: 'button', testid: 'group-call-retry', text: t('gcRetry'), onClick: () => g.retry() }),
    close: h('button', { class: 'btn', type: 'button', testid: 'group-call-close', text: t('close'), onClick: () => closeNow() }),
  };
  for (const k of ['mute', 'camera', 'share']) b[k].setAttribute('aria-pressed', 'false');
  const errorBox = h('div', { class: 'gc-error', testid: 'group-call-error', hidden: true },
    h('span', { class: 'gc-error-icon' }, icon('alert')), errorText, retryNote, h('div', { class: 'gc-error-actions' }, b.retry, b.close));
  const controls = h('div', { class: 'call-controls gc-controls' }, b.mute, b.camera, b.share, b.leave, b.end);

  const dlg = h('dialog', { class: 'call-screen group-call', testid: 'group-call-screen', 'aria-labelledby': 'gc-title', 'aria-describedby': 'gc-status' },
    h('div', { class: 'gc-top' }, h('div', { class: 'gc-heading' }, title, status), quality),
    notice, main, errorBox, controls);
  dlg.addEventListener('cancel', e => {
    e.preventDefault(); // Escape does not leave the call; on the ended or error screen it closes it
    if (g.ended || g.state === 'error') closeNow();
  });
  dlg.addEventListener('close', () => { if (!closed) try { dlg.showModal(); } catch { /* removed */ } });
  document.body.append(dlg);
  dlg.showModal();

  const tiles = new Map(); // deviceId → element
  let selfEl = null;
  let closed = false;
  let lastState = null;
  let retryTimer = 0;
  let countdown = 0;
  let shownError = null;

  function statusText(remote) {
    if (g.ended) return t('gcEnded_' + (g.reason || 'left'));
    if (g.state === 'error') return t('gcFailed');
    if (g.state === 'reconnecting' || (g.state === 'active' && calls.signalState !== 'ready')) return t('gcReconnecting');
    if (g.state === 'connecting') return t('gcConnecting');
    return remote ? t('gcInCall', { n: remote + 1 }) : t('gcWaiting');
  }

  function selfView() {
    const video = g.local?.getVideoTracks()[0] || null;
    return {
      name: t('gcYou'), person: { id: g.userId, ...s.me, display_name: personName(s.me, g.userId) },
      videoTrack: video, micOff: g.muted || !g.local?.getAudioTracks().length, camOff: g.cameraOff || !video,
      talking: g.self.talking, speaker: g.speaker === g.self.deviceId, quality: null, mirror: true,
    };
  }

  function remoteView(tile) {
    const streams = tile.feed?.streams || [];
    const mic = streams.find(st => st.kind === 'audio');
    const cam = streams.find(st => st.kind === 'video' && st.source !== 'screen');
    const name = personName(tile.profile, tile.userId);
    return {
      name, person: { id: tile.userId, ...tile.profile, display_name: name },
      videoTrack: tile.tracks.video || null, audioTrack: tile.tracks.audio || null,
      micOff: !mic || !!mic.muted, camOff: !cam || !!cam.muted,
      talking: tile.talking, speaker: g.speaker === tile.deviceId, quality: g.state === 'active' ? tile.quality : null, mirror: false,
    };
  }

  function paintTiles() {
    if (!selfEl) { selfEl = tileElement(g.self, paint); grid.append(selfEl); }
    paintTile(selfEl, selfView());
    for (const [id, el] of tiles) if (!g.tiles.has(id)) { dropTile(el); tiles.delete(id); }
    for (const tile of g.tiles.values()) {
      let el = tiles.get(tile.deviceId);
      if (!el) { el = tileElement(tile, paint); tiles.set(tile.deviceId, el); grid.append(el); }
      paintTile(el, remoteView(tile));
    }
    grid.dataset.count = String(Math.min(tiles.size + 1, 9));
  }

  /** A shared screen, large: the first remote one, else the own. */
  function paintStage() {
    const remote = [...g.tiles.values()].find(tile => tile.tracks.screen);
    const track = remote ? remote.tracks.screen : g.screen?.getVideoTracks()[0] || null;
    playTrack(screenVideo, track);
    stage.hidden = !track;
    main.classList.toggle('has-screen', !!track);
    const label = remote ? t('gcScreenOf', { name: personName(remote.profile, remote.userId) }) : t('gcYourScreen');
    if (screenLabel.textContent !== label) screenLabel.textContent = label;
    stage.setAttribute('aria-label', label);
  }

  function paintError() {
    const err = g.state === 'error' ? g.error : null;
    errorBox.hidden = !err;
    main.hidden = !!err;
    if (err === shownError) return;
    shownError = err;
    clearInterval(countdown);
    clearTimeout(retryTimer);
    if (!err) return;
    errorText.textContent = errorMessage(err.code);
    const wait = RETRYABLE.has(err.code) ? Math.max(err.retryAfterMs || 0, 2000) : 0;
    retryNote.hidden = !wait;
    if (!wait) return;
    // Retryable: try again by itself when the server's wait is over (the button tries now).
    const until = err.at + wait;
    const tick = () => { retryNote.textContent = t('gcRetryIn', { n: Math.max(1, Math.ceil((until - Date.now()) / 1000)) }); };
    tick();
    countdown = setInterval(tick, 1000);
    retryTimer = setTimeout(() => g.retry(), Math.max(0, until - Date.now()));
  }

  function errorMessage(code) {
    const text = t('gcErr_' + code);
    return text === 'gcErr_' + code ? t('gcErr_INTERNAL') : text;
  }

  function paint() {
    if (closed) return;
    if (calls.group !== g) return closeNow();
    const state = g.state;
    const remote = g.tiles.size;
    dlg.dataset.state = state;
    dlg.dataset.signal = calls.signalState;
    dlg.dataset.epoch = String(g.epoch);
    const name = g.title || t('groupCall');
    if (title.textContent !== name) title.textContent = name;
    const text = statusText(remote);
    if (status.textContent !== text) status.textContent = text;
    const own = g.ended ? 'lost' : g.state === 'active' ? g.quality : g.state === 'connecting' ? 'good' : 'lost';
    quality.dataset.quality = own;
    quality.setAttribute('aria-label', t('gcQuality_' + own));
    quality.hidden = g.ended || state === 'error' || state === 'connecting';

    paintTiles();
    paintStage();
    waiting.hidden = !(state === 'active' && remote === 0);
    waiting.textContent = t(g.host ? 'gcWaitingHint' : 'gcWaitingHintGuest');
    paintError();
    const noticeCode = g.noMedia && !g.notice ? 'NO_MEDIA' : g.notice?.code;
    notice.hidden = !noticeCode || g.ended || state === 'error';
    if (noticeCode) notice.textContent = noticeCode === 'NO_MEDIA' ? t('gcNoMedia') : errorMessage(noticeCode);

    const live = !g.ended && state !== 'error';
    const hasCam = !!g.local?.getVideoTracks().length;
    b.mute.hidden = !live || !g.local?.getAudioTracks().length;
    b.camera.hidden = !live || !hasCam;
    b.share.hidden = !live || !g.canShare;
    b.leave.hidden = !live; // the error screen's Close leaves
    b.end.hidden = !live || !g.host;
    b.mute.setAttribute('aria-pressed', String(!!g.muted));
    b.camera.setAttribute('aria-pressed', String(!!g.cameraOff));
    b.share.setAttribute('aria-pressed', String(!!g.screen));
    swapIcon(b.mute, g.muted ? 'micOff' : 'mic');
    swapIcon(b.camera, g.cameraOff ? 'videoOff' : 'video');
    b.share.querySelector('.call-btn-label').textContent = g.screen ? t('gcStopShare') : t('gcShare');
    controls.hidden = !live;
    errorBox.classList.toggle('ended', g.ended);
    if (g.ended) { errorBox.hidden = false; main.hidden = true; errorText.textContent = statusText(0); retryNote.hidden = true; b.retry.hidden = true; }
    else b.retry.hidden = false;

    if (state !== lastState) {
      const first = lastState === null;
      lastState = state;
      const active = document.activeElement;
      const target = state === 'error' ? b.retry : g.ended ? b.close : b.mute.hidden ? b.leave : b.mute;
      if (first || !dlg.contains(active) || active === dlg || active.closest('[hidden]')) focus(target);
    }
  }

  function swapIcon(btn, name) {
    const svg = btn.querySelector('svg');
    if (svg.getAttribute('class') !== 'i-' + name) svg.replaceWith(icon(name));
  }

  /** Closing the ended or failed screen; a call still going on is left first. */
  function closeNow() {
    if (!g.ended) g.leave();
    if (calls.group === g) calls.groupEnded(g, 0);
    close();
  }

  function close() {
    if (closed) return;
    closed = true;
    offs.forEach(off => off());
    clearInterval(countdown);
    clearTimeout(retryTimer);
    for (const el of tiles.values()) dropTile(el);
    if (selfEl) dropTile(selfEl);
    screenVideo.srcObject = null;
    closeCallScreen(dlg, opener);
    onClosed();
  }

  const offs = [g.on(() => paint()), s.on('call', () => paint())];
  paint();
  return close;
}
