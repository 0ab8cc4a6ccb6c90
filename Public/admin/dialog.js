// A modal form for changes that need a reason (and sometimes a role or a duration): a native
// <dialog> (focus kept inside, Esc cancels), the server's refusal shown inside it so nothing
// typed is lost, and focus returned to the button that opened it.
import { h } from '../app/util.js';
import { t } from './i18n.js';
import { errorContent, field } from './ui.js';

/** The reason field every change carries (1–500 characters, the server's rule). */
export function reasonField(hint = t('reasonHint')) {
  return { name: 'reason', label: t('reason'), type: 'textarea', required: true, maxlength: 500, testid: 'reason-input', hint };
}

function control(spec) {
  const common = { name: spec.name, testid: spec.testid, required: spec.required || null, class: 'adm-input' };
  if (spec.type === 'textarea') return h('textarea', { ...common, rows: 3, maxlength: spec.maxlength || null, value: spec.value || '' });
  if (spec.type === 'select') {
    return h('select', common, spec.options.map(o => h('option', { value: o.value, disabled: o.disabled || null, selected: o.value === spec.value || null, text: o.label })));
  }
  return h('input', { ...common, type: spec.type || 'text', min: spec.min ?? null, max: spec.max ?? null, value: spec.value ?? '', inputmode: spec.inputmode || null, autocomplete: 'off' });
}

/**
 * Opens the dialog (a button label's trailing «…», which promises a dialog, is dropped on the
 * dialog's own confirm button); `submit(values)` runs on confirm and may throw an AdminError (shown in the
 * dialog). Resolves with submit's result, or null when cancelled.
 */
export function formDialog({ title, description, fields = [reasonField()], confirmLabel, danger = false, testid = 'dialog', submit }) {
  const opener = document.activeElement;
  return new Promise(resolve => {
    const titleId = 'adm-dlg-title';
    const error = h('p', { class: 'adm-result bad', role: 'alert', testid: 'dialog-error', hidden: true });
    const controls = fields.map(control);
    const confirm = h('button', { type: 'submit', class: 'adm-btn ' + (danger ? 'adm-btn-danger' : 'adm-btn-primary'), testid: 'dialog-confirm', text: (confirmLabel || t('confirm')).replace(/…$/, '') });
    const cancel = h('button', { type: 'button', class: 'adm-btn', testid: 'dialog-cancel', text: t('cancel') });
    const form = h('form', { method: 'dialog', class: 'adm-dialog-form', novalidate: true },
      h('h2', { id: titleId, text: title }),
      description && h('p', { class: 'adm-dialog-text', text: description }),
      fields.map((spec, i) => field(spec.label, controls[i], spec.hint)),
      error,
      h('div', { class: 'adm-actions' }, cancel, confirm));
    const dialog = h('dialog', { class: 'adm-dialog', testid, 'aria-labelledby': titleId }, form);
    let result = null;
    const close = () => dialog.close();
    cancel.addEventListener('click', close);
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (opener && opener.isConnected) opener.focus();
      resolve(result);
    });
    form.addEventListener('submit', async ev => {
      ev.preventDefault();
      error.hidden = true;
      const values = {};
      for (let i = 0; i < fields.length; i++) {
        const spec = fields[i], el = controls[i];
        const value = el.value.trim();
        const invalid = (spec.required && !value) || (spec.type === 'number' && value && (!/^\d+$/.test(value) || Number(value) < spec.min || Number(value) > spec.max));
        el.setAttribute('aria-invalid', invalid ? 'true' : 'false');
        if (invalid) {
          error.hidden = false;
          error.textContent = spec.invalidText || t('fieldRequired', { field: spec.label });
          el.focus();
          return;
        }
        values[spec.name] = spec.type === 'number' ? Number(value) : value;
      }
      confirm.disabled = true;
      confirm.setAttribute('aria-busy', 'true');
      try {
        result = (await submit(values)) ?? true;
        close();
      } catch (e) {
        error.hidden = false;
        error.replaceChildren(...errorContent(e).filter(Boolean));
      } finally {
        confirm.disabled = false;
        confirm.removeAttribute('aria-busy');
      }
    });
    document.body.append(dialog);
    dialog.showModal();
    (controls[0] || confirm).focus();
  });
}

/** A yes/no question without fields (e.g. executing an approved request). */
export function confirmDialog({ title, description, confirmLabel, submit, testid = 'dialog' }) {
  return formDialog({ title, description, fields: [], confirmLabel, submit, testid });
}
