// Feedback that is not part of a view: screen-reader announcements (the #live region) and
// toasts, the short notices in the corner (errors stay longer and are read as alerts).
import { h } from './util.js';
import { errorText } from './views/common.js';

/** Reads `text` to screen-reader users through the shell's live region. */
export function announce(text) {
  const live = document.getElementById('live');
  if (!live) return;
  live.textContent = '';
  setTimeout(() => { live.textContent = text; }, 50);
}

/** Shows a toast for a few seconds; `error: true` makes it an alert that stays longer. */
export function toast(text, { error = false } = {}) {
  let box = document.querySelector('.toasts');
  if (!box) {
    box = h('div', { class: 'toasts' });
    document.body.append(box);
  }
  const el = h('div', { class: 'toast' + (error ? ' error' : ''), role: error ? 'alert' : 'status' }, text);
  box.append(el);
  setTimeout(() => el.remove(), error ? 7000 : 4000);
}

/** Shows an error toast in the user's words; aborted requests and expired sessions stay silent. */
export function toastError(e) {
  if (e?.name === 'AbortError' || e?.code === 'session_expired') return;
  toast(errorText(e), { error: true });
}
