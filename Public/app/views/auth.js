// Sign-in with a phone number and a one-time code (also "add account"), the privacy notice
// while signed out (#/privacy), and the first-run profile form (display name, then username).
import { h, clear, focus, countdown, avatar, displayPhone } from '../util.js';
import { t, getLang, LANGS } from '../i18n.js';
import { requestCode, verifyCode } from '../api.js';
import * as store from '../store.js';
import { go, current } from '../router.js';
import { errorText, usernameField } from './common.js';
import { phoneField, formatPhone } from './phone-input.js';
import { codeField } from './code-input.js';
import { privacyNotice } from './privacy.js';

const DEFAULT_COOLDOWN = 60;

function langSelect(setLanguage) {
  const sel = h('select', { class: 'input', id: 'auth-lang', testid: 'language-select', onChange: () => setLanguage(sel.value) },
    LANGS.map(l => h('option', { value: l, selected: l === getLang() }, t('lang_' + l))));
  return h('div', { class: 'auth-foot' }, h('label', { for: 'auth-lang', class: 'sr-only', text: t('language') }), sel);
}

/** A refused /auth/v1/otp in words: the server's validation message, else the common texts. */
function phoneErrorText(err) {
  if (err.code !== 'validation_failed') return errorText(err);
  return /phone/i.test(err.message) ? t('phoneRejected') : t('errInvalid');
}

/**
 * A refused /auth/v1/verify in words. The server answers every refused code alike
 * (403 otp_expired) and does not say how many attempts are left, so the fixed rule is stated.
 */
function codeErrorText(err) {
  return err.code === 'otp_expired' ? t('errCodeInvalid') + ' ' + t('codeAttempts') : errorText(err);
}

export function renderAuth(root, { mode }, ctx) {
  const notice = ctx.notice;
  let digits = notice?.phone || ''; // E.164 digits of the number being signed in
  let timer = null;
  let busy = false;

  const body = h('div');
  const privacyLink = h('a', { href: '#/privacy', testid: 'privacy-link', text: t('privacyLink') });
  const signIn = h('div', {},
    h('div', { class: 'auth-card' },
      h('span', { class: 'brand', 'aria-hidden': 'true' }, 'ECOMANSONI'),
      h('h1', { tabindex: '-1', text: mode === 'add' ? t('addAccountTitle') : t('signInTitle') }),
      notice && mode === 'signin' && h('div', { class: 'alert info', role: 'status', text: notice.text }),
      body,
      h('p', { class: 'auth-legal' }, privacyLink)),
    langSelect(ctx.setLanguage));
  const privacy = h('div', { class: 'auth-card privacy-card', hidden: true });
  clear(root, h('div', { class: 'auth', role: 'main' }, signIn, privacy));

  // #/privacy while signed out: the notice replaces the card, which keeps its state for the way back.
  const showRoute = () => {
    const onPrivacy = mode === 'signin' && current().name === 'privacy';
    if (onPrivacy === !privacy.hidden) return;
    signIn.hidden = onPrivacy;
    privacy.hidden = !onPrivacy;
    if (onPrivacy) {
      clear(privacy, privacyNotice({ back: h('p', {}, h('a', { href: '#/chats', testid: 'privacy-back', text: t('privacyBack') })) }));
      focus(privacy.querySelector('h1'));
    } else {
      clear(privacy);
      focus(privacyLink);
    }
  };
  addEventListener('hashchange', showRoute);

  function phoneStep() {
    clearInterval(timer);
    const field = phoneField({ initial: digits && '+' + digits });
    const submit = h('button', { class: 'btn btn-primary btn-block', type: 'submit', testid: 'send-code' }, t('sendCode'));
    const form = h('form', { novalidate: true }, h('p', { class: 'lead', text: t('signInLead') }), field.el, submit);
    form.addEventListener('submit', async e => {
      e.preventDefault();
      if (busy) return;
      const { digits: typed, problem } = field.read();
      if (problem) {
        field.showError(t(problem.key, problem.params));
        focus(field.input);
        return;
      }
      field.showError('');
      busy = true;
      submit.disabled = true;
      digits = typed;
      try {
        await requestCode('+' + digits);
        codeStep(ctx.config?.otpResendSeconds || DEFAULT_COOLDOWN);
      } catch (err) {
        if (err.code === 'over_sms_send_rate_limit' && err.retryAfter && err.retryAfter < 600) {
          // A code was sent moments ago: go on to entering it, with the wait shown.
          codeStep(err.retryAfter, t('codeAlreadySent'));
        } else {
          field.showError(phoneErrorText(err));
          focus(field.input);
        }
      } finally {
        busy = false;
        submit.disabled = false;
      }
    });
    const extra = [];
    if (mode === 'add') {
      extra.push(h('div', { class: 'auth-foot' }, h('button', { class: 'btn-link', type: 'button', onClick: () => go('#/chats') }, t('cancel'))));
    } else if (store.accounts().length) {
      extra.push(h('div', { class: 'section' }, h('h2', { text: t('continueAs') }), h('ul', { class: 'list' },
        store.accounts().map(acc => h('li', {}, h('button', {
          class: 'person btn-block btn', type: 'button', onClick: () => { ctx.clearNotice(); ctx.account.switchTo(acc.userId); },
        }, avatar({ id: acc.userId, ...acc.profile }, { size: 'sm' }), h('span', { class: 'names' }, acc.profile?.display_name || displayPhone(acc.phone))))))));
    }
    clear(body, form, extra);
    focus(field.input.value ? submit : field.input);
  }

  function codeStep(cooldown, info = '') {
    let until = Date.now() + cooldown * 1000;
    const length = ctx.config.otpLength; // the server's AUTH_SMS_OTP_LENGTH
    const code = codeField({ length, hintId: 'code-hint', onComplete: () => form.requestSubmit() });
    const verify = h('button', { class: 'btn btn-primary btn-block', type: 'submit', testid: 'verify-code' }, t('verify'));
    const resend = h('button', { class: 'btn-link', type: 'button', testid: 'resend-code' });
    const status = h('div', { class: 'hint', role: 'status', testid: 'code-status', text: info });
    const resendError = h('div', { class: 'field-error', testid: 'resend-error', 'aria-live': 'assertive' });
    const tick = () => {
      const left = (until - Date.now()) / 1000;
      if (left > 0) {
        resend.disabled = true;
        resend.textContent = t('resendIn', { time: countdown(left) });
        return;
      }
      resend.disabled = false;
      resend.textContent = t('resend');
      clearInterval(timer);
      if (info && status.textContent === info) status.textContent = '';
      resendError.textContent = '';
    };
    const restartTick = () => {
      clearInterval(timer);
      timer = setInterval(tick, 500);
      tick();
    };
    resend.addEventListener('click', async () => {
      if (busy || resend.disabled) return;
      busy = true;
      resend.disabled = true;
      resendError.textContent = '';
      status.textContent = '';
      try {
        await requestCode('+' + digits);
        until = Date.now() + (ctx.config?.otpResendSeconds || DEFAULT_COOLDOWN) * 1000;
        status.textContent = t('codeResent');
        code.clear();
        focus(code.input);
      } catch (err) {
        resendError.textContent = errorText(err);
        if (err.retryAfter) until = Date.now() + err.retryAfter * 1000;
      } finally {
        busy = false;
        restartTick();
      }
    });
    const form = h('form', { novalidate: true },
      h('p', { class: 'lead', text: t('codeSent', { phone: formatPhone('+' + digits) }) }),
      h('div', { class: 'field' },
        h('label', { for: 'code', text: t('codeLabel') }), code.box,
        h('div', { class: 'hint', id: 'code-hint', text: t('codeHint') }), code.error),
      verify,
      h('div', { class: 'row' },
        h('button', { class: 'btn-link', type: 'button', testid: 'change-number', onClick: () => phoneStep() }, t('changeNumber')),
        resend),
      resendError,
      status);
    form.addEventListener('submit', async e => {
      e.preventDefault();
      if (busy) return;
      const value = code.value();
      if (value.length < length) {
        code.showError(t('errCodeShort', { n: length }));
        focus(code.input);
        return;
      }
      busy = true;
      verify.disabled = true;
      code.setBusy(true);
      try {
        const session = await verifyCode('+' + digits, value);
        clearInterval(timer);
        await ctx.account.signedIn(session);
      } catch (err) {
        code.setBusy(false);
        code.clear();
        code.showError(codeErrorText(err));
        focus(code.input);
      } finally {
        busy = false;
        verify.disabled = false;
      }
    });
    clear(body, form);
    restartTick();
    focus(code.input);
  }

  phoneStep();
  showRoute();
  return { cleanup: () => { clearInterval(timer); removeEventListener('hashchange', showRoute); } };
}

