// An author's reel in words (issue 15): its processing state, moderation and a failure
// reason explained (the server's reason is kept as a detail line), and `watchReels`, which
// follows processing live — the `reel_progress` broadcast on the author's `user:<id>` topic
// (the session emits it as `broadcast:reel_progress`) — with a poll of `get_my_reels` every
// few seconds as the fallback while a reel is unfinished.
import { t } from '../i18n.js';

/** Whether the pipeline is still working on a reel. */
export const unfinished = r => r && (r.state === 'uploaded' || r.state === 'processing');

/** The one-line state of an own reel. */
export function stateText(r) {
  if (!r) return '';
  if (r.state === 'uploaded') return t('reelStateUploaded');
  if (r.state === 'processing') return t('reelStateProcessing', { n: Math.max(0, Math.min(100, Number(r.progress) || 0)) });
  if (r.state === 'failed') return t('reelStateFailed');
  if (r.moderation === 'rejected') return t('reelStateRejected');
  if (r.moderation === 'pending') return t('reelStatePending');
  if (r.visibility === 'private') return t('reelStatePrivate');
  if (r.visibility === 'followers') return t('reelStateFollowers');
  return t('reelStatePublished');
}

/** What a failure means for the author, in words; null when there is no failure. */
export function failureText(reason) {
  if (reason == null) return null;
  const s = String(reason).toLowerCase();
  if (/duration|too long|longer than|90 ?s/.test(s)) return t('reelFailTooLong');
  if (/size|too large|bytes|413/.test(s)) return t('reelFailTooBig');
  if (/no video|video stream|not a video|magic|container|kind|unsupported|invalid data|moov atom/.test(s)) return t('reelFailNotVideo');
  if (/corrupt|decode|damaged|truncat|error while/.test(s)) return t('reelFailDamaged');
  if (/attempt|timed? ?out|lease|dead|gave up/.test(s)) return t('reelFailRetries');
  if (/moderat|reject|blocklist/.test(s)) return t('reelFailModeration');
  if (/quota|rate|per (hour|day)|limit/.test(s)) return t('reelFailLimit');
  return t('reelFailOther');
}

/**
 * Calls `onRecord(partialRecord)` for every progress report of the signed-in author's reels:
 * realtime reports as they come, and every `pollMs` the list of `get_my_reels` while
 * `needed()` says some reel is unfinished. Returns stop().
 */
export function watchReels(s, { onRecord, needed, pollMs = 4000 }) {
  let stopped = false;
  const off = s.on('broadcast:reel_progress', p => {
    if (!stopped && p?.reel_id) onRecord({ id: p.reel_id, state: p.state, progress: p.progress, failure_reason: p.failure_reason ?? null, live: true });
  });
  let timer = null;
  const poll = async () => {
    timer = null;
    if (stopped) return;
    if (needed()) {
      try {
        const r = await s.rpc('get_my_reels', { limit: 30 });
        if (stopped) return;
        for (const rec of r?.reels || (Array.isArray(r) ? r : [])) onRecord(rec);
      } catch { /* the next poll tries again */ }
    }
    if (!stopped) timer = setTimeout(poll, pollMs);
  };
  timer = setTimeout(poll, pollMs);
  return () => { stopped = true; off(); clearTimeout(timer); };
}
