// Sign-in with a phone number and a one-time code (also "add account"), and the first-run
// profile form (username + display name).
import { h, clear, focus, formatPhone, phoneForApi, displayPhone, countdown, avatar } from '../util.js';
import { t, getLang, LANGS } from '../i18n.js';
import { requestCode, verifyCode } from '../api.js';
import * as store from '../store.js';
import { app, signedIn, onboarded, setLanguage, switchTo } from '../app.js';
import { go } from '../router.js';
import { errorText, usernameField } from './common.js';

const DEFAULT_COOLDOWN = 60;

function langSelect() {
  const sel = h('select', { class: 'input', id: 'auth-lang', testid: 'language-select', onChange: () => setLanguage(sel.value) },
    LANGS.map(l => h('option', { value: l, selected: l === getLang() }, t('lang_' + l))));
  return h('div', { class: 'auth-foot' }, h('label', { for: 'auth-lang', class: 'sr-only', text: t('language') }), sel);
}

export function renderAuth(root, { mode }) {
  const notice = app.notice;
  let phone = notice?.phone ? displayPhone(notice.phone) : '';
  let until = 0;
  let timer = null;
  let busy = false;

  const error = h('div', { class: 'alert', testid: 'auth-error', role: 'alert', hidden: true });
  const showError = e => {
    error.textContent = e ? errorText(e) : '';
    error.dataset.code = e?.code || '';
    error.hidden = !e;
  };
  const body = h('div');
  const card = h('div', { class: 'auth-card' },
    h('span', { class: 'brand', 'aria-hidden': 'true' }, 'ECOMANSONI'),
    h('h1', { tabindex: '-1', text: mode === 'add' ? t('addAccountTitle') : t('signInTitle') }),
    notice && mode === 'signin' && h('div', { class: 'alert info', role: 'status', text: notice.text }),
    error, body);
  clear(root, h('div', { class: 'auth' }, h('div', {}, card, langSelect())));

  function phoneStep() {
    clearInterval(timer);
    const input = h('input', {
      class: 'input', id: 'phone', type: 'tel', inputmode: 'tel', autocomplete: 'tel', testid: 'phone-input', required: true,
      placeholder: '+7 (999) 123-45-67', value: phone, 'aria-describedby': 'phone-hint',
    });
    input.addEventListener('input', e => {
      // Format while typing at the end; deleting keeps what the user left.
      if (e.inputType?.startsWith('delete')) return;
      if (input.selectionStart !== input.value.length) return;
      input.value = formatPhone(input.value);
    });
    const submit = h('button', { class: 'btn btn-primary btn-block', type: 'submit', testid: 'send-code' }, t('sendCode'));
    const form = h('form', { novalidate: true },
      h('p', { class: 'lead', text: t('signInLead') }),
      h('div', { class: 'field' },
        h('label', { for: 'phone', text: t('phoneLabel') }), input,
        h('div', { class: 'hint', id: 'phone-hint', text: t('phoneHint') })),
      submit);
    form.addEventListener('submit', async e => {
      e.preventDefault();
      if (busy) return;
      const formatted = formatPhone(input.value);
      input.value = formatted;
      const digits = formatted.replace(/\D/g, '');
      if (digits.length < 8) {
        showError(t('errPhoneInvalid'));
        input.setAttribute('aria-invalid', 'true');
        focus(input);
        return;
      }
      input.removeAttribute('aria-invalid');
      busy = true;
      submit.disabled = true;
      showError(null);
      phone = formatted;
      try {
        await requestCode(phoneForApi(formatted));
        codeStep(app.config?.otpResendSeconds || DEFAULT_COOLDOWN);
      } catch (err) {
        if (err.code === 'over_sms_send_rate_limit' && err.retryAfter && err.retryAfter < 600) {
          // A code was sent moments ago: go on to entering it, with the wait shown.
          codeStep(err.retryAfter);
          showError(err);
        } else {
          showError(err);
          focus(input);
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
          class: 'person btn-block btn', type: 'button', onClick: () => { app.notice = null; switchTo(acc.userId); },
        }, avatar({ id: acc.userId, ...acc.profile }, { size: 'sm' }), h('span', { class: 'names' }, acc.profile?.display_name || displayPhone(acc.phone))))))));
    }
    clear(body, form, extra);
    focus(input.value ? submit : input);
  }

  function codeStep(cooldown) {
    until = Date.now() + cooldown * 1000;
    const input = h('input', {
      class: 'input code-input', id: 'code', type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code', testid: 'code-input',
      maxlength: 10, required: true, pattern: '[0-9]*', 'aria-describedby': 'code-hint',
    });
    const verify = h('button', { class: 'btn btn-primary btn-block', type: 'submit', testid: 'verify-code' }, t('verify'));
    const resend = h('button', { class: 'btn-link', type: 'button', testid: 'resend-code' });
    const tick = () => {
      const left = (until - Date.now()) / 1000;
      if (left > 0) {
        resend.disabled = true;
        resend.textContent = t('resendIn', { time: countdown(left) });
      } else {
        resend.disabled = false;
        resend.textContent = t('resend');
        clearInterval(timer);
        if (error.dataset.code?.startsWith('over_')) showError(null);
      }
    };
    clearInterval(timer);
    timer = setInterval(tick, 500);
    tick();
    resend.addEventListener('click', async () => {
      if (busy || resend.disabled) return;
      busy = true;
      resend.disabled = true;
      showError(null);
      try {
        await requestCode(phoneForApi(phone));
        until = Date.now() + (app.config?.otpResendSeconds || DEFAULT_COOLDOWN) * 1000;
        status.textContent = t('codeResent');
      } catch (err) {
        showError(err);
        if (err.retryAfter) until = Date.now() + err.retryAfter * 1000;
      } finally {
        busy = false;
        clearInterval(timer);
        timer = setInterval(tick, 500);
        tick();
      }
    });
    const status = h('div', { class: 'hint', role: 'status' });
    const form = h('form', { novalidate: true },
      h('p', { class: 'lead', text: t('codeSent', { phone }) }),
      h('div', { class: 'field' },
        h('label', { for: 'code', text: t('codeLabel') }), input,
        h('div', { class: 'hint', id: 'code-hint', text: t('codeHint') })),
      verify,
      h('div', { class: 'row' },
        h('button', { class: 'btn-link', type: 'button', onClick: () => { showError(null); phoneStep(); } }, t('changeNumber')),
        resend),
      status);
    input.addEventListener('input', () => { input.value = input.value.replace(/\D/g, '').slice(0, 10); });
    form.addEventListener('submit', async e => {
      e.preventDefault();
      if (busy) return;
      const code = input.value.trim();
      if (code.length < 4) {
        showError(t('errCodeShort'));
        focus(input);
        return;
      }
      busy = true;
      verify.disabled = true;
      showError(null);
      try {
        const session = await verifyCode(phoneForApi(phone), code);
        clearInterval(timer);
        await signedIn(session);
      } catch (err) {
        showError(err);
        input.value = '';
        input.setAttribute('aria-invalid', 'true');
        focus(input);
      } finally {
        busy = false;
        verify.disabled = false;
      }
    });
    clear(body, form);
    focus(input);
  }

  phoneStep();
  return { cleanup: () => clearInterval(timer) };
}

