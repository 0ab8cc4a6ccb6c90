// #/camera (issue 14): the live camera with colour looks drawn by camera-filters.js (WebGL
// shaders, or the 2D canvas where WebGL is missing), front/back switch, a photo as a JPEG,
// then «Отправить в чат» (the chat of #/camera/<id>, else one picked from the inbox; sent as
// an image like a picked file, session.sendFile) or «Сделать аватаром» (the crop dialog of
// crop.js). #/camera/avatar comes from the profile and offers the avatar first.
// The camera is released when the page closes. No blob: URLs (the content-security policy):
// the picture stays on canvases.
import { h, clear, focus, avatar, stylesheet } from '../util.js';
import { t } from '../i18n.js';
import { go } from '../router.js';
import { toast, announce } from '../toast.js';
import { openDialog, chatTitle, errorText } from './common.js';
import { ready as appStrings } from '../pwa.js';
import { FILTERS, createRenderer } from '../camera-filters.js';

function loadStyles() {
  return Promise.all([stylesheet(new URL('../../styles/camera.css', import.meta.url)), appStrings()]);
}

const MAX_SIDE = 1280; // the photo's longer side at most

/** The user-facing reason getUserMedia failed. */
function cameraError(e) {
  if (e?.name === 'NotAllowedError' || e?.name === 'SecurityError') return { key: 'cameraDenied', state: 'denied' };
  if (e?.name === 'NotFoundError' || e?.name === 'OverconstrainedError') return { key: 'cameraMissing', state: 'missing' };
  if (e?.name === 'NotReadableError' || e?.name === 'AbortError') return { key: 'cameraBusy', state: 'busy' };
  console.warn('camera:', e);
  return { key: 'cameraUnsupported', state: 'unsupported' };
}

