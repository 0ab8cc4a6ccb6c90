// The message length limit in the composer: the server takes at most 4000 characters (Unicode
// code points, after trimming; docs/api.md send_message_v1). Near the limit a counter shows
// «3 950 / 4 000»; over it, an offer to split the text into several messages or to trim it,
// so nothing is cut silently and nothing longer than the limit is sent.
import { h, clear, graphemes } from '../util.js';
import { t, getLang } from '../i18n.js';

export const MAX_LENGTH = 4000;
const SHOW_FROM = 3500;

/** Length as the server counts it: code points of the trimmed text. */
export function lengthOf(text) {
  let n = 0;
  for (const _ of text.trim()) n++;
  return n;
}

/**
 * Cuts text into trimmed pieces of at most `max` code points, never inside a character a
 * reader sees; a piece ends at its last line break, else sentence end, else space in its
 * second half, and mid-word only where there is none.
 */
export function splitText(text, max = MAX_LENGTH) {
  const parts = [];
  let chars = graphemes(text.trim());
  while (chars.length) {
    let n = 0;
    let end = 0;
    while (end < chars.length && n + [...chars[end]].length <= max) n += [...chars[end++]].length;
    if (end < chars.length) end = bestCut(chars, end) || end;
    const piece = chars.slice(0, end).join('').trim();
    if (piece) parts.push(piece);
    chars = chars.slice(end);
  }
  return parts;
}

/** Where to end a piece of `end` characters: after a line break, a sentence or a space in its second half. */
function bestCut(chars, end) {
  const tests = [c => c === '\n', (c, i) => /\s/.test(c) && /[.!?…]/.test(chars[i - 1] || ''), c => /\s/.test(c)];
  for (const test of tests) {
    for (let i = end; i > end / 2; i--) if (test(chars[i - 1], i - 1)) return i;
  }
  return 0;
}

/**
 * The counter and the over-limit offer for `input`. `onSplit(pieces)` and `onTrim(text)`
 * act on the offer; `canSplit()` says whether splitting makes sense (not while editing).
 */
export function lengthGuard(input, { onSplit, onTrim, canSplit }) {
  const nf = () => new Intl.NumberFormat(getLang());
  const counter = h('span', { class: 'length-counter', testid: 'length-counter' });
  const text = h('span', { class: 'length-text', role: 'status' });
  const actions = h('span', { class: 'length-actions' });
  const el = h('div', { class: 'length-guard', testid: 'length-guard', hidden: true }, text, counter, actions);

  function paint() {
    const n = lengthOf(input.value);
    const over = n > MAX_LENGTH;
    el.hidden = n < SHOW_FROM;
    el.classList.toggle('over', over);
    counter.textContent = `${nf().format(n)} / ${nf().format(MAX_LENGTH)}`;
    counter.setAttribute('aria-label', t('lengthCounter', { n: nf().format(n), max: nf().format(MAX_LENGTH) }));
    const sig = over ? String(n) + canSplit() : '';
    if (el.dataset.sig === sig) return;
    el.dataset.sig = sig;
    const said = over ? t('tooLong', { max: nf().format(MAX_LENGTH) }) : '';
    if (text.textContent !== said) text.textContent = said;
    if (!over) return clear(actions);
    const pieces = canSplit() ? splitText(input.value) : null;
    clear(actions,
      pieces && h('button', { class: 'btn btn-small btn-primary', type: 'button', testid: 'split-message', onClick: () => onSplit(splitText(input.value)) },
        t('tooLongSplit', { n: pieces.length })),
      h('button', { class: 'btn btn-small', type: 'button', testid: 'trim-message', onClick: () => onTrim(trimmed(input.value)) },
        t('tooLongTrim', { max: nf().format(MAX_LENGTH) })));
  }

  return {
    el,
    paint,
    /** Whether the text is over the limit (then sending waits for a choice). */
    over: () => lengthOf(input.value) > MAX_LENGTH,
    /** Moves focus to the first choice of the offer. */
    focusOffer: () => actions.querySelector('button')?.focus(),
  };
}

/** The first MAX_LENGTH code points of the trimmed text, whole characters only. */
function trimmed(text) {
  let n = 0;
  let out = '';
  for (const g of graphemes(text.trim())) {
    const len = [...g].length;
    if (n + len > MAX_LENGTH) break;
    n += len;
    out += g;
  }
  return out;
}
