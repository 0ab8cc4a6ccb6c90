// Just-in-time elevation: ask for a role one does not hold for 1–240 minutes with a reason
// (POST /jit: granted at once, or a request when the server's policy wants an approval), and
// one's live JIT grants (GET /me, each with the id revoking needs) with an early revoke.
import { h, clear, focus } from '../../app/util.js';
import { t, shortDateTime, clock } from '../i18n.js';
import { loading, errorState, emptyState, badge, card, pageHeading, resultLine, field, announce, missingScope, timeTag } from '../ui.js';
import { formDialog, reasonField } from '../dialog.js';
import { ROLES } from './admins.js';
import { describe, isJIT } from './request-model.js';

export function mount(main, ctx) {
  const grantsBody = h('div', { class: 'adm-card-body' });
  const requestsBody = h('div', { class: 'adm-card-body' });
  const result = resultLine('jit-result');
  let alive = true;
  let ticker = 0;

  clear(main,
    pageHeading(t('navJit')),
    h('p', { class: 'adm-muted', text: t('jitLead') }),
    result.el,
    h('div', { class: 'adm-grid' },
      ctx.can('jit.request') ? requestForm() : card(t('jitRequestTitle'), 'jit-form-card', missingScope('jit.request')),
      h('div', { class: 'adm-stack' },
        card(t('jitGrantsTitle'), 'jit-grants-card', grantsBody),
        card(t('jitRequestsTitle'), 'jit-requests-card', requestsBody))));

  function requestForm() {
    const held = new Set(ctx.me.roles.map(r => r.role));
    const role = h('select', { class: 'adm-input', testid: 'jit-role', required: true },
      ROLES.map(r => h('option', { value: r, disabled: held.has(r) || null, text: t('role_' + r) + (held.has(r) ? ' — ' + t('held') : '') })));
    const firstFree = ROLES.find(r => !held.has(r));
    if (firstFree) role.value = firstFree;
    const markHeld = now => {
      for (const option of role.options) {
        option.disabled = now.has(option.value);
        option.textContent = t('role_' + option.value) + (now.has(option.value) ? ' — ' + t('held') : '');
      }
      if (role.selectedOptions[0]?.disabled) role.value = ROLES.find(r => !now.has(r)) || role.value;
    };
    const minutes = h('input', { class: 'adm-input adm-input-short', type: 'number', min: 1, max: 240, step: 1, value: '30', inputmode: 'numeric', testid: 'jit-minutes', required: true });
    const reason = h('textarea', { class: 'adm-input', rows: 2, maxlength: 500, testid: 'jit-reason', required: true });
    const submit = h('button', { type: 'submit', class: 'adm-btn adm-btn-primary', testid: 'jit-submit', text: t('jitSubmit'), disabled: !firstFree || null });
    const line = resultLine('jit-form-result');
    const form = h('form', { class: 'adm-form', novalidate: true, testid: 'jit-form' },
      field(t('role'), role, t('jitRoleHint')),
      field(t('jitMinutes'), minutes, t('jitMinutesHint')),
      field(t('reason'), reason, t('reasonHint')),
      h('div', { class: 'adm-actions start' }, submit),
      line.el);
    form.addEventListener('submit', async e => {
      e.preventDefault();
      line.clear();
      const n = Number(minutes.value);
      const okMinutes = /^\d+$/.test(minutes.value.trim()) && n >= 1 && n <= 240;
      const why = reason.value.trim();
      minutes.setAttribute('aria-invalid', String(!okMinutes));
      reason.setAttribute('aria-invalid', String(!why));
      if (!okMinutes || !why) {
        line.fail(!okMinutes ? t('jitMinutesInvalid') : t('fieldRequired', { field: t('reason') }));
        focus(!okMinutes ? minutes : reason);
        return;
      }
      submit.disabled = true;
      try {
        const { data } = await ctx.api.requestJIT(role.value, n, why);
        reason.value = '';
        if (data.status === 'granted') {
          line.ok(t('jitGranted', { role: t('role_' + role.value), time: shortDateTime(data.expires_at) }));
        } else {
          line.ok(t('jitPending', { role: t('role_' + role.value) }));
        }
        announce(line.el.textContent);
        const me = await ctx.refreshMe();
        markHeld(new Set(me.roles.map(r => r.role)));
        if (alive) reload();
      } catch (err) {
        line.fail(err);
      } finally {
        submit.disabled = false;
      }
    });
    return card(t('jitRequestTitle'), 'jit-form-card', form);
  }

  let requestsCache = null;
  async function ownRequests() {
    requestsCache ||= ctx.api.requests().catch(e => { requestsCache = null; throw e; });
    return requestsCache;
  }

  async function loadGrants() {
    clearInterval(ticker);
    clear(grantsBody, loading());
    try {
      const me = await ctx.refreshMe();
      const live = me.roles.filter(r => r.kind === 'jit' && r.expires_at);
      if (!alive) return;
      if (!live.length) {
        clear(grantsBody, emptyState(t('noJitGrants'), 'jit-grants-empty'));
        return;
      }
      const rows = live.map(g => {
        const ends = Date.parse(g.expires_at);
        const left = h('span', { class: 'adm-countdown-value', 'data-ends': String(ends) });
        const revoke = h('button', {
          type: 'button', class: 'adm-btn adm-btn-small adm-btn-danger', testid: 'jit-revoke', 'data-role': g.role, 'data-grant-id': g.id,
          text: t('revoke'), onClick: () => revokeGrant(g),
        });
        return h('li', { class: 'adm-row', testid: 'jit-grant', 'data-role': g.role },
          h('div', { class: 'adm-row-main' },
            h('div', { class: 'adm-row-title' }, badge(t('role_' + g.role), 'jit')),
            h('p', { class: 'adm-small' }, t('until', { time: '' }), timeTag(g.expires_at),
              ' · ', t('timeLeft') + ' ', left)),
          h('div', { class: 'adm-row-actions' }, revoke));
      });
      clear(grantsBody, h('ul', { class: 'adm-rows', testid: 'jit-grant-list' }, rows));
      const tick = () => grantsBody.querySelectorAll('[data-ends]').forEach(el => { el.textContent = clock((Number(el.dataset.ends) - Date.now()) / 1000); });
      tick();
      ticker = setInterval(tick, 1000);
    } catch (e) {
      if (alive) clear(grantsBody, errorState(e, loadGrants));
    }
  }

  async function loadRequests() {
    clear(requestsBody, loading());
    try {
      const all = await ownRequests();
      if (!alive) return;
      const mine = all.filter(r => r.requester === ctx.userId && isJIT(r) && (r.status === 'pending' || r.status === 'approved'));
      clear(requestsBody, mine.length
        ? h('ul', { class: 'adm-rows compact', testid: 'jit-request-list' }, mine.map(r => h('li', { class: 'adm-row', testid: 'jit-request', 'data-status': r.status },
          h('div', { class: 'adm-row-main' }, h('strong', { text: describe(r) }), ' ', badge(t('status_' + r.status), r.status === 'approved' ? 'ok' : 'warn')),
          r.status === 'approved' ? h('a', { href: '#/requests?status=approved', class: 'adm-link', text: t('goExecute') }) : null)))
        : emptyState(t('noJitRequests'), 'jit-requests-empty'));
    } catch (e) {
      if (alive) clear(requestsBody, errorState(e, loadRequests));
    }
  }

  async function revokeGrant(g) {
    const done = await formDialog({
      title: t('revokeTitle', { role: t('role_' + g.role) }), description: t('revokeText'), confirmLabel: t('revoke'), danger: true,
      testid: 'revoke-dialog', fields: [reasonField()],
      submit: ({ reason }) => ctx.api.revokeGrant(g.id, reason),
    });
    if (!done) return;
    const text = t('revokedAnnounce', { role: t('role_' + g.role) });
    result.ok(text);
    announce(text);
    await reload();
    focus(main.querySelector('h1'));
  }

  /** Reads the grants and the requests again (after a change). */
  async function reload() {
    requestsCache = null;
    await loadGrants();
    if (alive) await loadRequests();
  }

  reload();
  return () => { alive = false; clearInterval(ticker); };
}
