// One reel on screen (issue 15): the <video> (the HLS master where the browser plays HLS
// itself, else the MP4 fallback; the poster until it plays), the sound toggle (the whole
// picture is the button: a tap unmutes), the author and caption (hashtags link to their
// page; built from text nodes) and the action rail: like, comments, save, share and «⋯»
// («Не интересно», «Пожаловаться»). The feed (reels-feed.js) decides which card plays, which
// preloads and which lets its video go; the card counts the seconds actually watched and
// records them (`record_reel_view`) when it stops being the one on screen.
import { h, clear, avatar, nameOf, focus } from '../util.js';
import { t } from '../i18n.js';
import { toastError } from '../toast.js';
import { popover } from './common.js';
import { reelIcon } from './reel-icons.js';

/** The sound preference of this visit: muted until the user asks for sound once. */
const sound = { muted: true };

/** `1234` → `1,2 тыс.` (compact, in the current language). */
export function compact(n) {
  try { return new Intl.NumberFormat(document.documentElement.lang || 'ru', { notation: 'compact', maximumFractionDigits: 1 }).format(Number(n) || 0); } catch { return String(n || 0); }
}

/** Which source a <video> gets: HLS when the browser plays it natively, else the MP4. */
export function pickSource(video, media) {
  if (!media) return null;
  if (media.hls && video.canPlayType('application/vnd.apple.mpegurl')) return { kind: 'hls', url: media.hls };
  if (media.mp4) return { kind: 'mp4', url: media.mp4 };
  return media.hls ? { kind: 'hls', url: media.hls } : null;
}

