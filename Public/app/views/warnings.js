// Warnings from the moderators (`list_my_warnings`): shown once after sign-in while unseen,
// in a dialog that says what each is about and why; «Понятно» marks them seen
// (`acknowledge_warning`). Best effort: a server without warnings shows nothing.
import { h } from '../util.js';
import { t, getLang } from '../i18n.js';
import { openDialog } from './common.js';

export async function showWarnings(s) {
  let warnings;
  try {
    warnings = await s.rpc('list_my_warnings', { unseen_only: true, limit: 10 });
  } catch {
    return;
  }
  if (!Array.isArray(warnings) || !warnings.length) return;
  const d = openDialog({ title: t('warningsTitle') });
  d.dlg.dataset.testid = 'warnings-dialog';
  d.body.append(h('p', { text: t('warningsIntro') }), h('ul', { class: 'warnings' }, warnings.map(w => h('li', { testid: 'warning-item' },
    h('b', { text: t('warningAbout_' + w.subject_kind) }), ' ',
    h('time', { datetime: w.created_at, class: 'muted', text: new Date(w.created_at).toLocaleDateString(getLang()) }),
    h('p', { text: w.reason })))));
  const ok = h('button', { class: 'btn btn-primary', type: 'button', testid: 'warnings-ack', onClick: () => d.close() }, t('warningsAck'));
  d.foot.append(ok);
  d.dlg.addEventListener('close', () => {
    for (const w of warnings) s.rpc('acknowledge_warning', { warning_id: w.id }).catch(() => {});
  });
  ok.focus();
}
