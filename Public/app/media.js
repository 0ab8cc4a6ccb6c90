// Attachments inside message bubbles (loaded with the first message that has one): image
// previews with a full-screen viewer, inline video, file cards, voice messages with a
// waveform, progress and speed; the upload progress of an own message still being sent.
import { h, clear, icon, focus } from './util.js';
import { t } from './i18n.js';
import { ready, signedUrl, forget, humanSize, clock, uploadErrorText } from './storage.js';

export { ready, uploadErrorText };

const BUCKET = 'attachments';
const SVG = {
  play: 'M8 5v14l11-7z',
  pause: 'M8 5h3v14H8zM13 5h3v14h-3z',
  file: 'M6 3h8l4 4v14H6zM14 3v4h4',
  retry: 'M20 12a8 8 0 1 1-2.3-5.7M20 4v5h-5',
};

/** An icon of this module (same look as util.icon). */
export function glyph(name) {
  const el = icon('close');
  el.setAttribute('class', 'i-' + name);
  el.firstChild.setAttribute('d', SVG[name]);
  if (name === 'play' || name === 'pause') el.classList.add('solid');
  return el;
}

// Signed URLs are asked for only when a bubble comes near the visible part of the list.
let watcher = null;
const waiting = new WeakMap();
function whenNear(el, fn) {
  if (!globalThis.IntersectionObserver) { fn(); return; }
  watcher ||= new IntersectionObserver(entries => {
    for (const e of entries) {
      if (!e.isIntersecting) continue;
      watcher.unobserve(e.target);
      const run = waiting.get(e.target);
      waiting.delete(e.target);
      run?.();
    }
  }, { rootMargin: '800px 0px' });
  waiting.set(el, fn);
  watcher.observe(el);
}

/** The visible file name of an object name `<uuid>-<name>`. */
export const displayName = att => String(att?.name || att?.path?.split('/').pop() || '').replace(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-/i, '');

/**
 * Fills `slot` with the attachment of message `m`. `who` is the sender's name (alt texts).
 * While an own message is still uploading, it shows the local preview and the progress.
 */
export function renderAttachment(slot, s, m, who) {
  const att = m.attachment || {};
  const local = m.local || {};
  const uploading = !!m.upload && !m.seq;
  const kind = m.kind || 'file';
  let el;
  if (kind === 'image') el = imageBox(s, m, att, local, uploading, who);
  else if (kind === 'video') el = uploading ? fileCard(s, m, att, local, true) : videoBox(s, att, who);
  else if (kind === 'voice' || kind === 'audio') el = voicePlayer(s, m, att, local, uploading);
  else el = fileCard(s, m, att, local, uploading);
  clear(slot, el, uploading && m.state !== 'failed' && progressRow(s, m));
  slot._progress = uploading ? msg => paintProgress(slot, msg) : null;
  if (uploading) paintProgress(slot, m);
}

// Images

function boxSize(el, w, h_) {
  if (!(w > 0 && h_ > 0)) { el.style.aspectRatio = '4 / 3'; return; }
  const ratio = Math.min(2.5, Math.max(0.4, w / h_));
  el.style.aspectRatio = `${ratio}`;
  el.style.width = Math.round(Math.min(300, Math.max(140, w, 240 * Math.min(1, ratio)))) + 'px';
}

function drawBitmap(bitmap) {
  const c = h('canvas', { class: 'att-local', 'aria-hidden': 'true' });
  c.width = Math.min(600, bitmap.width);
  c.height = Math.round(c.width * bitmap.height / bitmap.width) || 1;
  c.getContext('2d')?.drawImage(bitmap, 0, 0, c.width, c.height);
  return c;
}

