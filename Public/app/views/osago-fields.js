// Form controls of the OSAGO calculator: a labelled field with a hint and an inline error
// (data-field = the request path the server names in a 400), checks as typed and on
// change, and small control builders (select, text input, checkbox, segmented radios).
import { h } from '../util.js';

/** The controls kit of one form; `uid` keeps ids unique; `onEdit` runs on every input. */
export function fieldKit(uid, onEdit) {
  /** A labelled control with a hint and an inline error. */
  function field(path, label, control, { hint, check, cls } = {}) {
    const id = control.id || (control.id = uid + '-' + path.replace(/\W+/g, '-'));
    const hintEl = h('div', { class: 'hint', id: id + '-hint', text: hint || '', hidden: !hint });
    const err = h('div', { class: 'hint bad field-msg', id: id + '-err', testid: 'field-error', 'data-field': path, hidden: true });
    control.setAttribute('aria-describedby', id + '-hint ' + id + '-err');
    const box = h('div', { class: 'field' + (cls ? ' ' + cls : '') }, h('label', { for: id, text: label }), control, hintEl, err);
    return { path, label, control, hintEl, err, box, check, touched: false };
  }

  function setError(f, msg) {
    f.err.textContent = msg || '';
    f.err.hidden = !msg;
    if (msg) f.control.setAttribute('aria-invalid', 'true');
    else f.control.removeAttribute('aria-invalid');
  }

  // Shown: connected and not in a hidden group (a closed disclosure still counts: its values are sent).
  const shown = f => f.box.isConnected && !f.box.closest('[hidden]');

  /** Runs a field's check: while typing (not final) an empty required field is not an error yet. */
  function validate(f, final) {
    if (!f.check || !shown(f)) { setError(f, ''); return true; }
    const msg = f.check(final);
    setError(f, msg);
    return !msg;
  }

  /** Checks `f` as typed and on change, and the fields `also` returns once they were touched. */
  function watch(f, ...also) {
    const run = final => { f.touched = true; validate(f, final); for (const g of also) if (g().touched) validate(g(), final); };
    f.control.addEventListener('input', () => { run(false); onEdit(); });
    f.control.addEventListener('change', () => run(true));
    return f;
  }

  const select = (testid, options, value) => h('select', { class: 'input', testid },
    options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)));

  /** Replaces a select's options, keeping its value when it is still offered. */
  function setOptions(sel, options, fallback) {
    const keep = sel.value;
    sel.replaceChildren(...options.map(([v, label]) => h('option', { value: v }, label)));
    sel.value = options.some(([v]) => v === keep) ? keep : fallback;
  }

  const text = (testid, attrs = {}) => h('input', { class: 'input', type: 'text', autocomplete: 'off', spellcheck: 'false', testid, ...attrs });

  const checkbox = (testid, label, hintText) => {
    const input = h('input', { type: 'checkbox', id: uid + '-' + testid, testid });
    const hintId = input.id + '-hint';
    if (hintText) input.setAttribute('aria-describedby', hintId);
    return {
      input,
      el: h('div', { class: 'check-field' },
        h('div', { class: 'check' }, input, h('label', { for: input.id, text: label })),
        hintText && h('div', { class: 'hint', id: hintId, text: hintText })),
    };
  };

  const radios = (name, legend, options, value, testidPrefix) => {
    const inputs = options.map(([v, label]) => {
      const input = h('input', { type: 'radio', name: uid + '-' + name, id: `${uid}-${name}-${v}`, value: v, checked: v === value });
      return { input, el: h('label', { class: 'seg', for: input.id, testid: `${testidPrefix}-${v}` }, input, h('span', { text: label })) };
    });
    return {
      inputs,
      get value() { return inputs.find(i => i.input.checked)?.input.value; },
      set value(v) { for (const i of inputs) i.input.checked = i.input.value === v; },
      el: h('fieldset', { class: 'segmented' }, h('legend', { text: legend }), h('div', { class: 'seg-row' }, inputs.map(i => i.el))),
    };
  };

  return { field, setError, shown, validate, watch, select, setOptions, text, checkbox, radios };
}

export const isInt = v => /^\d+$/.test(v);
/** Whole numbers as JSON numbers, fractions as exact strings. */
export const num = v => (/^\d+$/.test(v) ? Number(v) : v);

/** Today in the local time zone, YYYY-MM-DD. */
export function today() {
  const d = new Date();
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
}
