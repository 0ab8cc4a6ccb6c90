// The one-time-code field: one input (one label, autocomplete=one-time-code, so browsers
// and screen readers see a single field) drawn as a row of cells, one per digit of the code.
// Typing fills the cells, Backspace empties the last one, a pasted code («123 456»,
// «Код: 123456») fills them all, and `onComplete` runs when the last cell is filled.
import { h } from '../util.js';

/**
 * `{box, input, error, value(), clear(), setBusy(on), showError(text)}`: `box` holds the cells,
 * `error` is the message line to place under them (announced; the input's aria-describedby
 * names it after `hintId`). Typing clears a shown message.
 */
export function codeField({ length, hintId, onComplete }) {
  const error = h('div', { class: 'field-error', id: 'code-error', testid: 'auth-error', 'aria-live': 'assertive' });
  const input = h('input', {
    class: 'code-cells-input', id: 'code', name: 'code', type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code',
    pattern: '[0-9]*', testid: 'code-input', required: true, spellcheck: 'false', autocapitalize: 'off',
    'aria-describedby': [hintId, 'code-error'].filter(Boolean).join(' '),
  });
  const cells = Array.from({ length }, () => h('span', { class: 'code-cell' }));
  const row = h('div', { class: 'code-cells-row' + (length > 6 ? ' long' : ''), 'aria-hidden': 'true' }, cells);
  row.style.setProperty('--cells', String(length));
  const box = h('div', { class: 'code-cells' }, row, input);

  function showError(text) {
    error.textContent = text || '';
    if (text) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  }
  const paint = () => {
    const v = input.value;
    cells.forEach((cell, i) => {
      cell.textContent = v[i] || '';
      cell.classList.toggle('active', i === Math.min(v.length, length - 1));
    });
  };
  // The caret always stands after the last digit: cells are filled and emptied in order.
  const caretToEnd = () => {
    const end = input.value.length;
    if (input.selectionStart !== end || input.selectionEnd !== end) input.setSelectionRange(end, end);
  };
  const set = digits => {
    showError('');
    input.value = digits.replace(/\D/g, '').slice(0, length);
    paint();
    caretToEnd();
    if (input.value.length === length) onComplete(input.value);
  };

  input.addEventListener('input', () => set(input.value));
  input.addEventListener('paste', e => {
    const text = e.clipboardData?.getData('text') || '';
    if (!/\d/.test(text)) return;
    e.preventDefault();
    set(text);
  });
  for (const type of ['click', 'keyup', 'focus']) input.addEventListener(type, caretToEnd);
  paint();

  return {
    box,
    input,
    error,
    value: () => input.value,
    clear: () => { input.value = ''; paint(); },
    setBusy: on => { input.readOnly = on; box.classList.toggle('busy', on); },
    showError,
  };
}