function imageBox(s, m, att, local, uploading, who) {
  const alt = m.body ? m.body.slice(0, 200) : t('photoBy', { name: who });
  const img = h('img', { alt, testid: 'attachment-image', decoding: 'async', draggable: 'false' });
  const open = h('button', { class: 'att-open', type: 'button', testid: 'attachment-image-open', 'aria-label': t('openPhoto') + ': ' + alt });
  const err = errorBox(() => load(true));
  const box = h('div', { class: 'att-img', 'data-state': 'loading' }, open, err);
  boxSize(box, att.width || local.width, att.height || local.height);
  let canvas = local.bitmap ? drawBitmap(local.bitmap) : null;
  if (canvas) open.append(canvas);
  if (uploading) { open.disabled = true; box.dataset.state = 'local'; return box; }
  open.append(img);
  const path = att.thumbnail_path || att.path;
  img.addEventListener('load', () => {
    box.dataset.state = 'ready';
    canvas?.remove();
    canvas = null;
    // The decoded local preview (a photo's full bitmap) is no longer needed: free it.
    local.bitmap?.close?.();
    if (local.bitmap) local.bitmap = null;
  });
  img.addEventListener('error', () => { if (img.getAttribute('src')) { forget(BUCKET, path); box.dataset.state = 'error'; } });
  open.addEventListener('click', () => { if (box.dataset.state === 'ready') openViewer(s, att, img, alt); });
  function load(again) {
    box.dataset.state = 'loading';
    if (again) forget(BUCKET, path);
    signedUrl(s.api, BUCKET, path).then(url => { img.src = url; }, () => { box.dataset.state = 'error'; });
  }
  whenNear(box, () => load(false));
  return box;
}

function errorBox(retry) {
  return h('div', { class: 'att-error', role: 'alert' }, h('span', { text: t('loadFailed') }),
    h('button', { class: 'btn btn-small', type: 'button', testid: 'attachment-retry', onClick: retry }, glyph('retry'), t('retry')));
}

/** Full-screen photo viewer: Escape, the close button or a click outside the photo close it. */
function openViewer(s, att, thumb, alt) {
  const opener = document.activeElement;
  const img = h('img', { alt, src: thumb.currentSrc || thumb.src });
  const close = h('button', { class: 'icon-btn viewer-close', type: 'button', testid: 'viewer-close', 'aria-label': t('close') }, icon('close'));
  const dlg = h('dialog', { class: 'viewer', testid: 'image-viewer', 'aria-label': t('photoViewer') }, img, close);
  close.addEventListener('click', () => dlg.close());
  dlg.addEventListener('click', e => { if (e.target === dlg) dlg.close(); });
  dlg.addEventListener('close', () => { dlg.remove(); if (opener?.isConnected) focus(opener); });
  document.body.append(dlg);
  dlg.showModal();
  focus(close);
  if (att.thumbnail_path && att.thumbnail_path !== att.path) {
    signedUrl(s.api, BUCKET, att.path).then(url => {
      const full = new Image();
      full.onload = () => { img.src = url; };
      full.src = url;
    }, () => {});
  }
}

// Video

function videoBox(s, att, who) {
  const v = h('video', { controls: true, preload: 'metadata', playsinline: true, testid: 'attachment-video', 'aria-label': t('videoBy', { name: who }) });
  const box = h('div', { class: 'att-video', 'data-state': 'loading' }, v, errorBox(() => load(true)));
  boxSize(box, att.width, att.height);
  v.addEventListener('loadedmetadata', () => { box.dataset.state = 'ready'; });
  v.addEventListener('error', () => { forget(BUCKET, att.path); box.dataset.state = 'error'; });
  function load(again) {
    box.dataset.state = 'loading';
    if (again) forget(BUCKET, att.path);
    if (att.poster_path) signedUrl(s.api, BUCKET, att.poster_path).then(url => { v.poster = url; }, () => {});
    signedUrl(s.api, BUCKET, att.path).then(url => { v.src = url; }, () => { box.dataset.state = 'error'; });
  }
  whenNear(box, () => load(false));
  return box;
}

// Files

