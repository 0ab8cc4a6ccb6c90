// Admins and roles: every admin with status, authenticator and live roles (GET /admins,
// iam.read); adding a platform user as an admin, granting a role (the server decides whether
// that needs an approval) and disabling or enabling an admin, each with a reason (iam.write).
// Buttons the session's scopes do not allow are not shown; the server still decides.
import { h, clear, focus } from '../../app/util.js';
import { t, shortDateTime } from '../i18n.js';
import { loading, errorState, emptyState, badge, card, pageHeading, missingScope, resultLine, field, announce, timeTag } from '../ui.js';
import { formDialog, reasonField } from '../dialog.js';

export const ROLES = ['owner', 'security_admin', 'moderator', 'support', 'readonly_auditor'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function mount(main, ctx) {
  const list = h('div', { class: 'adm-card-body' });
  const result = resultLine('admins-result');
  const addLine = resultLine('add-admin-result');
  let alive = true;
  /** Only the newest outcome stays on the page. */
  const clearOutcomes = () => { result.clear(); addLine.clear(); };
  const writable = ctx.can('iam.write');

  clear(main,
    pageHeading(t('navAdmins')),
    result.el,
    writable ? addForm() : missingScope('iam.write'),
    card(t('adminsList'), 'admins-card', list));

  function addForm() {
    const who = h('input', { class: 'adm-input', type: 'text', testid: 'add-admin-user', autocomplete: 'off', spellcheck: 'false', required: true });
    const reason = h('textarea', { class: 'adm-input', rows: 2, maxlength: 500, testid: 'add-admin-reason', required: true });
    const submit = h('button', { type: 'submit', class: 'adm-btn adm-btn-primary', testid: 'add-admin-submit', text: t('addAdmin') });
    const line = addLine;
    const form = h('form', { class: 'adm-form adm-inline-form', novalidate: true, testid: 'add-admin-form' },
      field(t('addAdminWho'), who, t('addAdminWhoHint')),
      field(t('reason'), reason, t('reasonHint')),
      h('div', { class: 'adm-actions start' }, submit),
      line.el);
    form.addEventListener('submit', async e => {
      e.preventDefault();
      clearOutcomes();
      const raw = who.value.trim();
      const why = reason.value.trim();
      who.setAttribute('aria-invalid', String(!raw));
      reason.setAttribute('aria-invalid', String(!why));
      if (!raw || !why) {
        line.fail(t('fieldRequired', { field: !raw ? t('addAdminWho') : t('reason') }));
        focus(!raw ? who : reason);
        return;
      }
      submit.disabled = true;
      try {
        let userId = raw;
        if (!UUID.test(raw)) {
          userId = await ctx.people.idOf(raw);
          if (!userId) {
            who.setAttribute('aria-invalid', 'true');
            line.fail(t('noSuchUsername', { name: raw.replace(/^@/, '') }));
            focus(who);
            return;
          }
        }
        await ctx.api.addAdmin(userId.toLowerCase(), why);
        who.value = '';
        reason.value = '';
        line.ok(t('adminAdded'));
        await load();
      } catch (err) {
        line.fail(err);
        focus(who);
      } finally {
        submit.disabled = false;
      }
    });
    return card(t('addAdminTitle'), 'add-admin-card', h('p', { class: 'adm-muted', text: t('addAdminLead') }), form);
  }

  async function load() {
    clear(list, loading());
    try {
      const admins = await ctx.api.admins();
      if (!alive) return;
      clear(list, admins.length
        ? h('ul', { class: 'adm-rows', testid: 'admin-list' }, admins.map(row))
        : emptyState(t('noAdmins')));
    } catch (e) {
      if (alive) clear(list, errorState(e, load));
    }
  }

  function row(a) {
    const active = a.status === 'active';
    const held = new Set(a.roles.map(r => r.role));
    const actions = writable ? h('div', { class: 'adm-row-actions' },
      h('button', {
        type: 'button', class: 'adm-btn adm-btn-small', testid: 'grant-role', 'data-user-id': a.user_id, disabled: !active || null,
        text: t('grantRole'), onClick: () => grant(a, held),
      }),
      h('button', {
        type: 'button', class: 'adm-btn adm-btn-small' + (active ? ' adm-btn-danger' : ''), testid: 'admin-status-toggle', 'data-user-id': a.user_id,
        text: active ? t('disable') : t('enable'), onClick: () => setStatus(a, !active),
      }),
      a.totp_confirmed ? h('button', {
        type: 'button', class: 'adm-btn adm-btn-small', testid: 'admin-reset-totp', 'data-user-id': a.user_id,
        text: t('resetTotp'), onClick: () => offboard(a, 'reset'),
      }) : null,
      active || a.roles.length ? h('button', {
        type: 'button', class: 'adm-btn adm-btn-small adm-btn-danger', testid: 'admin-remove', 'data-user-id': a.user_id,
        text: t('removeAdmin'), onClick: () => offboard(a, 'remove'),
      }) : null) : null;
    return h('li', { class: 'adm-row' + (active ? '' : ' disabled'), testid: 'admin-row', 'data-user-id': a.user_id, 'data-status': a.status },
      h('div', { class: 'adm-row-main' },
        h('div', { class: 'adm-row-title' }, ctx.people.label(a.user_id, { testid: 'admin-person' }),
          badge(active ? t('statusActive') : t('statusDisabled'), active ? 'ok' : 'bad', { testid: 'admin-status' }),
          badge(a.totp_confirmed ? t('totpReady') : t('totpPending'), a.totp_confirmed ? '' : 'warn', { testid: 'admin-totp' })),
        h('div', { class: 'adm-roles', testid: 'admin-roles' },
          a.roles.length ? a.roles.map(r => badge(t('role_' + r.role) + (r.expires_at ? ' · ' + t('until', { time: shortDateTime(r.expires_at) }) : ''),
            r.kind === 'jit' ? 'jit' : 'role', { testid: 'admin-role', 'data-role': r.role, title: t('kind_' + r.kind) }))
            : h('span', { class: 'adm-muted adm-small', text: t('noRoles') })),
        h('p', { class: 'adm-muted adm-small' }, t('adminSince') + ' ', timeTag(a.created_at))),
      actions);
  }

  async function grant(a, held) {
    clearOutcomes();
    const options = ROLES.map(r => ({ value: r, label: t('role_' + r) + (held.has(r) ? ' — ' + t('held') : ''), disabled: held.has(r) }));
    const first = options.find(o => !o.disabled);
    if (!first) {
      result.fail(t('allRolesHeld'));
      return;
    }
    const outcome = await formDialog({
      title: t('grantRoleTitle'), description: t('grantRoleText'), confirmLabel: t('grantRole'), testid: 'grant-dialog',
      fields: [{ name: 'role', label: t('role'), type: 'select', options, value: first.value, testid: 'grant-role-select' }, reasonField()],
      submit: ({ role, reason }) => ctx.api.grantRole(a.user_id, role, reason).then(r => ({ ...r.data, role })),
    });
    if (!outcome) return;
    const text = outcome.status === 'pending' ? t('grantPending', { role: t('role_' + outcome.role) }) : t('grantDone', { role: t('role_' + outcome.role) });
    result.ok(text);
    announce(text);
    await load();
    ctx.refreshMe();
  }

  async function setStatus(a, active) {
    clearOutcomes();
    const done = await formDialog({
      title: active ? t('enableTitle') : t('disableTitle'), description: active ? t('enableText') : t('disableText'),
      confirmLabel: active ? t('enable') : t('disable'), danger: !active, testid: 'status-dialog',
      fields: [reasonField()],
      submit: ({ reason }) => ctx.api.setStatus(a.user_id, active, reason),
    });
    if (!done) return;
    const text = active ? t('enabledAnnounce') : t('disabledAnnounce');
    result.ok(text);
    announce(text);
    await load();
    if (a.user_id === ctx.userId && !active) ctx.refreshMe();
  }

  /** Removes an admin or resets their authenticator (`kind` remove | reset), with a reason. */
  async function offboard(a, kind) {
    clearOutcomes();
    const done = await formDialog({
      title: t(kind + 'AdminTitle'), description: t(kind + 'AdminText'), confirmLabel: t(kind === 'remove' ? 'removeAdmin' : 'resetTotp'),
      danger: true, testid: kind + '-dialog', fields: [reasonField()],
      submit: ({ reason }) => (kind === 'remove' ? ctx.api.removeAdmin(a.user_id, reason) : ctx.api.resetAuthenticator(a.user_id, reason)),
    });
    if (!done) return;
    const text = t(kind + 'AdminDone');
    result.ok(text);
    announce(text);
    await load();
    if (a.user_id === ctx.userId) ctx.refreshMe();
  }

  load();
  return () => { alive = false; };
}
