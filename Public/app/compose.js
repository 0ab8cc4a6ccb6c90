// The conversation composer's attachments (loaded on first use): the tray of files picked,
// dropped or pasted (preview, name, size, remove) and sending them as messages; voice
// recording with MediaRecorder (elapsed time, cancel, stop and send).
import { h, clear, icon, focus } from './util.js';
import { t } from './i18n.js';
import { ready, humanSize, clock, typeOf } from './storage.js';
import { glyph } from './media.js';

export { ready };

const MAX_TRAY = 10;

/** The message kind for a file: image, video, audio, else file. */
export function kindOf(file) {
  const type = typeOf(file);
  if (/^image\/(jpeg|png|gif|webp|heic|heif)$/.test(type)) return 'image';
  if (/^video\/(mp4|webm|quicktime)$/.test(type)) return 'video';
  if (/^audio\//.test(type)) return 'audio';
  return 'file';
}

/** The tray shown above the message input; `onChange()` runs after every add or removal. */
export function createTray(host, onChange) {
  const list = h('ul', { class: 'tray-list' });
  const el = h('div', { class: 'tray', testid: 'attachment-tray', role: 'group', 'aria-label': t('trayLabel') }, list);
  const items = [];
  host.append(el);
  el.hidden = true;

  function paint() {
    el.hidden = !items.length;
    onChange?.();
  }

  function add(files) {
    for (const file of files) {
      if (items.length >= MAX_TRAY) break;
      if (!(file instanceof Blob)) continue;
      const name = file.name || 'file';
      const item = { file, kind: kindOf(file), local: { name, size: file.size } };
      const thumb = h('span', { class: 'tray-thumb' }, glyph('file'));
      const remove = h('button', {
        class: 'icon-btn tray-remove', type: 'button', testid: 'tray-remove', 'aria-label': t('removeFile', { name }),
        onClick: () => {
          const i = items.indexOf(item);
          const next = li.nextElementSibling || li.previousElementSibling;
          if (i >= 0) items.splice(i, 1);
          li.remove();
          paint();
          focus(next?.querySelector('button') || host.closest('.composer')?.querySelector('textarea'));
        },
      }, icon('close'));
      const li = h('li', { class: 'tray-item', testid: 'tray-item', 'data-kind': item.kind },
        thumb, h('span', { class: 'tray-text' }, h('span', { class: 'tray-name', text: name, title: name }),
          h('span', { class: 'tray-size', text: humanSize(file.size) })), remove);
      item.el = li;
      items.push(item);
      list.append(li);
      if (item.kind === 'image' && globalThis.createImageBitmap) {
        createImageBitmap(file).then(bitmap => {
          Object.assign(item.local, { bitmap, width: bitmap.width, height: bitmap.height });
          const c = h('canvas', { 'aria-hidden': 'true' });
          c.width = c.height = 96;
          const side = Math.min(bitmap.width, bitmap.height);
          c.getContext('2d')?.drawImage(bitmap, (bitmap.width - side) / 2, (bitmap.height - side) / 2, side, side, 0, 0, 96, 96);
          clear(thumb, c);
        }, () => { item.kind = 'file'; li.dataset.kind = 'file'; });
      }
    }
    paint();
  }

  /** Sends every file as its own message; the caption and reply go with the first. */
  function send(s, convId, caption, replyTo) {
    const all = items.splice(0);
    all.forEach((item, i) => {
      item.el.remove();
      s.sendFile(convId, item.file, { kind: item.kind, caption: i === 0 ? caption : '', replyTo: i === 0 ? replyTo : null, local: item.local });
    });
    paint();
  }

  return { el, add, send, get size() { return items.length; } };
}

// Voice recording

const TYPES = ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/mp4', 'audio/webm', 'audio/ogg'];

/** The reason a recording could not start, as a user-facing text. */
function micError(e) {
  if (e?.name === 'NotAllowedError' || e?.name === 'SecurityError') return t('micDenied');
  if (e?.name === 'NotFoundError' || e?.name === 'OverconstrainedError') return t('micMissing');
  if (e?.name === 'NotReadableError' || e?.name === 'AbortError') return t('micBusy');
  // The browser's own message is English whatever the language: log it, say ours.
  console.warn('microphone:', e);
  return t('micUnsupported');
}

/**
 * Records a voice message into `bar` (shown instead of the input). Resolves once recording
 * has started; `onEnd({file, local} | null)` runs when it is stopped (file) or canceled.
 * Throws a user-facing Error when the microphone cannot be used.
 */
export async function startRecording(bar, onEnd) {
  if (!navigator.mediaDevices?.getUserMedia || !globalThis.MediaRecorder) throw new Error(t('micUnsupported'));
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (e) {
    throw new Error(micError(e));
  }
  const mimeType = TYPES.find(type => MediaRecorder.isTypeSupported?.(type)) || '';
  let rec;
  try {
    rec = new MediaRecorder(stream, mimeType ? { mimeType } : undefined);
  } catch (e) {
    stream.getTracks().forEach(tr => tr.stop());
    throw new Error(t('micUnsupported'));
  }
  const chunks = [];
  const peaks = [];
  let ctx = null;
  let meter = null;
  try {
    ctx = new AudioContext();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 512;
    ctx.createMediaStreamSource(stream).connect(analyser);
    const buf = new Uint8Array(analyser.fftSize);
    meter = setInterval(() => {
      analyser.getByteTimeDomainData(buf);
      let peak = 0;
      for (const v of buf) peak = Math.max(peak, Math.abs(v - 128));
      peaks.push(Math.min(255, peak * 2));
    }, 100);
  } catch { /* no level meter: the server measures the waveform */ }

  const started = performance.now();
  const time = h('span', { class: 'rec-time', testid: 'recording-time', role: 'timer', 'aria-label': t('recording') }, '0:00');
  const cancel = h('button', { class: 'icon-btn rec-cancel', type: 'button', testid: 'recording-cancel', 'aria-label': t('cancelRecording') }, icon('trash'));
  const stop = h('button', { class: 'icon-btn send', type: 'button', testid: 'recording-stop', 'aria-label': t('stopAndSend') }, icon('send'));
  clear(bar, cancel, h('span', { class: 'rec-dot', 'aria-hidden': 'true' }), h('span', { class: 'rec-label', text: t('recording') }), time, stop);
  bar.hidden = false;
  const tick = setInterval(() => { time.textContent = clock((performance.now() - started) / 1000); }, 250);

  let keep = false;
  const finish = () => {
    clearInterval(tick);
    clearInterval(meter);
    ctx?.close().catch(() => {});
    stream.getTracks().forEach(tr => tr.stop());
    bar.hidden = true;
    clear(bar);
  };
  rec.ondataavailable = e => { if (e.data?.size) chunks.push(e.data); };
  rec.onstop = () => {
    const ms = Math.round(performance.now() - started);
    finish();
    if (!keep) return onEnd(null);
    const type = (rec.mimeType || mimeType || 'audio/webm').split(';')[0];
    const ext = type.includes('ogg') ? 'ogg' : type.includes('mp4') ? 'm4a' : 'webm';
    const blob = new Blob(chunks, { type });
    if (ms < 500 || !blob.size) return onEnd({ tooShort: true });
    const name = `voice-${new Date().toISOString().replace(/[:.]/g, '-')}.${ext}`;
    onEnd({ file: new File([blob], name, { type }), local: { name, size: blob.size, duration_ms: ms, waveform: peaks.length ? peaks : null } });
  };
  const end = save => { keep = save; if (rec.state !== 'inactive') rec.stop(); else rec.onstop(); };
  cancel.addEventListener('click', () => end(false));
  stop.addEventListener('click', () => end(true));
  bar.onkeydown = e => { if (e.key === 'Escape') { e.preventDefault(); end(false); } };
  // A recorder that fails (the device went away) ends the recording and frees the microphone.
  rec.onerror = () => end(false);
  try {
    rec.start(250);
  } catch {
    finish();
    throw new Error(t('micUnsupported'));
  }
  focus(stop);
  return { cancel: () => end(false), stop: () => end(true) };
}