/** The caption as text with #hashtags as links to their pages (no HTML is ever parsed). */
export function captionNodes(caption) {
  const out = [];
  const text = String(caption || '');
  const re = /#([\p{L}\p{N}_]{1,64})/gu;
  let last = 0;
  for (let m; (m = re.exec(text));) {
    if (m.index > last) out.push(text.slice(last, m.index));
    out.push(h('a', { class: 'reel-tag', href: '#/reels/tag/' + encodeURIComponent(m[1].toLowerCase()), text: m[0] }));
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/**
 * A reel card. hooks: {onComments(card), onShare(card), onNotInterested(card), onReport(card)}.
 * Returns {el, reel, play(), stop(), load(level), paintCounts()}.
 */
export function reelCard(s, reel, hooks) {
  const video = h('video', {
    class: 'reel-video', testid: 'reel-video', playsinline: true, loop: true, preload: 'none',
    poster: reel.media?.poster || null, 'aria-hidden': 'true', tabindex: '-1',
  });
  video.muted = true;
  video.setAttribute('muted', '');
  const soundIcon = h('span', { class: 'reel-sound-icon', 'aria-hidden': 'true' });
  const soundBtn = h('button', { class: 'reel-tap', type: 'button', testid: 'reel-sound', 'aria-pressed': 'false' }, soundIcon);
  const status = h('div', { class: 'reel-status', role: 'status', testid: 'reel-status' });
  const stage = h('div', { class: 'reel-stage' }, video, soundBtn, status);

  const author = reel.author || {};
  const who = h('a', { class: 'reel-author', href: author.username ? '#/u/' + encodeURIComponent(author.username) : '#/reels', testid: 'reel-author' },
    avatar(author, { size: 'sm' }), h('span', { text: nameOf(author) }));
  const caption = h('p', { class: 'reel-caption', testid: 'reel-caption' }, captionNodes(reel.caption));
  const info = h('div', { class: 'reel-info' }, who, reel.caption ? caption : null);

  const count = () => h('span', { class: 'reel-count', 'aria-hidden': 'true' });
  const likeN = count(), commentN = count(), saveN = count(), shareN = count();
  const likeBtn = h('button', { class: 'reel-act', type: 'button', testid: 'reel-like', onClick: () => toggle('like') }, reelIcon('heart'), likeN);
  const commentBtn = h('button', { class: 'reel-act', type: 'button', testid: 'reel-comments', onClick: () => hooks.onComments(card) }, reelIcon('comment'), commentN);
  const saveBtn = h('button', { class: 'reel-act', type: 'button', testid: 'reel-save', onClick: () => toggle('save') }, reelIcon('bookmark'), saveN);
  const shareBtn = h('button', { class: 'reel-act', type: 'button', testid: 'reel-share', onClick: () => hooks.onShare(card) }, reelIcon('share'), shareN);
  const moreBtn = h('button', { class: 'reel-act', type: 'button', testid: 'reel-more', 'aria-label': t('reelMore'), 'aria-haspopup': 'true', onClick: () => more() }, reelIcon('more'));
  const rail = h('div', { class: 'reel-rail' }, likeBtn, commentBtn, saveBtn, shareBtn, moreBtn);

  const el = h('article', {
    class: 'reel', testid: 'reel', 'data-id': reel.id, tabindex: '-1',
    'aria-label': t('reelLabel', { name: nameOf(author) }),
  }, h('div', { class: 'reel-frame' }, stage, info, rail));

  let watched = 0; // seconds watched since the card last became the one on screen
  let lastTime = null;
  let active = false;
  let source = null;

  function paintSound() {
    soundBtn.setAttribute('aria-pressed', String(!video.muted));
    soundBtn.setAttribute('aria-label', video.muted ? t('reelUnmute') : t('reelMute'));
    clear(soundIcon, reelIcon(video.muted ? 'muted' : 'sound'));
  }

  function paintCounts() {
    const c = reel.counts || {};
    const v = reel.viewer || {};
    likeN.textContent = compact(c.likes);
    commentN.textContent = compact(c.comments);
    saveN.textContent = compact(c.saves);
    shareN.textContent = compact(c.shares);
    likeBtn.setAttribute('aria-pressed', String(!!v.liked));
    likeBtn.setAttribute('aria-label', t(v.liked ? 'reelUnlike' : 'reelLike', { n: c.likes || 0 }));
    saveBtn.setAttribute('aria-pressed', String(!!v.saved));
    saveBtn.setAttribute('aria-label', t(v.saved ? 'reelUnsave' : 'reelSave', { n: c.saves || 0 }));
    commentBtn.setAttribute('aria-label', t('reelCommentsCount', { n: c.comments || 0 }));
    shareBtn.setAttribute('aria-label', t('reelShareCount', { n: c.shares || 0 }));
  }

  let busy = { like: false, save: false };
  async function toggle(kind) {
    if (busy[kind]) return;
    busy[kind] = true;
    const flag = kind === 'like' ? 'liked' : 'saved';
    const key = kind === 'like' ? 'likes' : 'saves';
    reel.viewer ||= {};
    reel.counts ||= {};
    const was = !!reel.viewer[flag];
    const before = reel.counts[key] || 0;
    reel.viewer[flag] = !was;
    reel.counts[key] = Math.max(0, before + (was ? -1 : 1));
    paintCounts();
    try {
      const r = await s.rpc((was ? 'un' : '') + kind + '_reel', { reel_id: reel.id });
      if (r && typeof r[flag] === 'boolean') reel.viewer[flag] = r[flag];
      if (r && Number.isFinite(r.count)) reel.counts[key] = r.count;
    } catch (e) {
      reel.viewer[flag] = was;
      reel.counts[key] = before;
      toastError(e);
    } finally {
      busy[kind] = false;
      paintCounts();
    }
  }

  function more() {
    const p = popover(moreBtn, [
      h('button', { type: 'button', testid: 'reel-not-interested', onClick: () => { p.close(false); hooks.onNotInterested(card); } }, t('reelNotInterested')),
      h('button', { type: 'button', class: 'danger', testid: 'reel-report', onClick: () => { p.close(false); hooks.onReport(card); } }, t('reelReport')),
    ], 'popover reel-menu');
  }

  function setStatus(text, retry) {
    clear(status, text ? h('p', { text }) : null,
      retry ? h('button', { class: 'btn btn-small', type: 'button', testid: 'reel-retry', onClick: e => { e.stopPropagation(); retry(); } }, t('retry')) : null);
    status.hidden = !text;
  }
  setStatus('');

  soundBtn.addEventListener('click', () => {
    sound.muted = !video.muted ? true : false;
    video.muted = sound.muted;
    if (video.paused && active) video.play().catch(() => {});
    paintSound();
  });

  video.addEventListener('timeupdate', () => {
    const now = video.currentTime;
    if (lastTime != null && active) {
      const d = now - lastTime;
      if (d > 0 && d < 1.5) watched += d;
    }
    lastTime = now;
  });
  video.addEventListener('playing', () => { setStatus(''); el.dataset.playing = 'true'; });
  video.addEventListener('pause', () => { el.dataset.playing = 'false'; });
  video.addEventListener('waiting', () => { if (active) status.dataset.state = 'buffering'; });
  video.addEventListener('error', () => {
    if (!source) return;
    // HLS refused by this browser after all: the MP4 fallback, once.
    if (source.kind === 'hls' && reel.media?.mp4) {
      source = { kind: 'mp4', url: reel.media.mp4 };
      video.src = source.url;
      el.dataset.source = 'mp4';
      if (active) video.play().catch(() => {});
      return;
    }
    setStatus(t('reelVideoFailed'), () => { setStatus(''); video.load(); if (active) play(); });
  });

  /** Sets how much of the video the browser should fetch: 'auto' (play next), 'metadata', or 'none' (let it go). */
  function load(level) {
    if (!reel.media) return;
    if (level === 'none') {
      if (source && !active) {
        video.removeAttribute('src');
        video.preload = 'none';
        video.load();
        source = null;
        delete el.dataset.source;
      }
      return;
    }
    video.preload = level;
    if (!source) {
      source = pickSource(video, reel.media);
      if (!source) return;
      el.dataset.source = source.kind;
      video.src = source.url;
    }
  }

  function play() {
    active = true;
    lastTime = null;
    if (!reel.media) { setStatus(t('reelNotReady')); return; }
    load('auto');
    video.muted = sound.muted;
    paintSound();
    video.play().catch(e => {
      if (e?.name === 'NotAllowedError' && !video.muted) {
        // Sound without a gesture is refused: play muted, the tap brings the sound.
        video.muted = true;
        sound.muted = true;
        paintSound();
        video.play().catch(() => {});
      }
    });
  }

  /** Stops playing; records the seconds watched since play(). */
  function stop() {
    active = false;
    if (!video.paused) video.pause();
    flushView();
  }

  function flushView() {
    const secs = Math.min(3600, Math.round(watched));
    watched = 0;
    if (secs < 1) return;
    s.rpc('record_reel_view', { reel_id: reel.id, watched_seconds: secs }).catch(() => {});
  }

  paintCounts();
  paintSound();
  const card = { el, reel, play, stop, load, paintCounts, focusRail: () => focus(likeBtn), video };
  return card;
}
