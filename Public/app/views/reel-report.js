// «Пожаловаться» on a reel (issue 15): the report dialog with the reels' reasons, sent with
// `report_reel`. Resolves true when the report was taken (the feed then drops the reel).
import { t } from '../i18n.js';
import { openReportDialog } from './report-dialog.js';

export const REASONS = ['spam', 'violence', 'nudity', 'hate', 'other'];

export function openReport(s, card) {
  return openReportDialog(s, {
    prefix: 'reel-report',
    reasons: REASONS.map(r => [r, t('reelReason_' + r)]),
    text: { title: t('reelReportTitle'), why: t('reelReportWhy'), details: t('reelReportDetails'), send: t('reelReportSend'),
            cancel: t('cancel'), done: t('reelReported') },
    rpc: 'report_reel', args: { reel_id: card.reel.id },
  });
}
