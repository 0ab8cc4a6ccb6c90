// Setting up the authenticator (POST /admin/v1/enrol): the new secret as a QR code of the
// otpauth:// link (drawn by qr.js), as the link itself (opens the authenticator app on a
// phone) and as text, plus the ten recovery codes. All are shown once; after «I saved them»
// the admin continues to the code step, whose first accepted code confirms the set-up.
import { h, clear, focus } from '../app/util.js';
import { t } from './i18n.js';
import { errorState, copyButton, loading } from './ui.js';
import { authFrame } from './frame.js';
import { encodeQR, qrPathData } from './qr.js';

const SVG = 'http://www.w3.org/2000/svg';

/** The QR code of `text` as an <svg> (dark on white in both themes, with its quiet zone). */
export function qrSvg(text, label) {
  const qr = encodeQR(text);
  const side = qr.size + 8;
  const svg = document.createElementNS(SVG, 'svg');
  for (const [k, v] of Object.entries({
    viewBox: `0 0 ${side} ${side}`, role: 'img', 'aria-label': label, 'shape-rendering': 'crispEdges', class: 'adm-qr',
    'data-testid': 'enrol-qr', 'data-version': qr.version, 'data-mask': qr.mask, 'data-size': qr.size,
  })) svg.setAttribute(k, String(v));
  const background = document.createElementNS(SVG, 'rect');
  background.setAttribute('width', side);
  background.setAttribute('height', side);
  background.setAttribute('class', 'adm-qr-light');
  const modules = document.createElementNS(SVG, 'path');
  modules.setAttribute('d', qrPathData(qr, 4));
  modules.setAttribute('class', 'adm-qr-dark');
  svg.append(background, modules);
  return svg;
}

/** The secret in groups of four, as authenticator apps show it. */
const grouped = secret => secret.replace(/(.{4})(?=.)/g, '$1 ');

/** opts: {api, onDone(), onBack(), changeLanguage(code)} */
export function mountEnrol(root, opts) {
  let url = null;
  // The secret and codes cannot be shown again: leaving before «I saved them» asks first.
  const leaveGuard = e => { e.preventDefault(); e.returnValue = ''; };
  const cleanup = () => {
    removeEventListener('beforeunload', leaveGuard);
    if (url) URL.revokeObjectURL(url);
    url = null;
  };
  const body = h('div', { class: 'adm-enrol' });
  const heading = h('h1', { tabindex: '-1', testid: 'page-title', text: t('enrolTitle') });
  clear(root, authFrame({ ...opts, wide: true }, heading, body));
  focus(heading);

  async function start() {
    clear(body, loading(t('enrolLoading')));
    let shown;
    try {
      shown = await opts.api.enrol();
    } catch (e) {
      clear(body, errorState(e, e.code === 'network' ? start : null, 'enrol-error'),
        h('button', { type: 'button', class: 'adm-btn', testid: 'enrol-back', text: t('backToCode'), onClick: () => opts.onBack() }));
      focus(body.querySelector('[role=alert]'));
      return;
    }
    render(shown);
  }

  function render({ secret, otpauth_uri: link, recovery_codes: codes }) {
    const saved = h('input', { type: 'checkbox', id: 'adm-saved', testid: 'saved-confirm' });
    const next = h('button', { type: 'button', class: 'adm-btn adm-btn-primary', testid: 'enrol-continue', text: t('enrolContinue'), disabled: true, 'aria-describedby': 'adm-saved-why' });
    saved.addEventListener('change', () => { next.disabled = !saved.checked; });
    next.addEventListener('click', () => { cleanup(); opts.onDone(); });
    addEventListener('beforeunload', leaveGuard);
    const codesText = codes.join('\n');
    const download = h('a', { class: 'adm-btn adm-btn-small', testid: 'recovery-download', download: 'ecomansoni-admin-recovery-codes.txt', text: t('download') });
    url = URL.createObjectURL(new Blob([t('recoveryFileHeader') + '\n\n' + codesText + '\n'], { type: 'text/plain' }));
    download.href = url;

    clear(body,
      h('p', { class: 'adm-notice warn', role: 'note', testid: 'enrol-once', text: t('enrolOnce') }),
      h('ol', { class: 'adm-steps' },
        h('li', { class: 'adm-step' },
          h('h2', { text: t('enrolScanTitle') }),
          h('p', { text: t('enrolScanText') }),
          h('div', { class: 'adm-qr-box' }, qrSvg(link, t('qrLabel'))),
          h('p', null, h('a', { href: link, testid: 'otpauth-link', class: 'adm-otpauth', text: t('openInApp') })),
          h('details', { class: 'adm-details' },
            h('summary', { testid: 'otpauth-show', text: t('showLink') }),
            h('code', { class: 'adm-break', testid: 'otpauth-uri', text: link }))),
        h('li', { class: 'adm-step' },
          h('h2', { text: t('enrolSecretTitle') }),
          h('p', { text: t('enrolSecretText') }),
          h('div', { class: 'adm-copy-row' },
            h('code', { class: 'adm-secret', testid: 'enrol-secret', 'data-secret': secret, text: grouped(secret) }),
            copyButton(secret, t('copySecret'), 'copy-secret'))),
        h('li', { class: 'adm-step' },
          h('h2', { text: t('recoveryTitle') }),
          h('p', { text: t('recoveryText') }),
          h('ul', { class: 'adm-codes', testid: 'recovery-codes' }, codes.map(c => h('li', null, h('code', { testid: 'recovery-code', text: c })))),
          h('div', { class: 'adm-actions start' }, copyButton(codesText, t('copyCodes'), 'copy-codes'), download))),
      h('div', { class: 'adm-confirm' },
        h('div', { class: 'adm-check' }, saved, h('label', { for: 'adm-saved', text: t('enrolSaved') })),
        h('p', { class: 'adm-hint', id: 'adm-saved-why', text: t('enrolSavedHint') }),
        next));
  }

  start();
  return cleanup;
}
