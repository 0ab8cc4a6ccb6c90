// «Пожаловаться» on a reel (issue 15): a dialog with the reason (spam, violence, nudity,
// hate, other — radio buttons) and optional details (≤ 1000 characters), sent with
// `report_reel`. Resolves true when the report was taken (the feed then drops the reel).
import { h } from '../util.js';
import { t } from '../i18n.js';
import { toast } from '../toast.js';
import { openDialog, errorText } from './common.js';

export const REASONS = ['spam', 'violence', 'nudity', 'hate', 'other'];

export function openReport(s, card) {
  return new Promise(resolve => {
    let sent = false;
    const d = openDialog({ title: t('reelReportTitle') });
    d.dlg.dataset.testid = 'reel-report-dialog';
    const options = REASONS.map((r, i) => h('label', { class: 'reel-report-option' },
      h('input', { type: 'radio', name: 'reel-report-reason', value: r, testid: 'reel-report-reason', checked: i === 0 }),
      h('span', { text: t('reelReason_' + r) })));
    const details = h('textarea', { class: 'input', id: 'reel-report-details', rows: 3, maxlength: 1000, testid: 'reel-report-details' });
    const hint = h('p', { class: 'hint', role: 'status', 'aria-live': 'polite' });
    const send = h('button', { class: 'btn btn-danger', type: 'submit', testid: 'reel-report-send' }, t('reelReportSend'));
    const form = h('form', { class: 'reel-report-form' },
      h('fieldset', { class: 'reel-report-reasons' }, h('legend', { text: t('reelReportWhy') }), options),
      h('div', { class: 'field' }, h('label', { for: 'reel-report-details', text: t('reelReportDetails') }), details), hint);
    d.body.append(form);
    d.foot.append(h('button', { class: 'btn', type: 'button', onClick: () => d.close() }, t('cancel')), send);
    send.setAttribute('form', 'reel-report-form');
    form.id = 'reel-report-form';
    form.addEventListener('submit', async e => {
      e.preventDefault();
      send.disabled = true;
      const reason = form.querySelector('input[name="reel-report-reason"]:checked')?.value || 'other';
      const text = details.value.trim();
      try {
        await s.rpc('report_reel', { reel_id: card.reel.id, reason, ...(text ? { details: text } : {}) });
        sent = true;
        toast(t('reelReported'));
        d.close();
      } catch (err) {
        hint.className = 'hint bad';
        hint.textContent = errorText(err);
        send.disabled = false;
      }
    });
    d.dlg.addEventListener('close', () => resolve(sent));
    options[0].querySelector('input').focus();
  });
}