export function renderOnboarding(root, s) {
  const uname = usernameField(s, '');
  const display = h('input', {
    class: 'input', id: 'display-name', testid: 'display-name-input', maxlength: 64, required: true, autocomplete: 'name',
    value: s.me?.display_name || '',
  });
  const error = h('div', { class: 'alert', role: 'alert', hidden: true });
  const save = h('button', { class: 'btn btn-primary btn-block', type: 'submit', testid: 'save-profile' }, t('continue'));
  const form = h('form', { novalidate: true },
    uname.el,
    h('div', { class: 'field' }, h('label', { for: 'display-name', text: t('displayName') }), display),
    save);
  form.addEventListener('submit', async e => {
    e.preventDefault();
    error.hidden = true;
    const username = uname.value();
    const name = display.value.trim();
    if (!/^[a-zA-Z0-9_]{3,32}$/.test(username)) { uname.fail(username.length < 3 ? t('usernameLength') : t('usernameChars')); focus(uname.input); return; }
    if (!name) { error.textContent = t('displayNameRequired'); error.hidden = false; focus(display); return; }
    if (uname.state() === 'bad') { focus(uname.input); return; }
    save.disabled = true;
    try {
      const p = await s.rpc('update_my_profile', { username, display_name: name });
      s.setMe(p);
      onboarded();
    } catch (err) {
      if (err.code === '23505') { uname.fail(t('usernameTaken')); focus(uname.input); }
      else { error.textContent = errorText(err); error.hidden = false; }
    } finally {
      save.disabled = false;
    }
  });
  clear(root, h('div', { class: 'auth' }, h('div', {}, h('div', { class: 'auth-card' },
    h('span', { class: 'brand', 'aria-hidden': 'true' }, 'ECOMANSONI'),
    h('h1', { tabindex: '-1', text: t('onboardingTitle') }),
    h('p', { class: 'lead', text: t('onboardingLead') }),
    error, form), langSelect())));
  focus(uname.input);
  return {};
}