export function renderOnboarding(root, s, ctx) {
  const display = h('input', {
    class: 'input', id: 'display-name', testid: 'display-name-input', maxlength: 64, required: true, autocomplete: 'name',
    value: s.me?.display_name || '', 'aria-describedby': 'display-name-error',
  });
  const displayError = h('div', { class: 'field-error', id: 'display-name-error', 'aria-live': 'assertive' });
  const uname = usernameField(s, '');
  const error = h('div', { class: 'alert', role: 'alert', hidden: true });
  const save = h('button', { class: 'btn btn-primary btn-block', type: 'submit', testid: 'save-profile' }, t('continue'));
  const form = h('form', { novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'display-name', text: t('displayName') }), display, displayError),
    uname.el,
    save);
  display.addEventListener('input', () => { displayError.textContent = ''; display.removeAttribute('aria-invalid'); });
  form.addEventListener('submit', async e => {
    e.preventDefault();
    error.hidden = true;
    const username = uname.value();
    const name = display.value.trim();
    if (!name) {
      displayError.textContent = t('displayNameRequired');
      display.setAttribute('aria-invalid', 'true');
      focus(display);
      return;
    }
    if (!/^[a-zA-Z0-9_]{3,32}$/.test(username)) { uname.fail(username.length < 3 ? t('usernameLength') : t('usernameChars')); focus(uname.input); return; }
    if (uname.state() === 'bad') { focus(uname.input); return; }
    save.disabled = true;
    try {
      const p = await s.rpc('update_my_profile', { username, display_name: name });
      s.setMe(p);
      ctx.account.onboarded();
    } catch (err) {
      if (err.code === '23505') { uname.fail(t('usernameTaken')); focus(uname.input); }
      else { error.textContent = errorText(err); error.hidden = false; }
    } finally {
      save.disabled = false;
    }
  });
  clear(root, h('div', { class: 'auth', role: 'main' }, h('div', {}, h('div', { class: 'auth-card' },
    h('span', { class: 'brand', 'aria-hidden': 'true' }, 'ECOMANSONI'),
    h('h1', { tabindex: '-1', text: t('onboardingTitle') }),
    h('p', { class: 'lead', text: t('onboardingLead') }),
    error, form), langSelect(ctx.setLanguage))));
  focus(display);
  return {};
}
