// Building blocks every console screen uses: announcements for screen readers, loading,
// empty and error states, error messages by the server's codes, badges, copy buttons and
// labelled fields. Server text is only ever set as text, never as HTML.
import { h } from '../app/util.js';
import { t, has, duration, shortDateTime, dateTime } from './i18n.js';

let politeRegion = null;
let assertiveRegion = null;

/** The two page-wide live regions (created once, outside the re-rendered content). */
export function liveRegions() {
  politeRegion ||= h('div', { class: 'sr-only', 'aria-live': 'polite', role: 'status', testid: 'live-polite' });
  assertiveRegion ||= h('div', { class: 'sr-only', 'aria-live': 'assertive', role: 'alert', testid: 'live-assertive' });
  return [politeRegion, assertiveRegion];
}

/** Reads `text` out (politely, or at once for errors); repeated texts are read again. */
export function announce(text, { assertive = false } = {}) {
  const region = assertive ? assertiveRegion : politeRegion;
  if (!region) return;
  region.textContent = '';
  setTimeout(() => { region.textContent = text; }, 60);
}

/** Empties both live regions (e.g. after the language changed: old sentences would linger). */
export function clearAnnouncements() {
  if (politeRegion) politeRegion.textContent = '';
  if (assertiveRegion) assertiveRegion.textContent = '';
}

/** A user-facing sentence for an AdminError (by code). */
export function errorMessage(e) {
  if (!e) return t('errUnknown');
  const code = e.code || '';
  let text;
  if (code === 'network') text = t('errNetwork');
  else if (code === 'admin_code_attempts' || code === 'over_request_rate_limit') text = t('err_' + code, { wait: duration(e.retryAfter || 60) });
  else if (code === 'kill_switch_engaged') text = t('err_kill_switch_engaged', { detail: e.message });
  else if (code === 'admin_scope_required') text = t('err_admin_scope_required', { scope: (/scope (\S+)/.exec(e.message || '') || [])[1] || '?' });
  else if (code === 'admin_approver_role') text = t('err_admin_approver_role', { role: (/role (\S+)/.exec(e.message || '') || [])[1] || '?' });
  else if (code === '22023' || e.status === 400) text = t('errInvalid', { detail: e.message || code });
  else if (has('err_' + code)) text = t('err_' + code);
  else if (e.status >= 500) text = t('errServer', { status: e.status });
  else text = e.message || code;
  return text;
}

const showsId = e => e?.requestId && e.code !== 'network';

/** The sentence with the request id that finds the refusal in the audit log (plain text). */
export function errorText(e) {
  return showsId(e) ? errorMessage(e) + ' ' + t('requestIdNote', { id: e.requestId }) : errorMessage(e);
}

/** The sentence and, in small print, the request id: nodes for an error box. */
export function errorContent(e) {
  if (typeof e === 'string') return [e];
  return [errorMessage(e), showsId(e) ? h('span', { class: 'adm-request-id', testid: 'error-request-id', text: t('requestIdNote', { id: e.requestId }) }) : null];
}

export function loading(label = t('loading')) {
  return h('div', { class: 'adm-state adm-loading', role: 'status', testid: 'loading' },
    h('span', { class: 'adm-spinner', 'aria-hidden': 'true' }), h('span', { text: label }));
}

export function emptyState(text, testid = 'empty-state') {
  return h('p', { class: 'adm-state adm-empty', testid, text });
}

/** An error panel (role=alert) with an optional retry button. */
export function errorState(e, retry, testid = 'error-state') {
  return h('div', { class: 'adm-state adm-error', role: 'alert', testid },
    h('p', null, ...errorContent(e)),
    retry && h('button', { type: 'button', class: 'adm-btn', testid: 'retry', onClick: retry, text: t('retry') }));
}

/** A result line for forms: polite for success, assertive for errors. */
export function resultLine(testid) {
  const el = h('p', { class: 'adm-result', testid, 'aria-live': 'polite', hidden: true });
  return {
    el,
    ok(text) { el.hidden = false; el.className = 'adm-result ok'; el.setAttribute('role', 'status'); el.textContent = text; },
    fail(e) { el.hidden = false; el.className = 'adm-result bad'; el.setAttribute('role', 'alert'); el.replaceChildren(...errorContent(e).filter(Boolean)); },
    clear() { el.hidden = true; el.textContent = ''; },
  };
}

export function badge(text, kind = '', extra = {}) {
  return h('span', { class: 'adm-badge' + (kind ? ' ' + kind : ''), text, ...extra });
}

export const shortId = id => (id ? String(id).slice(0, 8) : '—');

/** A button that copies `text` and says so. */
export function copyButton(text, label, testid) {
  const button = h('button', { type: 'button', class: 'adm-btn adm-btn-small', testid, text: t('copy'), 'aria-label': label });
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = t('copied');
      announce(t('copiedAnnounce'));
    } catch {
      button.textContent = t('copyFailed');
    }
    setTimeout(() => { button.textContent = t('copy'); }, 2000);
  });
  return button;
}

let fieldSeq = 0;
/** A labelled control: {label, control, hint}; ties the hint to the control with aria-describedby. */
export function field(label, control, hint) {
  const id = control.id || 'adm-f' + ++fieldSeq;
  control.id = id;
  const hintEl = hint ? h('p', { class: 'adm-hint', id: id + '-hint', text: hint }) : null;
  if (hintEl) control.setAttribute('aria-describedby', id + '-hint');
  return h('div', { class: 'adm-field' }, h('label', { for: id, text: label }), control, hintEl);
}

/** A section with a heading (h2), for cards on a page. */
export function card(title, testid, ...children) {
  const id = 'adm-c' + ++fieldSeq;
  return h('section', { class: 'adm-card', testid, 'aria-labelledby': id }, h('h2', { id, text: title }), ...children);
}

/** The page heading: focused after navigation (tabindex -1, outline only when keyboard-focused). */
export function pageHeading(text, ...after) {
  return h('div', { class: 'adm-page-head' }, h('h1', { tabindex: '-1', testid: 'page-title', text }), ...after);
}

/** A short text explaining an action the session's roles do not allow. */
export function missingScope(scope) {
  return h('p', { class: 'adm-hint', testid: 'scope-note', text: t('needsScope', { scope }) });
}

/** A time, short, with the full date and time as its title. */
export function timeTag(iso) {
  return h('time', { datetime: iso, title: dateTime(iso), text: shortDateTime(iso) });
}

/** One labelled fact of a card's `adm-facts` list. */
export function fact(label, value) {
  return h('li', null, h('span', { class: 'adm-fact-label', text: label }), h('span', { class: 'adm-fact-value' }, value));
}
