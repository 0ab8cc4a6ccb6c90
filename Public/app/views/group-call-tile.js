// One tile of the group call screen (views/group-call.js): a person's camera (or their avatar
// when there is none or it is off), their name, a muted-microphone and a camera-off mark, the
// connection quality, a ring while they talk, and their sound (an <audio> per remote tile).
// Built once per device and patched in place on every change; the tile's aria-label says all
// of it in words. Also the quality bars of the screen's top bar.
import { h, icon, avatar, nameOf } from '../util.js';
import { t } from '../i18n.js';

const SVG = 'http://www.w3.org/2000/svg';

/** Four signal bars; data-quality (good, fair, poor, lost) says how many are lit (styles/group-call.css). */
export function qualityBars() {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 20 16');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', 'gc-bars');
  for (let i = 0; i < 4; i++) {
    const bar = document.createElementNS(SVG, 'rect');
    bar.setAttribute('x', String(1 + i * 5));
    bar.setAttribute('y', String(12 - i * 4));
    bar.setAttribute('width', '3');
    bar.setAttribute('height', String(4 + i * 4));
    bar.setAttribute('rx', '1');
    svg.append(bar);
  }
  return svg;
}

/** Plays `track` in `el` (a new stream only when the track changed); null stops it. */
export function playTrack(el, track) {
  const current = el.srcObject?.getTracks()[0] || null;
  if (current === track) return;
  el.srcObject = track ? new MediaStream([track]) : null;
  if (track) el.play().catch(() => {});
}

/** The display name of a person in the call: the profile's, else a short form of the user id. */
export function personName(profile, userId) {
  if (profile) return nameOf(profile);
  return userId ? t('gcUserShort', { id: String(userId).slice(0, 8) }) : t('unknownUser');
}

/** A new tile element for `tile` (a remote device's, or the own one with self:true); patch it with paintTile. */
export function tileElement(tile, onChange) {
  const video = h('video', { class: 'gc-video', testid: 'group-tile-video', autoplay: true, playsinline: true, 'aria-hidden': 'true' });
  video.muted = true; // sound plays from the tile's <audio>
  video.addEventListener('resize', onChange);
  video.addEventListener('loadeddata', onChange);
  const face = h('span', { class: 'gc-face' });
  const name = h('span', { class: 'gc-name', testid: 'group-tile-name' });
  const micOff = h('span', { class: 'gc-mark', testid: 'group-tile-mic-off', hidden: true }, icon('micOff'));
  const camOff = h('span', { class: 'gc-mark', testid: 'group-tile-cam-off', hidden: true }, icon('videoOff'));
  const quality = h('span', { class: 'gc-quality', testid: 'group-tile-quality' }, qualityBars());
  const el = h('div', {
    class: 'gc-tile' + (tile.self ? ' self' : ''), role: 'group', testid: 'group-tile', 'data-device-id': tile.deviceId,
    'data-user-id': tile.userId || '', ...(tile.self && { 'data-self': '' }),
  }, video, face, h('div', { class: 'gc-tile-bar' }, name, micOff, camOff, quality));
  const audio = tile.self ? null : h('audio', { class: 'gc-audio', autoplay: true });
  if (audio) el.append(audio);
  el._p = { video, face, name, micOff, camOff, quality, audio };
  return el;
}

/**
 * Patches a tile element: `view` = {name (the label), person ({id, display_name, avatar_url}
 * for the avatar), videoTrack, audioTrack, micOff, camOff, talking, speaker, quality, mirror}.
 */
export function paintTile(el, view) {
  const p = el._p;
  if (p.name.textContent !== view.name) p.name.textContent = view.name;
  const person = view.person;
  const sig = JSON.stringify([person.id, person.display_name, person.avatar_url]);
  if (p.face.dataset.sig !== sig) {
    p.face.dataset.sig = sig;
    p.face.replaceChildren(avatar(person, { size: 'lg' }));
  }
  const videoTrack = view.camOff ? null : view.videoTrack;
  playTrack(p.video, videoTrack);
  if (p.audio) playTrack(p.audio, view.audioTrack);
  const showing = !!videoTrack && videoTrack.readyState === 'live' && p.video.videoWidth > 0;
  el.classList.toggle('has-video', showing);
  el.classList.toggle('mirror', !!view.mirror);
  el.classList.toggle('talking', !!view.talking);
  el.classList.toggle('speaker', !!view.speaker);
  p.micOff.hidden = !view.micOff;
  p.camOff.hidden = !view.camOff;
  p.quality.dataset.quality = view.quality || 'good';
  p.quality.hidden = !view.quality;
  const parts = [view.name];
  if (view.micOff) parts.push(t('gcMicOff'));
  if (view.camOff) parts.push(t('gcCamOff'));
  if (view.talking) parts.push(t('gcTalking'));
  if (view.quality && view.quality !== 'good') parts.push(t('gcQuality_' + view.quality));
  const label = parts.join(', ');
  if (el.getAttribute('aria-label') !== label) el.setAttribute('aria-label', label);
}

/** Stops what a tile plays before it leaves the page. */
export function dropTile(el) {
  el._p.video.srcObject = null;
  if (el._p.audio) el._p.audio.srcObject = null;
  el.remove();
}