function fileCard(s, m, att, local, uploading) {
  const name = local.name || displayName(att) || t('kind_file');
  const size = att.size ?? local.size;
  const link = h('a', { class: 'btn btn-small att-download', testid: 'attachment-download', 'aria-label': t('download', { name }), hidden: true }, icon('down'));
  const card = h('div', { class: 'att-file', testid: 'attachment-file' },
    h('span', { class: 'att-file-icon' }, glyph('file')),
    h('span', { class: 'att-file-text' }, h('span', { class: 'att-file-name', text: name, title: name }),
      h('span', { class: 'att-file-size', text: size != null ? humanSize(size) : '' })),
    link);
  if (!uploading && att.path) {
    whenNear(card, () => signedUrl(s.api, BUCKET, att.path).then(url => {
      link.href = url + (url.includes('?') ? '&' : '?') + 'download=' + encodeURIComponent(name);
      link.setAttribute('download', name);
      link.hidden = false;
    }, () => {}));
  }
  return card;
}

// Voice messages

const BARS = 36;
const SPEEDS = [1, 1.5, 2];
let playing = null; // the audio element playing now (one at a time)

function bars(waveform) {
  const src = Array.isArray(waveform) && waveform.length ? waveform.map(Number) : null;
  const out = [];
  for (let i = 0; i < BARS; i++) {
    if (!src) { out.push(0.3); continue; }
    const a = Math.floor(i * src.length / BARS), b = Math.max(a + 1, Math.floor((i + 1) * src.length / BARS));
    let peak = 0;
    for (let j = a; j < b && j < src.length; j++) peak = Math.max(peak, src[j] || 0);
    out.push(Math.max(0.12, Math.min(1, peak / 255)));
  }
  return out;
}

function voicePlayer(s, m, att, local, uploading) {
  const known = (att.duration_ms ?? local.duration_ms ?? 0) / 1000;
  const audio = h('audio', { preload: 'none' });
  const play = h('button', { class: 'voice-play', type: 'button', testid: 'voice-play', 'aria-label': t('play') }, glyph('play'));
  const wave = h('div', {
    class: 'voice-wave', role: 'slider', tabindex: uploading ? null : '0', 'aria-label': t('voicePosition'),
    'aria-valuemin': '0', 'aria-valuemax': String(Math.round(known)), 'aria-valuenow': '0', 'aria-valuetext': clock(0),
  }, bars(att.waveform ?? local.waveform).map(v => { const b = h('span'); b.style.height = Math.round(v * 100) + '%'; return b; }));
  const time = h('span', { class: 'voice-time', text: known > 0 ? clock(known) : '' });
  let speed = 0;
  const rate = h('button', { class: 'voice-speed', type: 'button', testid: 'voice-speed', 'aria-label': t('speed', { v: '1×' }) }, '1×');
  const box = h('div', { class: 'voice', testid: 'voice-player', 'data-state': 'paused' }, play, h('div', { class: 'voice-mid' }, wave, time), rate, audio);
  if (m.kind === 'audio' && att.path) box.append(h('span', { class: 'voice-name', text: displayName(att) }));
  if (uploading) { play.disabled = true; rate.disabled = true; return box; }
  const duration = () => (Number.isFinite(audio.duration) && audio.duration > 0 ? audio.duration : known);
  const paint = () => {
    const d = duration();
    const cur = audio.currentTime || 0;
    const frac = d ? Math.min(1, cur / d) : 0;
    const on = Math.round(frac * BARS);
    [...wave.children].forEach((b, i) => b.classList.toggle('on', i < on));
    time.textContent = box.dataset.state === 'playing' || cur > 0 ? clock(cur) + (d ? ' / ' + clock(d) : '') : d ? clock(d) : '';
    wave.setAttribute('aria-valuemax', String(Math.round(d)));
    wave.setAttribute('aria-valuenow', String(Math.round(cur)));
    wave.setAttribute('aria-valuetext', clock(cur) + (d ? ' / ' + clock(d) : ''));
    box.dataset.current = cur.toFixed(2);
  };
  const setState = st => {
    box.dataset.state = st;
    clear(play, glyph(st === 'playing' ? 'pause' : 'play'));
    play.setAttribute('aria-label', st === 'playing' ? t('pause') : st === 'error' ? t('loadFailed') + '. ' + t('retry') : t('play'));
    box.title = st === 'error' ? t('loadFailed') : '';
    if (st === 'error') time.textContent = t('loadFailed');
  };
  async function toggle() {
    if (box.dataset.state === 'playing') { audio.pause(); return; }
    try {
      if (!audio.getAttribute('src')) {
        setState('loading');
        audio.src = await signedUrl(s.api, BUCKET, att.path);
      }
      if (playing && playing !== audio) playing.pause();
      playing = audio;
      audio.playbackRate = SPEEDS[speed];
      await audio.play();
    } catch (e) {
      if (e?.name === 'AbortError') return;
      forget(BUCKET, att.path);
      audio.removeAttribute('src');
      setState('error');
    }
  }
  play.addEventListener('click', toggle);
  audio.addEventListener('playing', () => setState('playing'));
  audio.addEventListener('pause', () => { setState('paused'); paint(); });
  audio.addEventListener('ended', () => { setState('paused'); audio.currentTime = 0; paint(); });
  audio.addEventListener('timeupdate', paint);
  audio.addEventListener('durationchange', paint);
  audio.addEventListener('error', () => { if (audio.getAttribute('src')) { forget(BUCKET, att.path); audio.removeAttribute('src'); setState('error'); } });
  rate.addEventListener('click', () => {
    speed = (speed + 1) % SPEEDS.length;
    const label = SPEEDS[speed] + '×';
    rate.textContent = label;
    rate.setAttribute('aria-label', t('speed', { v: label }));
    audio.playbackRate = SPEEDS[speed];
  });
  const seek = frac => {
    const d = duration();
    if (!d || !audio.getAttribute('src')) return;
    audio.currentTime = Math.max(0, Math.min(d, frac * d));
    paint();
  };
  wave.addEventListener('click', e => { const r = wave.getBoundingClientRect(); seek((e.clientX - r.left) / r.width); });
  wave.addEventListener('keydown', e => {
    const d = duration();
    const step = { ArrowRight: 5, ArrowUp: 5, ArrowLeft: -5, ArrowDown: -5 }[e.key];
    if (step && d) { e.preventDefault(); seek((audio.currentTime + step) / d); }
    else if (e.key === 'Home') { e.preventDefault(); seek(0); }
    else if (e.key === ' ' || e.key === 'Enter') { e.preventDefault(); toggle(); }
  });
  return box;
}

