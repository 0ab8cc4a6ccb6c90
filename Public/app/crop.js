// Avatar upload (loaded when a photo is chosen): a square crop dialog (drag or arrow keys to
// move, slider or +/- to zoom), rendered to a 512×512 JPEG, uploaded to
// avatars/<uid>/avatar-<time>.jpg and set as the profile's avatar_url (a relative URL of this
// server's public storage).
import { h, focus } from './util.js';
import { t } from './i18n.js';
import { ready, upload, uploadErrorText } from './storage.js';
import { openDialog, errorText } from './views/common.js';

const STAGE = 600; // canvas pixels of the crop square (shown at up to 300 CSS px)
const OUT = 512;
const MAX_ZOOM = 4;

/**
 * Lets the user crop `file` and saves it as their avatar. Resolves with the updated profile,
 * or null when the dialog was closed. Throws a user-facing Error if the image cannot be read.
 */
export async function cropAvatar(s, file) {
  await ready();
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new Error(t('imageUnreadable'));
  }
  const { w, h: ht } = { w: bitmap.width, h: bitmap.height };
  const base = Math.max(STAGE / w, STAGE / ht); // zoom 1: the image just covers the square
  let zoom = 1;
  let x = (STAGE - w * base) / 2; // image's top-left corner in stage pixels
  let y = (STAGE - ht * base) / 2;

  const canvas = h('canvas', { 'aria-hidden': 'true' });
  canvas.width = canvas.height = STAGE;
  const stage = h('div', { class: 'crop-stage', tabindex: '0', role: 'application', testid: 'crop-stage', 'aria-label': t('cropArea') }, canvas);
  const slider = h('input', { type: 'range', id: 'crop-zoom', min: '1', max: String(MAX_ZOOM), step: '0.01', value: '1', testid: 'crop-zoom' });
  const status = h('p', { class: 'hint', role: 'status' });
  const error = h('p', { class: 'alert', role: 'alert', hidden: true });
  const save = h('button', { class: 'btn btn-primary', type: 'button', testid: 'crop-save' }, t('save'));
  const cancel = h('button', { class: 'btn', type: 'button' }, t('cancel'));
  const d = openDialog({ title: t('cropTitle') });
  d.body.append(stage, h('div', { class: 'crop-zoom' }, h('label', { for: 'crop-zoom', text: t('zoom') }), slider), status, error);
  d.foot.append(cancel, save);

  const clamp = () => {
    const dw = w * base * zoom, dh = ht * base * zoom;
    x = Math.min(0, Math.max(STAGE - dw, x));
    y = Math.min(0, Math.max(STAGE - dh, y));
  };
  const draw = (ctx, size) => {
    const k = size / STAGE;
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, size, size);
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(bitmap, x * k, y * k, w * base * zoom * k, ht * base * zoom * k);
  };
  const paint = () => { clamp(); draw(canvas.getContext('2d'), STAGE); };
  const setZoom = z => {
    const next = Math.min(MAX_ZOOM, Math.max(1, z));
    const cx = (STAGE / 2 - x) / zoom, cy = (STAGE / 2 - y) / zoom; // keep the centre still
    zoom = next;
    x = STAGE / 2 - cx * zoom;
    y = STAGE / 2 - cy * zoom;
    slider.value = String(zoom);
    paint();
  };
  paint();

  let drag = null;
  stage.addEventListener('pointerdown', e => {
    drag = { id: e.pointerId, px: e.clientX, py: e.clientY };
    stage.setPointerCapture(e.pointerId);
    focus(stage);
  });
  stage.addEventListener('pointermove', e => {
    if (!drag || drag.id !== e.pointerId) return;
    const k = STAGE / stage.clientWidth;
    x += (e.clientX - drag.px) * k;
    y += (e.clientY - drag.py) * k;
    drag.px = e.clientX;
    drag.py = e.clientY;
    paint();
  });
  const endDrag = () => { drag = null; };
  stage.addEventListener('pointerup', endDrag);
  stage.addEventListener('pointercancel', endDrag);
  stage.addEventListener('wheel', e => { e.preventDefault(); setZoom(zoom * (e.deltaY < 0 ? 1.1 : 1 / 1.1)); }, { passive: false });
  stage.addEventListener('keydown', e => {
    const step = e.shiftKey ? 60 : 15;
    const move = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] }[e.key];
    if (move) { e.preventDefault(); x += move[0]; y += move[1]; paint(); }
    else if (e.key === '+' || e.key === '=') { e.preventDefault(); setZoom(zoom * 1.1); }
    else if (e.key === '-' || e.key === '_') { e.preventDefault(); setZoom(zoom / 1.1); }
  });
  slider.addEventListener('input', () => setZoom(Number(slider.value)));
  focus(stage);

  return new Promise(resolve => {
    let result = null;
    let closed = false;
    let pending = null;
    cancel.addEventListener('click', () => d.close());
    // Closing (Cancel, Escape) while saving stops the upload and never changes the profile.
    d.dlg.addEventListener('close', () => { closed = true; pending?.abort?.(); bitmap.close?.(); resolve(result); });
    save.addEventListener('click', async () => {
      save.disabled = true;
      error.hidden = true;
      status.textContent = t('avatarUploading');
      try {
        const out = document.createElement('canvas');
        out.width = out.height = OUT;
        draw(out.getContext('2d'), OUT);
        const blob = await new Promise((ok, fail) => out.toBlob(b => (b ? ok(b) : fail(new Error(t('errGeneric')))), 'image/jpeg', 0.9));
        const path = `${s.userId}/avatar-${Date.now()}.jpg`;
        if (closed) return;
        pending = upload(s.api, 'avatars', path, new File([blob], 'avatar.jpg', { type: 'image/jpeg' }), { upsert: true });
        await pending.promise;
        if (closed) return;
        const p = await s.rpc('update_my_profile', { avatar_url: `/storage/v1/object/public/avatars/${path}` });
        s.setMe(p);
        result = p;
        status.textContent = t('avatarSaved');
        d.close();
      } catch (e) {
        if (closed) return;
        status.textContent = '';
        error.textContent = e.storage || e.network ? uploadErrorText(e) : errorText(e);
        error.hidden = false;
        save.disabled = false;
      }
    });
  });
}
