// The admin sign-in step: a fresh 6-digit authenticator code (or a recovery code) opens an
// admin session on top of the user's own sign-in. Each refusal gets its own explanation:
// a wrong or reused code, an account that is not an admin (with the user id to hand to an
// owner), an authenticator not set up yet (offers enrolment), and too many wrong codes
// (counts down the server's Retry-After before the next try).
import { h, clear, focus, displayPhone } from '../app/util.js';
import { t, clock } from './i18n.js';
import { errorContent, copyButton, field } from './ui.js';
import { authFrame } from './frame.js';

/**
 * Renders the step into `root`. opts: {api, account, accounts, notice, onOpened(result),
 * onEnrol(), onSwitchAccount(userId), changeLanguage(code)}.
 */
export function mountSignIn(root, opts) {
  const { api, account } = opts;
  let waitTimer = 0;
  const input = h('input', {
    class: 'adm-input adm-code-input', type: 'text', inputmode: 'text', autocomplete: 'one-time-code', name: 'code',
    maxlength: 64, spellcheck: 'false', autocapitalize: 'characters', required: true, testid: 'admin-code',
  });
  const submit = h('button', { type: 'submit', class: 'adm-btn adm-btn-primary adm-btn-block', testid: 'admin-code-submit', text: t('signInSubmit') });
  const message = h('div', { class: 'adm-result', testid: 'signin-error', role: 'alert', hidden: true });
  const extra = h('div', { class: 'adm-signin-extra' });
  const notice = opts.notice ? h('p', { class: 'adm-notice', role: 'status', testid: 'signin-notice', text: opts.notice }) : null;

  const form = h('form', { class: 'adm-form', novalidate: true, testid: 'signin-form' },
    field(t('codeLabel'), input, t('codeHint')),
    message, extra, submit);

  const accountLine = opts.accounts.length > 1
    ? field(t('accountLabel'), h('select', { class: 'adm-input', testid: 'account-select', onChange: e => opts.onSwitchAccount(e.target.value) },
      opts.accounts.map(a => h('option', { value: a.userId, selected: a.userId === account.userId || null, text: accountName(a) }))))
    : h('p', { class: 'adm-muted', testid: 'signed-in-as' }, t('signedInAs', { name: accountName(account) }));

  const enrolLink = h('button', { type: 'button', class: 'adm-link-btn', testid: 'enrol-link', text: t('firstTimeEnrol'), onClick: () => opts.onEnrol() });

  clear(root, authFrame(opts, h('h1', { tabindex: '-1', testid: 'page-title', text: t('signInTitle') }),
    notice,
    h('p', { class: 'adm-lead', text: t('signInLead') }),
    accountLine,
    form,
    h('p', { class: 'adm-muted adm-small' }, enrolLink),
    h('p', { class: 'adm-muted adm-small' }, h('a', { href: '/#/', testid: 'back-to-app', text: t('backToApp') }))));

  function show(content, kind = 'bad') {
    message.hidden = false;
    message.className = 'adm-result ' + kind;
    message.replaceChildren(...[content].flat().filter(Boolean));
  }

  function waitThenAllow(seconds, code) {
    clearInterval(waitTimer);
    const until = Date.now() + seconds * 1000;
    submit.disabled = true;
    const wait = h('p', { class: 'adm-wait', testid: 'signin-wait', 'aria-live': 'off' });
    clear(extra, wait);
    const step = () => {
      const left = (until - Date.now()) / 1000;
      if (left <= 0) {
        clearInterval(waitTimer);
        submit.disabled = false;
        clear(extra, h('p', { class: 'adm-hint', role: 'status', text: t('signInWaitOver') }));
        return;
      }
      wait.textContent = t(code === 'admin_code_attempts' ? 'signInLocked' : 'signInSlowDown', { time: clock(left) });
    };
    step();
    waitTimer = setInterval(step, 1000);
  }

  form.addEventListener('submit', async e => {
    e.preventDefault();
    const code = input.value.trim();
    clear(extra);
    if (!code) {
      input.setAttribute('aria-invalid', 'true');
      show(t('codeMissing'));
      focus(input);
      return;
    }
    input.setAttribute('aria-invalid', 'false');
    message.hidden = true;
    submit.disabled = true;
    submit.setAttribute('aria-busy', 'true');
    submit.textContent = t('signInChecking');
    let rateLimited = false;
    try {
      const opened = await api.openSession(code);
      clearInterval(waitTimer);
      opts.onOpened(opened);
      return;
    } catch (err) {
      input.setAttribute('aria-invalid', err.code === 'admin_code_invalid' ? 'true' : 'false');
      show(errorContent(err));
      message.dataset.code = err.code || '';
      if (err.code === 'admin_not_enrolled') {
        clear(extra, h('button', { type: 'button', class: 'adm-btn adm-btn-primary', testid: 'start-enrol', text: t('startEnrol'), onClick: () => opts.onEnrol() }));
      } else if (err.code === 'admin_required') {
        clear(extra, h('div', { class: 'adm-id-box' },
          h('p', { text: t('yourUserId') }),
          h('code', { testid: 'my-user-id', text: account.userId }),
          copyButton(account.userId, t('copyUserId'), 'copy-user-id')));
      } else if (err.code === 'admin_code_attempts' || err.code === 'over_request_rate_limit') {
        rateLimited = true;
        waitThenAllow(err.retryAfter || 60, err.code);
      }
      if (err.code === 'admin_code_invalid') input.value = '';
      focus(input);
    } finally {
      submit.removeAttribute('aria-busy');
      submit.textContent = t('signInSubmit');
      if (!rateLimited) submit.disabled = false;
    }
  });

  // The code is what this screen is for: the field takes the focus (a notice above it is read out).
  focus(input);
  return () => clearInterval(waitTimer);
}

export function accountName(a) {
  const p = a.profile;
  const name = p?.display_name || (p?.username ? '@' + p.username : '');
  const phone = a.phone ? displayPhone(String(a.phone).replace(/^\+/, '')) : '';
  return name && phone ? `${name} (${phone})` : name || phone || a.userId;
}
