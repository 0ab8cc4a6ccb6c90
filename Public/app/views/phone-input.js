// The phone field of the sign-in form. A number typed without «+» is Russian: «9…» becomes
// +7 9…, and a leading 8 or 7 (the trunk prefix, «8 9…») becomes +7. A number typed with «+»
// keeps its country code (+1 555 555 0200). The number is formatted as it is typed (Russian
// and North American numbers in their usual groups, others as the user spaces them), the
// caret staying after the same digit, and checked before it is sent.
import { h } from '../util.js';
import { t } from '../i18n.js';

const PHONE_CHARS = /^\+?[\d\s\-().\u00a0]*$/;
const NATIONAL_DIGITS = { 7: 10, 1: 10 }; // country code → digits after it

/**
 * Reads typed text: `{digits, country, problem}`. `digits` are the E.164 digits (no «+»);
 * `country` is '7' or '1' when the number is one of those; `problem` is the first rule it
 * breaks as `{key, params}` of an i18n message, or null when it may be sent.
 */
export function readPhone(raw) {
  const s = (raw || '').trim();
  if (!PHONE_CHARS.test(s)) return { digits: '', country: '', problem: { key: 'phoneBadChars' } };
  let digits = s.replace(/\D/g, '');
  if (!s.startsWith('+') && digits) digits = /^[78]/.test(digits) ? '7' + digits.slice(1) : '7' + digits;
  const country = Object.keys(NATIONAL_DIGITS).find(c => digits.startsWith(c)) || '';
  const national = digits.length - country.length;
  let key = '';
  if (!digits) key = 'phoneRequired';
  else if (digits[0] === '0') key = 'phoneZero';
  else if (country) key = national < NATIONAL_DIGITS[country] ? 'phoneTooShort' : national > NATIONAL_DIGITS[country] ? 'phoneTooLong' : '';
  else key = digits.length < 7 ? 'phoneTooShortIntl' : digits.length > 15 ? 'phoneTooLongIntl' : '';
  return { digits, country, problem: key ? { key, params: { cc: country, n: national } } : null };
}

/** The number as shown: +7 (999) 123-45-67, +1 555 555 0200, others as typed after «+». */
export function formatPhone(raw) {
  const s = (raw || '').trim();
  if (!PHONE_CHARS.test(s)) return raw;
  const { digits, country } = readPhone(s);
  if (!digits) return s.startsWith('+') ? '+' : '';
  const n = digits.slice(country.length);
  if (country === '7') {
    let o = '+7';
    if (n) o += ' (' + n.slice(0, 3);
    if (n.length > 3) o += ') ' + n.slice(3, 6);
    if (n.length > 6) o += '-' + n.slice(6, 8);
    if (n.length > 8) o += '-' + n.slice(8, 10);
    return n.length > 10 ? o + ' ' + n.slice(10) : o;
  }
  if (country === '1') {
    return ['+1', n.slice(0, 3), n.slice(3, 6), n.slice(6, 10), n.slice(10)].filter(Boolean).join(' ');
  }
  return '+' + s.slice(1).replace(/[^\d ]/g, ' ').replace(/\s+/g, ' ').trimStart();
}

/** Where the caret goes in `text` to stand after its `count`-th digit. */
function caretAfterDigits(text, count) {
  if (count <= 0) return text.startsWith('+') ? Math.min(text.length, text.search(/\d|$/)) : 0;
  let seen = 0;
  for (let i = 0; i < text.length; i++) {
    if (/\d/.test(text[i]) && ++seen === count) return i + 1;
  }
  return text.length;
}

const digitCount = s => s.replace(/\D/g, '').length;

/**
 * The labelled field: `{el, input, error, read(), showError(text)}`. `error` is the message
 * line under the input (announced, referenced by aria-describedby); `initial` is a number
 * in any form.
 */
export function phoneField({ initial = '' } = {}) {
  const hint = h('div', { class: 'hint', id: 'phone-hint', text: t('phoneHint') });
  const error = h('div', { class: 'field-error', id: 'phone-error', testid: 'auth-error', 'aria-live': 'assertive' });
  const input = h('input', {
    class: 'input phone-input', id: 'phone', name: 'phone', type: 'tel', inputmode: 'tel', autocomplete: 'tel',
    testid: 'phone-input', required: true, placeholder: '+7 (999) 123-45-67', value: formatPhone(initial),
    'aria-describedby': 'phone-hint phone-error',
  });
  let previous = input.value;

  const showError = text => {
    error.textContent = text || '';
    if (text) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  };

  input.addEventListener('input', e => {
    let raw = input.value;
    let caret = input.selectionStart ?? raw.length;
    // Deleting only a bracket, space or dash would be undone by formatting: delete the digit next to it.
    if (e.inputType === 'deleteContentBackward' && digitCount(raw) === digitCount(previous) && raw.length < previous.length) {
      const at = raw.slice(0, caret).search(/\d[^\d]*$/);
      if (at >= 0) { raw = raw.slice(0, at) + raw.slice(at + 1); caret = at; }
    } else if (e.inputType === 'deleteContentForward' && digitCount(raw) === digitCount(previous) && raw.length < previous.length) {
      const at = raw.slice(caret).search(/\d/);
      if (at >= 0) raw = raw.slice(0, caret + at) + raw.slice(caret + at + 1);
    }
    const before = digitCount(raw.slice(0, caret));
    const formatted = formatPhone(raw);
    const shift = digitCount(formatted) - digitCount(raw); // a «7» put in front of «9…»
    input.value = formatted;
    if (document.activeElement === input) {
      const at = caretAfterDigits(formatted, before + shift);
      input.setSelectionRange(at, at);
    }
    previous = formatted;
    // Characters that no phone number has are pointed out at once; the length is checked on sending.
    const { problem } = readPhone(formatted);
    showError(problem?.key === 'phoneBadChars' || problem?.key === 'phoneZero' ? t(problem.key) : '');
  });

  return {
    el: h('div', { class: 'field' }, h('label', { for: 'phone', text: t('phoneLabel') }), input, hint, error),
    input,
    error,
    read: () => readPhone(input.value),
    showError,
  };
}
