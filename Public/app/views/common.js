// Building blocks shared by the views: loading, empty and error states, error texts,
// dialogs, popovers and the username field with its availability check.
import { h, focus, debounce, icon, nameOf } from '../util.js';
import { t } from '../i18n.js';

export function skeletonList(n = 6) {
  return widths(h('div', { 'aria-busy': 'true', 'aria-label': t('loading'), role: 'status' },
    Array.from({ length: n }, (_, i) => h('div', { class: 'skel-row' },
      h('div', { class: 'skel c' }),
      h('div', { class: 'lines' }, h('div', { class: 'skel l' }), h('div', { class: 'skel l' })))),
    h('span', { class: 'sr-only' }, t('loading'))));
}

export function widths(el) {
  // Varied line widths make skeletons look like content (CSSOM: allowed by the CSP).
  el.querySelectorAll('.skel.l').forEach((l, i) => { l.style.width = [70, 45, 85, 60, 50, 75][i % 6] + '%'; });
  return el;
}

export function emptyState(text, action) {
  return h('div', { class: 'empty', testid: 'empty-state', role: 'status' }, h('p', { text }), action);
}

export function errorState(err, onRetry) {
  return h('div', { class: 'error-box', testid: 'error-state', role: 'alert' },
    h('p', { class: 'error-text', text: errorText(err) }),
    onRetry && h('button', { class: 'btn', type: 'button', testid: 'retry', onClick: onRetry }, t('retry')));
}

/** A user-facing message for an API error. */
export function errorText(e) {
  if (!e) return t('errGeneric');
  if (typeof e === 'string') return e;
  const after = e.retryAfter || 0;
  const wait = after >= 120 ? t('minutes', { n: Math.ceil(after / 60) }) : t('seconds', { n: after || 1 });
  const msg = String(e.message || '');
  switch (e.code) {
    case 'network': return t('errNetwork');
    case 'over_sms_send_rate_limit': return t('errSmsRate', { wait });
    case 'over_request_rate_limit': return t('errTooMany', { wait });
    case 'rate_limited': return t('errMsgRate', { wait });
    case 'otp_expired': return t('errCodeInvalid');
    case 'validation_failed': return /phone/i.test(msg) ? t('errPhoneInvalid') : t('errInvalid');
    case 'session_expired': case 'refresh_token_not_found': case 'refresh_token_already_used': return t('sessionExpired');
    case 'otp_disabled': return t('errSignupDisabled');
    case 'sms_send_failed': return t('errSmsFailed');
    case 'user_banned': return t('errBanned');
    case '23505': return /username/.test(msg) ? t('usernameTaken') : t('errConflict');
    case 'PGRST116': return t('errNotFound');
    case '42501': return /block/.test(msg) ? t('errBlocked') : t('errForbidden');
    case '22023': return msg.startsWith('avatar_url') ? t('errAvatarUrl') : t('errInvalid') + (msg ? ' (' + msg + ')' : '');
    default:
      if (e.status >= 500) return t('errServer');
      return t('errGeneric');
  }
}

/** A modal dialog; returns {dlg, body, foot, close}. Focus returns to the opener on close. */
export function openDialog({ title, label, wide }) {
  const opener = document.activeElement;
  const id = 'dlg-' + Math.random().toString(36).slice(2);
  const body = h('div', { class: 'dlg-body' });
  const foot = h('div', { class: 'dlg-foot' });
  const dlg = h('dialog', { 'aria-labelledby': id, class: wide ? 'wide' : null },
    h('div', { class: 'dlg' },
      h('div', { class: 'dlg-head' }, h('h2', { id, text: title }),
        h('button', { class: 'icon-btn', type: 'button', 'aria-label': t('close'), onClick: () => dlg.close() }, icon('close'))),
      body, foot));
  if (label) dlg.setAttribute('aria-label', label);
  document.body.append(dlg);
  dlg.addEventListener('close', () => { dlg.remove(); if (opener?.isConnected) focus(opener); });
  dlg.showModal();
  return { dlg, body, foot, close: () => dlg.close() };
}

export function confirmDialog(text, okLabel, danger = true) {
  return new Promise(resolve => {
    let result = false;
    const d = openDialog({ title: t('confirmTitle') });
    d.body.append(h('p', { text }));
    const ok = h('button', { class: 'btn ' + (danger ? 'btn-danger' : 'btn-primary'), type: 'button', testid: 'confirm-ok', onClick: () => { result = true; d.close(); } }, okLabel);
    d.foot.append(h('button', { class: 'btn', type: 'button', onClick: () => d.close() }, t('cancel')), ok);
    d.dlg.addEventListener('close', () => resolve(result));
    focus(ok);
  });
}

