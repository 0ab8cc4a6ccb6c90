// The report dialog shared by reels, messages and profiles: the reason (radio buttons) and
// optional details (≤ 1000 characters), sent with the given RPC. Test ids start with
// `prefix` (`reel-report-dialog`, `message-report-send` …). Resolves true when the report
// was taken.
import { h } from '../util.js';
import { toast } from '../toast.js';
import { openDialog, errorText } from './common.js';

/**
 * `reasons` is [[value, label]]; `text` holds the dialog's words: {title, why, details, send,
 * cancel, done}; `rpc` and `args` say what is sent (the reason and details are added).
 */
export function openReportDialog(s, { prefix, reasons, text, rpc, args }) {
  return new Promise(resolve => {
    let sent = false;
    const d = openDialog({ title: text.title });
    d.dlg.dataset.testid = `${prefix}-dialog`;
    const options = reasons.map(([value, label], i) => h('label', { class: 'report-option' },
      h('input', { type: 'radio', name: `${prefix}-reason`, value, testid: `${prefix}-reason`, checked: i === 0 }),
      h('span', { text: label })));
    const details = h('textarea', { class: 'input', id: `${prefix}-details`, rows: 3, maxlength: 1000, testid: `${prefix}-details` });
    const hint = h('p', { class: 'hint', role: 'status', 'aria-live': 'polite' });
    const send = h('button', { class: 'btn btn-danger', type: 'submit', testid: `${prefix}-send` }, text.send);
    const form = h('form', { class: 'report-form', id: `${prefix}-form` },
      h('fieldset', { class: 'report-reasons' }, h('legend', { text: text.why }), options),
      h('div', { class: 'field' }, h('label', { for: `${prefix}-details`, text: text.details }), details), hint);
    d.body.append(form);
    d.foot.append(h('button', { class: 'btn', type: 'button', onClick: () => d.close() }, text.cancel), send);
    send.setAttribute('form', form.id);
    form.addEventListener('submit', async e => {
      e.preventDefault();
      send.disabled = true;
      const reason = form.querySelector(`input[name="${prefix}-reason"]:checked`)?.value || 'other';
      const more = details.value.trim();
      try {
        await s.rpc(rpc, { ...args, reason, ...(more ? { details: more } : {}) });
        sent = true;
        toast(text.done);
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
