// Accounts: look one up by phone number or user id (users.lookup; GET /users answers the
// number masked, and the number typed is cleared from the field once sent, so the page never
// holds it whole) and, with moderation.content, suspend it for 1–8760 hours or lift the
// suspension (hours 0), each with a reason.
import { h, clear, focus } from '../../app/util.js';
import { t } from '../i18n.js';
import { loading, errorState, badge, card, pageHeading, resultLine, field, announce, missingScope, copyButton, fact, timeTag } from '../ui.js';
import { formDialog, reasonField } from '../dialog.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PHONE = /^\+?[\d\s()-]{6,20}$/;
const MAX_HOURS = 8760;

export function mount(main, ctx) {
  const body = h('div', { class: 'adm-card-body' });
  const result = resultLine('account-action-result');
  const line = resultLine('account-lookup-result');
  const query = h('input', { class: 'adm-input', type: 'text', testid: 'account-query', autocomplete: 'off', spellcheck: 'false', required: true, inputmode: 'text' });
  const submit = h('button', { type: 'submit', class: 'adm-btn adm-btn-primary', testid: 'account-submit', text: t('accountFind'), disabled: !ctx.can('users.lookup') || null });
  const form = h('form', { class: 'adm-form', novalidate: true, testid: 'account-form', role: 'search' },
    field(t('accountQuery'), query, t('accountQueryHint')),
    h('div', { class: 'adm-actions start' }, submit),
    line.el);
  let alive = true;
  let shown = null; // the user id on screen

  clear(main,
    pageHeading(t('navAccounts')),
    h('p', { class: 'adm-muted', text: t('accountsLead') }),
    h('div', { class: 'adm-grid' },
      card(t('accountLookup'), 'account-lookup-card', ctx.can('users.lookup') ? form : missingScope('users.lookup')),
      card(t('accountTitle'), 'account-card', result.el, body)));
  clear(body, h('p', { class: 'adm-state adm-empty', testid: 'account-none', text: t('accountNone') }));

  form.addEventListener('submit', e => {
    e.preventDefault();
    line.clear();
    const value = query.value.trim();
    const byId = UUID.test(value), byPhone = !byId && PHONE.test(value);
    query.setAttribute('aria-invalid', String(!byId && !byPhone));
    if (!byId && !byPhone) {
      line.fail(t('accountQueryInvalid'));
      focus(query);
      return;
    }
    // The number typed leaves the page as soon as it is sent.
    if (byPhone) query.value = '';
    result.clear();
    lookUp(byId ? { user_id: value } : { phone: value.replace(/[\s()-]/g, '') }, true);
  });

  async function lookUp(q, announceIt) {
    clear(body, loading());
    submit.disabled = true;
    try {
      const account = await ctx.api.lookUpAccount(q);
      if (!alive) return;
      shown = account.user_id;
      clear(body, view(account));
      if (announceIt) announce(t('accountFound', { phone: account.phone_masked || '—' }));
    } catch (e) {
      if (!alive) return;
      shown = null;
      clear(body, e.code === 'user_not_found' || e.status === 404
        ? h('p', { class: 'adm-state adm-empty', role: 'status', testid: 'account-not-found', text: t('accountNotFound') })
        : errorState(e, () => lookUp(q, announceIt)));
    } finally {
      submit.disabled = !ctx.can('users.lookup') || null;
    }
  }

  function view(a) {
    const until = a.suspended_until && Date.parse(a.suspended_until) > Date.now() ? a.suspended_until : null;
    const writable = ctx.can('moderation.content');
    return h('div', { testid: 'account', 'data-user-id': a.user_id, 'data-suspended': String(!!until) },
      h('div', { class: 'adm-row-title adm-account-title' },
        h('strong', { class: 'adm-account-phone', testid: 'account-phone', text: a.phone_masked || t('accountNoPhone') }),
        until ? badge(t('accountSuspended'), 'bad', { testid: 'account-state' }) : badge(t('accountActive'), 'ok', { testid: 'account-state' })),
      h('ul', { class: 'adm-facts' },
        fact(t('accountUserId'), h('span', { class: 'adm-copy-row' }, h('code', { class: 'adm-break', testid: 'account-user-id', text: a.user_id }),
          copyButton(a.user_id, t('accountCopyId'), 'account-copy-id'))),
        fact(t('accountConfirmed'), h('span', { testid: 'account-confirmed', text: a.phone_confirmed ? t('yes') : t('no') })),
        fact(t('created'), timeTag(a.created_at)),
        fact(t('accountLastSignIn'), a.last_sign_in_at ? timeTag(a.last_sign_in_at) : t('accountNever')),
        fact(t('accountSuspendedUntil'), until ? h('span', { testid: 'account-suspended-until' }, timeTag(until)) : t('accountNotSuspended'))),
      writable
        ? h('div', { class: 'adm-actions start adm-account-actions' },
          h('button', { type: 'button', class: 'adm-btn adm-btn-danger', testid: 'account-suspend', text: until ? t('accountSuspendAgain') : t('accountSuspend'), onClick: () => suspend(a) }),
          until ? h('button', { type: 'button', class: 'adm-btn', testid: 'account-lift', text: t('accountLift'), onClick: () => lift(a) }) : null)
        : missingScope('moderation.content'));
  }

  async function suspend(a) {
    const done = await formDialog({
      title: t('accountSuspendTitle', { phone: a.phone_masked || a.user_id }), description: t('accountSuspendText'),
      confirmLabel: t('accountSuspend'), danger: true, testid: 'suspend-dialog',
      fields: [
        { name: 'hours', label: t('accountHours'), type: 'number', min: 1, max: MAX_HOURS, value: '24', required: true, inputmode: 'numeric',
          testid: 'suspend-hours', hint: t('accountHoursHint'), invalidText: t('accountHoursInvalid') },
        reasonField(),
      ],
      submit: ({ hours, reason }) => ctx.api.suspendAccount(a.user_id, hours, reason),
    });
    if (done) finish(t('accountSuspendedAnnounce'), 'account-lift');
  }

  async function lift(a) {
    const done = await formDialog({
      title: t('accountLiftTitle', { phone: a.phone_masked || a.user_id }), description: t('accountLiftText'),
      confirmLabel: t('accountLift'), testid: 'lift-dialog', fields: [reasonField()],
      submit: ({ reason }) => ctx.api.suspendAccount(a.user_id, 0, reason),
    });
    if (done) finish(t('accountLiftedAnnounce'), 'account-suspend');
  }

  async function finish(text, next) {
    result.ok(text);
    announce(text);
    if (ctx.can('users.lookup') && shown) await lookUp({ user_id: shown }, false);
    focus(body.querySelector(`[data-testid="${next}"]`) || body.querySelector('button'));
  }

  return () => { alive = false; };
}