/** A small floating panel next to an anchor; closes on Escape, outside click or focus leaving. */
export function popover(anchor, content, cls = 'popover') {
  document.querySelector('.' + cls)?.remove();
  const el = h('div', { class: cls }, content);
  document.body.append(el);
  const r = anchor.getBoundingClientRect();
  const w = el.offsetWidth, ht = el.offsetHeight;
  el.style.left = Math.max(8, Math.min(innerWidth - w - 8, r.right - w)) + 'px';
  el.style.top = (r.top - ht - 6 > 8 ? r.top - ht - 6 : Math.min(innerHeight - ht - 8, r.bottom + 6)) + 'px';
  const close = (refocus = true) => {
    if (!el.isConnected) return;
    el.remove();
    document.removeEventListener('pointerdown', outside, true);
    removeEventListener('resize', onResize);
    if (refocus && anchor.isConnected) focus(anchor);
  };
  const outside = e => { if (!el.contains(e.target) && !anchor.contains(e.target)) close(false); };
  const onResize = () => close(false);
  document.addEventListener('pointerdown', outside, true);
  addEventListener('resize', onResize);
  el.addEventListener('keydown', e => {
    if (e.key === 'Escape') { e.preventDefault(); close(); }
    const items = [...el.querySelectorAll('button')];
    const i = items.indexOf(document.activeElement);
    const next = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[e.key];
    if (next && i >= 0) { e.preventDefault(); focus(items[(i + next + items.length) % items.length]); }
  });
  el.addEventListener('focusout', e => { if (e.relatedTarget && !el.contains(e.relatedTarget)) close(false); });
  focus(el.querySelector('button[aria-pressed="true"]') || el.querySelector('button'));
  return { el, close };
}

const USERNAME = /^[a-zA-Z0-9_]{3,32}$/;

function reasonText(reason) {
  if (!reason) return t('usernameInvalid');
  if (/taken/.test(reason)) return t('usernameTaken');
  if (/characters/.test(reason)) return t('usernameLength');
  return t('usernameChars');
}

/** The username input with a live availability check (check_username). */
export function usernameField(session, initial = '') {
  const hint = h('div', { class: 'hint', id: 'username-hint', 'aria-live': 'polite' });
  const input = h('input', {
    class: 'input', id: 'username', name: 'username', testid: 'username-input', autocomplete: 'username',
    autocapitalize: 'none', spellcheck: 'false', maxlength: 32, required: true, value: initial, 'aria-describedby': 'username-hint',
  });
  let state = initial ? 'ok' : 'empty';
  let seq = 0;
  const set = (s, text) => {
    state = s;
    hint.textContent = text || '';
    hint.className = 'hint' + (s === 'ok' ? ' ok' : s === 'bad' ? ' bad' : '');
    input.setAttribute('aria-invalid', s === 'bad' ? 'true' : 'false');
  };
  const check = debounce(async value => {
    const mine = ++seq;
    try {
      const r = await session.rpc('check_username', { username: value });
      if (mine !== seq) return;
      if (r.available) set('ok', value.toLowerCase() === initial.toLowerCase() ? '' : t('usernameFree'));
      else set('bad', reasonText(r.reason));
    } catch (e) {
      if (mine === seq) set('unknown', errorText(e));
    }
  }, 300);
  input.addEventListener('input', () => {
    const v = input.value.trim().replace(/^@/, '');
    seq++;
    if (!v) return set('empty', '');
    if (v.length < 3 || v.length > 32) return set('bad', t('usernameLength'));
    if (!USERNAME.test(v)) return set('bad', t('usernameChars'));
    if (initial && v.toLowerCase() === initial.toLowerCase()) return set('ok', '');
    set('checking', t('usernameChecking'));
    check(v);
  });
  const el = h('div', { class: 'field' }, h('label', { for: 'username', text: t('username') }), input, hint);
  return {
    el, input,
    value: () => input.value.trim().replace(/^@/, ''),
    state: () => state,
    fail: text => set('bad', text),
  };
}

/** A conversation's name as lists and headers show it: a group's title, a DM's other person. */
export function chatTitle(s, item) {
  if (!item) return '';
  if (item.kind === 'group') return item.title || t('group');
  return nameOf(item.participants?.[0]);
}
