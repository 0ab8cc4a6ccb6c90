// Notifications, sound and the tab badge (issue 14), loaded once the signed-in shell is up
// (`watch(session)`, from app.js). While the tab is hidden, a new message from someone else
// in a chat that is not muted (`muted_until` in the future) gets a browser notification —
// sender, chat and a short preview — and a short WebAudio beep; muted chats get neither. An
// incoming call gets a notification until it stops ringing. Clicking one focuses the tab and
// opens the chat (the service worker's `notificationclick`, or the page's own Notification).
// Permission is only asked from a click: the dismissible offer below or `settingsRow()`.
// The badge: the unread count as the app badge (`navigator.setAppBadge`) and a dot on the
// favicon; the title's «(n)» is the shell's.
import { h, nameOf } from './util.js';
import { t, LANGUAGE_CHANGED } from './i18n.js';
import { ready } from './pwa.js';
import { toast } from './toast.js';

const DISMISSED = 'eco:v1:notify-offer-dismissed';
const PREVIEW = 100; // characters of a message shown in its notification
const RECENT_MS = 60000; // a chat new to the inbox notifies only for a message this recent

let watched = null;

const supported = () => 'Notification' in globalThis;
const allowed = () => supported() && Notification.permission === 'granted';
const hidden = () => document.visibilityState === 'hidden';

/** Whether a chat is muted now (the server's flag may have expired since the inbox loaded). */
export function isMuted(item) {
  if (item?.muted_until) return Date.parse(item.muted_until) > Date.now();
  return !!item?.muted;
}

/** Starts notifications and the badge for `s` (once per session). */
export function watch(s) {
  if (!s || watched === s) return;
  watched = s;
  const seen = new Map(); // conversation id → last seq already known
  let seeded = false;
  const onInbox = () => {
    if (watched !== s) return;
    if (s.inbox.loaded) {
      for (const item of s.inbox.items) {
        const last = item.last_message;
        const before = seen.get(item.conversation_id);
        seen.set(item.conversation_id, Math.max(before || 0, last?.seq || 0));
        if (!seeded || !last || last.sender_id === s.userId || last.deleted) continue;
        const fresh = before === undefined ? Date.now() - Date.parse(last.created_at) < RECENT_MS : last.seq > before;
        if (fresh) message(s, item, last);
      }
      seeded = true;
    }
    badge(s.totalUnread());
  };
  s.on('inbox', onInbox);
  s.on('call', c => call(s, c));
  onInbox();
  offer();
  // Session gone (switch or sign-out): drop the badge this session set.
  const gone = setInterval(() => { if (s.destroyed) { clearInterval(gone); if (watched === s) { watched = null; badge(0); } } }, 2000);
}

function preview(last) {
  const body = String(last.body || '').replace(/\s+/g, ' ').trim();
  const kinds = { image: 'notifyPhoto', video: 'notifyVideo', voice: 'notifyVoice', audio: 'notifyAudio', file: 'notifyFile' };
  const label = kinds[last.kind] ? t(kinds[last.kind]) : '';
  const text = label && body ? `${label}: ${body}` : label || body || t('notifyMessage');
  return text.length > PREVIEW ? text.slice(0, PREVIEW - 1) + '…' : text;
}

async function message(s, item, last) {
  if (!hidden() || isMuted(item)) return;
  beep();
  if (!allowed()) return;
  await ready();
  const sender = item.participants?.find(p => p.id === last.sender_id);
  const title = item.kind === 'group'
    ? t('notifyIn', { name: nameOf(sender), chat: item.title || t('group') })
    : nameOf(sender || item.participants?.[0]);
  show(title, { body: preview(last), tag: 'conv:' + item.conversation_id, route: '#/chats/' + item.conversation_id });
}

const ringing = new Set();
async function call(s, c) {
  for (const id of [...ringing]) {
    if (c?.id === id && c.state === 'incoming') continue;
    ringing.delete(id);
    close('call:' + id);
  }
  if (!c || c.dir !== 'in' || c.state !== 'incoming' || ringing.has(c.id) || !hidden()) return;
  ringing.add(c.id);
  await ready();
  show(nameOf(c.peer), {
    body: t(c.type === 'audio' ? 'notifyCallAudio' : 'notifyCallVideo'), tag: 'call:' + c.id, requireInteraction: true,
    route: c.conversationId ? '#/chats/' + c.conversationId : '#/chats',
  });
}

async function registration() {
  try { return (await navigator.serviceWorker?.getRegistration('/')) || null; } catch { return null; }
}

/** Shows a notification: through the service worker when there is one (clicks reach it even
 *  after the page is gone), else the page's own Notification. */
async function show(title, { body, tag, route, requireInteraction = false }) {
  if (!allowed()) return;
  await ready();
  const options = { body, tag, renotify: true, requireInteraction, icon: '/icons/icon-192.png', badge: '/icons/icon-192.png', data: { route }, lang: document.documentElement.lang };
  const reg = await registration();
  if (reg?.active) {
    try { await reg.showNotification(title, options); return; } catch { /* fall back below */ }
  }
  try {
    const n = new Notification(title, options);
    n.onclick = () => { window.focus(); location.hash = route; n.close(); };
  } catch (e) { console.warn('notification:', e); }
}

async function close(tag) {
  const reg = await registration();
  for (const n of (await reg?.getNotifications({ tag }).catch(() => [])) || []) n.close();
}