export function cameraView(main, s, route) {
  const target = route.target && route.target !== 'avatar' ? route.target : null;
  let closed = false;
  let stream = null;
  let facing = 'user';
  let filter = 'original';
  let renderer = null;
  let frame = 0;
  let cameras = 0;
  let photo = null; // {blob, width, height} once taken

  const title = h('h1', { tabindex: '-1' });
  const status = h('p', { class: 'camera-status', role: 'status', 'aria-live': 'polite', testid: 'camera-status' });
  const note = h('p', { class: 'hint camera-note', testid: 'camera-note', hidden: true });
  const video = h('video', { class: 'camera-source', muted: true, playsinline: true, autoplay: true, 'aria-hidden': 'true', testid: 'camera-video' });
  video.muted = true;
  let live = h('canvas', { class: 'camera-canvas', role: 'img', testid: 'camera-canvas' });
  const still = h('canvas', { class: 'camera-canvas', role: 'img', testid: 'camera-still', hidden: true });
  const stage = h('div', { class: 'camera-stage', 'data-state': 'loading', testid: 'camera-stage' }, live, still, video);
  const filterBar = h('div', { class: 'camera-filters', role: 'group', testid: 'camera-filters' });
  const switchBtn = h('button', { class: 'btn', type: 'button', testid: 'camera-switch', hidden: true, onClick: () => flip() });
  const shootBtn = h('button', { class: 'btn btn-primary camera-shoot', type: 'button', testid: 'camera-shoot', disabled: true, onClick: () => shoot() });
  const retakeBtn = h('button', { class: 'btn', type: 'button', testid: 'camera-retake', onClick: () => retake() });
  const sendBtn = h('button', { class: 'btn btn-primary', type: 'button', testid: 'camera-send', onClick: () => sendToChat() });
  const avatarBtn = h('button', { class: 'btn', type: 'button', testid: 'camera-avatar-save', onClick: () => makeAvatar() });
  const liveRow = h('div', { class: 'camera-actions' }, switchBtn, shootBtn);
  const photoRow = h('div', { class: 'camera-actions', hidden: true, testid: 'camera-photo-actions' }, retakeBtn,
    ...(route.target === 'avatar' ? [avatarBtn, sendBtn] : [sendBtn, avatarBtn]));
  const error = h('div', { class: 'camera-error', role: 'alert', testid: 'camera-error', hidden: true });
  const page = h('div', { class: 'page camera-page', testid: 'camera-page' }, title, status, note, error, stage, filterBar, liveRow, photoRow);
  clear(main, h('div', { class: 'page' }, h('p', { role: 'status', text: '…' })));

  loadStyles().then(() => {
    if (closed) return;
    title.textContent = t('cameraTitle');
    live.setAttribute('aria-label', t('cameraLive'));
    still.setAttribute('aria-label', t('cameraPreview'));
    filterBar.setAttribute('aria-label', t('cameraFilters'));
    switchBtn.textContent = t('cameraSwitch');
    shootBtn.textContent = t('cameraShoot');
    retakeBtn.textContent = t('cameraRetake');
    sendBtn.textContent = t('cameraSendToChat');
    avatarBtn.textContent = t('cameraMakeAvatar');
    for (const f of FILTERS) {
      const name = 'filter' + f[0].toUpperCase() + f.slice(1);
      filterBar.append(h('button', {
        class: 'camera-filter', type: 'button', testid: 'camera-filter', 'data-filter': f, 'aria-pressed': String(f === filter),
        onClick: e => pick(f, e.currentTarget),
      }, t(name)));
    }
    clear(main, page);
    focus(title);
    start();
  });

  function setState(state, text) {
    stage.dataset.state = state;
    page.dataset.state = state;
    status.textContent = text || '';
  }

  function fail(key, state) {
    stopStream();
    setState(state, '');
    clear(error, h('p', { text: t(key) }),
      h('button', { class: 'btn', type: 'button', testid: 'camera-retry', onClick: () => { error.hidden = true; start(); } }, t('cameraRetry')));
    error.hidden = false;
    shootBtn.disabled = true;
    focus(error.querySelector('button'));
  }

  async function start() {
    error.hidden = true;
    setState('loading', t('cameraLoading'));
    if (!navigator.mediaDevices?.getUserMedia) return fail('cameraUnsupported', 'unsupported');
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: false, video: { facingMode: facing, width: { ideal: 1280 }, height: { ideal: 720 } },
      });
    } catch (e) {
      const { key, state } = cameraError(e);
      return fail(key, state);
    }
    if (closed) return stopStream();
    video.srcObject = stream;
    try { await video.play(); } catch { /* autoplay of a muted stream: the frames still come */ }
    await new Promise(resolve => (video.readyState >= 2 ? resolve() : video.addEventListener('loadeddata', resolve, { once: true })));
    if (closed) return stopStream();
    try {
      cameras = (await navigator.mediaDevices.enumerateDevices()).filter(d => d.kind === 'videoinput').length;
    } catch { cameras = 1; }
    switchBtn.hidden = cameras < 2;
    if (!renderer) makeRenderer();
    if (!renderer) return fail('cameraUnsupported', 'unsupported');
    shootBtn.disabled = false;
    setState(photo ? 'photo' : 'live', '');
    announce(t('cameraLive'));
    loop();
  }

  function makeRenderer() {
    renderer = createRenderer(live);
    if (renderer?.kind === 'webgl') return;
    if (!renderer) {
      // The canvas already gave a WebGL context that failed: a fresh one for the 2D fallback.
      const fresh = h('canvas', { class: 'camera-canvas', role: 'img', testid: 'camera-canvas', 'aria-label': t('cameraLive') });
      live.replaceWith(fresh);
      live = fresh;
      renderer = createRenderer(live, { prefer2d: true });
    }
    note.textContent = t('cameraNoGL');
    note.hidden = false;
  }

  function size() {
    const w = video.videoWidth || 640;
    const ht = video.videoHeight || 480;
    const k = Math.min(1, MAX_SIDE / Math.max(w, ht));
    return [Math.round(w * k), Math.round(ht * k)];
  }

  function loop() {
    cancelAnimationFrame(frame);
    const tick = () => {
      if (closed || !stream || photo) return;
      const [w, ht] = size();
      if (live.width !== w || live.height !== ht) { live.width = w; live.height = ht; }
      if (video.readyState >= 2) renderer.draw(video, filter, facing === 'user');
      live.dataset.renderer = renderer.kind;
      live.dataset.look = filter;
      frame = requestAnimationFrame(tick);
    };
    tick();
  }

  function pick(f, btn) {
    filter = f;
    for (const b of filterBar.children) b.setAttribute('aria-pressed', String(b === btn));
    if (photo) return;
    if (stream && video.readyState >= 2) { renderer.draw(video, filter, facing === 'user'); live.dataset.look = filter; }
  }

  async function flip() {
    facing = facing === 'user' ? 'environment' : 'user';
    stopStream();
    await start();
    focus(switchBtn);
  }

  async function shoot() {
    if (!stream || !renderer) return;
    // The preview of the front camera is a mirror; the photo is not (text in it reads right).
    // The frame is drawn once more without the mirror and copied at once, before the next tick.
    cancelAnimationFrame(frame);
    renderer.draw(video, filter, false);
    still.width = live.width;
    still.height = live.height;
    still.getContext('2d')?.drawImage(live, 0, 0);
    const blob = await new Promise(resolve => still.toBlob(resolve, 'image/jpeg', 0.9));
    if (closed) return;
    if (!blob) { toast(t('errGeneric'), { error: true }); loop(); return; }
    photo = { blob, width: still.width, height: still.height };
    live.hidden = true;
    still.hidden = false;
    liveRow.hidden = true;
    photoRow.hidden = false;
    setState('photo', '');
    focus(photoRow.querySelector('.btn-primary'));
  }

  function retake() {
    photo = null;
    still.hidden = true;
    live.hidden = false;
    photoRow.hidden = true;
    liveRow.hidden = false;
    setState('live', '');
    loop();
    focus(shootBtn);
  }

  function file() {
    const name = `photo-${new Date().toISOString().replace(/[:.]/g, '-')}.jpg`;
    return new File([photo.blob], name, { type: 'image/jpeg' });
  }

  async function sendTo(id) {
    const f = file();
    let bitmap = null;
    try { bitmap = await createImageBitmap(f); } catch { /* the bubble waits for the server's image */ }
    s.sendFile(id, f, { kind: 'image', local: { name: f.name, size: f.size, width: photo.width, height: photo.height, bitmap } });
    toast(t('cameraSent'));
    go('#/chats/' + id);
  }

  async function sendToChat() {
    if (!photo) return;
    if (target) return sendTo(target);
    if (!s.inbox.loaded) await s.loadInbox().catch(() => {});
    const d = openDialog({ title: t('cameraPickChat') });
    const items = s.inbox.items.filter(it => it.kind === 'group' || it.participants?.length);
    if (!items.length) d.body.append(h('p', { class: 'muted', text: t('cameraNoChats') }));
    const list = h('ul', { class: 'list camera-chats', testid: 'camera-chat-list' }, items.map(it => h('li', {},
      h('button', {
        class: 'btn camera-chat', type: 'button', testid: 'camera-chat', 'data-conversation': it.conversation_id,
        onClick: () => { d.close(); sendTo(it.conversation_id); },
      }, avatar(it.kind === 'group' ? { id: it.conversation_id, display_name: it.title } : it.participants[0], { size: 'sm' }),
      h('span', { text: chatTitle(s, it) })))));
    d.body.append(list);
    d.foot.append(h('button', { class: 'btn', type: 'button', onClick: () => d.close() }, t('cancel')));
    focus(list.querySelector('button'));
  }

  async function makeAvatar() {
    if (!photo) return;
    error.hidden = true;
    try {
      const p = await (await import('../crop.js')).cropAvatar(s, file());
      if (closed || !p) return;
      toast(t('cameraAvatarSaved'));
      go('#/me');
    } catch (e) {
      clear(error, h('p', { text: e.message || errorText(e) }));
      error.hidden = false;
    }
  }

  function stopStream() {
    cancelAnimationFrame(frame);
    stream?.getTracks().forEach(tr => tr.stop());
    stream = null;
    video.srcObject = null;
  }

  return {
    cleanup() {
      closed = true;
      stopStream();
      renderer?.destroy();
    },
  };
}