// Upload progress of an own message

function progressRow(s, m) {
  const bar = h('div', { class: 'att-bar', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': '0', 'aria-label': t('uploadingPct', { pct: 0 }) }, h('span'));
  const pct = h('span', { class: 'att-pct', testid: 'upload-progress', 'aria-hidden': 'true' });
  const live = h('span', { class: 'sr-only', 'aria-live': 'polite' });
  const cancel = h('button', { class: 'icon-btn att-cancel', type: 'button', testid: 'upload-cancel', 'aria-label': t('uploadCancel'), onClick: () => s.cancelSend(m.conversation_id, m.client_msg_id) }, icon('close'));
  return h('div', { class: 'att-progress' }, bar, pct, cancel, live);
}

function paintProgress(slot, m) {
  const row = slot.querySelector('.att-progress');
  if (!row) return;
  const u = m.upload || {};
  const pct = u.total ? Math.min(100, Math.floor(100 * u.loaded / u.total)) : 0;
  const [bar, label, cancel, live] = row.children;
  bar.firstChild.style.width = pct + '%';
  bar.setAttribute('aria-valuenow', String(pct));
  bar.setAttribute('aria-label', t('uploadingPct', { pct }));
  label.textContent = u.done ? '100%' : pct + '%';
  cancel.hidden = !!u.done;
  const step = u.done ? 100 : Math.floor(pct / 25) * 25;
  if (row.dataset.step !== String(step)) {
    row.dataset.step = String(step);
    live.textContent = t('uploadingOf', { name: m.local?.name || '', pct: step });
  }
}
