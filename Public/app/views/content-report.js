// Reporting a message or a profile to the moderators (`report_message`, `report_profile`):
// the report dialog with the reasons the server takes for them.
import { t } from '../i18n.js';
import { openReportDialog } from './report-dialog.js';

export const REASONS = ['spam', 'harassment', 'hate', 'violence', 'nudity', 'impersonation', 'other'];

function open(s, prefix, title, rpc, args) {
  return openReportDialog(s, {
    prefix,
    reasons: REASONS.map(r => [r, t('reportReason_' + r)]),
    text: { title, why: t('reportWhy'), details: t('reportDetails'), send: t('reportSend'), cancel: t('cancel'), done: t('reportSent') },
    rpc, args,
  });
}

/** Reports message `m` (someone else's). */
export const reportMessage = (s, m) => open(s, 'message-report', t('reportMessageTitle'), 'report_message', { message_id: m.id });

/** Reports the profile of user `userId`. */
export const reportProfile = (s, userId) => open(s, 'profile-report', t('reportProfileTitle'), 'report_profile', { user_id: userId });
