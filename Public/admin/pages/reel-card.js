// One reel in the review queues: its poster (a click or Enter plays the MP4 in place, with the
// browser's controls; media come from this origin's /reels/v1/media/), caption, author,
// times, reports and their reasons, and the Approve / Warn (reported ones) / Reject buttons the
// page wires up.
import { h, clear } from '../../app/util.js';
import { t } from '../i18n.js';
import { badge, fact, timeTag } from '../ui.js';

/** `reel`: an item of GET /moderation/reels; `people`: ctx.people; `decide(reel, decision, button)`. */
export function reelCard(reel, { queue, people, canDecide, decide }) {
  const captionId = 'adm-reel-' + reel.reel_id;
  const button = (decision, kind, label) => h('button', {
    type: 'button', class: 'adm-btn adm-btn-small' + kind, testid: 'reel-' + decision, 'data-reel-id': reel.reel_id,
    'aria-describedby': captionId, text: t(label), onClick: e => decide(reel, decision, e.currentTarget),
  });
  const actions = canDecide ? h('div', { class: 'adm-row-actions adm-reel-actions' },
    button('approve', ' adm-btn-primary', 'reelApprove'),
    queue === 'reported' ? button('warn', '', 'reelWarn') : null,
    button('reject', ' adm-btn-danger', 'reelReject')) : null;
  return h('li', { class: 'adm-reel', testid: 'reel-card', 'data-reel-id': reel.reel_id, 'data-queue': queue },
    media(reel),
    h('div', { class: 'adm-reel-body' },
      h('p', { class: 'adm-reel-caption' + (reel.caption ? '' : ' adm-muted'), id: captionId, testid: 'reel-caption', text: reel.caption || t('reelNoCaption') }),
      h('ul', { class: 'adm-facts' },
        fact(t('reelAuthor'), people.label(reel.author_id)),
        fact(t('created'), timeTag(reel.created_at)),
        queue === 'reported' ? fact(t('reelReports'), h('span', { testid: 'reel-reports', 'data-count': String(reel.reports ?? 0), text: String(reel.reports ?? 0) })) : null,
        reel.last_report_at ? fact(t('reelLastReport'), timeTag(reel.last_report_at)) : null,
        reel.moderation_reason ? fact(t('reelHeldFor'), h('span', { class: 'adm-reason', text: reel.moderation_reason })) : null),
      reel.report_reasons?.length ? h('ul', { class: 'adm-reel-reasons', testid: 'reel-report-reasons', 'aria-label': t('reelReportReasons') },
        reel.report_reasons.map(r => h('li', null, badge(t('reportReason', { reason: r }), 'warn', { 'data-reason': r })))) : null,
      actions));
}

function media(reel) {
  const box = h('div', { class: 'adm-reel-media' });
  if (!reel.media?.poster) {
    return clear(box, h('div', { class: 'adm-reel-placeholder', testid: 'reel-no-media', text: t('reelNoMedia') }));
  }
  const poster = h('img', { src: reel.media.poster, alt: '', class: 'adm-reel-poster', testid: 'reel-poster', loading: 'lazy', decoding: 'async' });
  const fallback = h('span', { class: 'adm-reel-placeholder', 'aria-hidden': 'true', hidden: true, text: t('reelNoPoster') });
  poster.addEventListener('error', () => { poster.hidden = true; fallback.hidden = false; });
  const play = h('button', { type: 'button', class: 'adm-reel-preview', testid: 'reel-preview', 'data-reel-id': reel.reel_id,
    'aria-label': t('reelPlay', { caption: reel.caption || t('reelNoCaption') }) },
    poster, fallback, h('span', { class: 'adm-reel-play', 'aria-hidden': 'true', text: '▶' }));
  play.addEventListener('click', () => {
    const video = h('video', { class: 'adm-reel-video', testid: 'reel-video', controls: true, playsinline: true, preload: 'metadata',
      poster: reel.media.poster, src: reel.media.mp4, 'aria-label': t('reelVideo', { caption: reel.caption || t('reelNoCaption') }) });
    video.addEventListener('error', () => {
      video.dataset.error = 'true';
      box.append(h('p', { class: 'adm-reel-video-error', role: 'status', testid: 'reel-video-error', text: t('reelVideoError') }));
    }, { once: true });
    clear(box, video);
    video.focus();
    video.play?.().catch(() => { /* autoplay refused: the controls are there */ });
  });
  return clear(box, play);
}