// Sound: a short two-tone beep. The AudioContext is made on the first user gesture, so the
// browser lets it play later while the tab is hidden.
let audio = null;
const unlock = () => {
  removeEventListener('pointerdown', unlock, true);
  removeEventListener('keydown', unlock, true);
  try { audio ||= new AudioContext(); } catch { /* no WebAudio */ }
};
addEventListener('pointerdown', unlock, true);
addEventListener('keydown', unlock, true);

function beep() {
  if (!audio) return;
  audio.resume?.().catch(() => {});
  const now = audio.currentTime;
  const gain = audio.createGain();
  gain.gain.setValueAtTime(0.0001, now);
  gain.gain.exponentialRampToValueAtTime(0.12, now + 0.02);
  gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.32);
  gain.connect(audio.destination);
  const osc = audio.createOscillator();
  osc.type = 'sine';
  osc.frequency.setValueAtTime(880, now);
  osc.frequency.setValueAtTime(660, now + 0.14);
  osc.connect(gain);
  osc.start(now);
  osc.stop(now + 0.34);
}

// Badge: the app badge where the browser has one, and a dot on the favicon (a PNG drawn on a
// canvas as a data: URL; the content-security policy allows data: images).
let icon = null;
let plainHref = null;
let logo = null;
let shown = -1;
function badge(n) {
  if (n === shown) return;
  shown = n;
  if (navigator.setAppBadge) (n ? navigator.setAppBadge(n) : navigator.clearAppBadge()).catch(() => {});
  icon ||= document.querySelector('link[rel="icon"]');
  if (!icon) return;
  plainHref ??= icon.getAttribute('href');
  if (!n) {
    icon.setAttribute('href', plainHref);
    icon.setAttribute('type', 'image/svg+xml');
    delete icon.dataset.badge;
    return;
  }
  const paint = () => {
    if (shown !== n) return;
    const c = document.createElement('canvas');
    c.width = c.height = 64;
    const g = c.getContext('2d');
    if (!g) return;
    g.drawImage(logo, 0, 0, 64, 64);
    g.beginPath();
    g.arc(48, 16, 15, 0, Math.PI * 2);
    g.fillStyle = '#ffffff';
    g.fill();
    g.beginPath();
    g.arc(48, 16, 11, 0, Math.PI * 2);
    g.fillStyle = '#d92d20';
    g.fill();
    icon.setAttribute('type', 'image/png');
    icon.setAttribute('href', c.toDataURL('image/png'));
    icon.dataset.badge = String(n);
  };
  if (logo?.complete) return paint();
  logo = new Image();
  logo.onload = paint;
  logo.src = plainHref;
}

// Asking: never on load, only from a click.

async function ask() {
  if (!supported()) { toast(t('notifyUnsupported'), { error: true }); return 'unsupported'; }
  const result = await Notification.requestPermission();
  if (result === 'granted') toast(t('notifyOn'));
  else if (result === 'denied') toast(t('notifyDenied'), { error: true });
  return result;
}

/** The dismissible offer in the corner while permission was never asked. */
async function offer() {
  // Only in the desktop layout (the navigation column has room); phones ask from settings.
  if (!supported() || Notification.permission !== 'default' || !matchMedia('(min-width: 720px)').matches) return;
  try { if (localStorage.getItem(DISMISSED)) return; } catch { /* private mode */ }
  await ready();
  if (document.querySelector('.notify-offer')) return;
  const text = h('p');
  const enable = h('button', { class: 'btn btn-primary', type: 'button', testid: 'notify-enable', onClick: async () => { await ask(); done(); } });
  const later = h('button', {
    class: 'btn', type: 'button', testid: 'notify-later',
    onClick: () => { try { localStorage.setItem(DISMISSED, '1'); } catch { /* private mode */ } done(); },
  });
  const el = h('section', { class: 'notify-offer', testid: 'notify-offer' }, text, h('div', { class: 'row' }, enable, later));
  // It outlives the shell, which a language change rebuilds: it repaints its own words.
  const paint = () => {
    el.setAttribute('aria-label', t('notifySettings'));
    text.textContent = t('notifyOffer');
    enable.textContent = t('notifyEnable');
    later.textContent = t('notifyLater');
  };
  const done = () => { el.remove(); document.removeEventListener(LANGUAGE_CHANGED, paint); };
  paint();
  document.addEventListener(LANGUAGE_CHANGED, paint);
  document.body.append(el);
}

/** A settings row: whether notifications are on, and a button asking for permission. */
export function settingsRow() {
  const state = h('span', { class: 'muted', testid: 'notify-state' });
  const btn = h('button', { class: 'btn btn-small', type: 'button', testid: 'notify-settings-enable', hidden: true });
  const paint = () => {
    btn.textContent = t('notifyEnable');
    const p = supported() ? Notification.permission : 'unsupported';
    state.textContent = t({ granted: 'notifyStateOn', denied: 'notifyDenied', unsupported: 'notifyUnsupported' }[p] || 'notifyStateOff');
    btn.hidden = p !== 'default';
  };
  btn.addEventListener('click', async () => { await ask(); paint(); });
  const label = h('span', { class: 'label' });
  ready().then(() => { label.textContent = t('notifySettings'); paint(); });
  return h('div', { class: 'field notify-row', testid: 'notify-setting' }, label, state, btn);
}
