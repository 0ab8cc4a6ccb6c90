// Dashboard: the kill switches (engage or release with a reason, for sessions with
// kill_switches.write), the requests waiting for someone, and the session's own access.
import { h, clear } from '../../app/util.js';
import { t, shortDateTime, dateTime } from '../i18n.js';
import { loading, errorState, emptyState, badge, card, pageHeading, missingScope, announce } from '../ui.js';
import { formDialog, reasonField } from '../dialog.js';
import { requestBuckets } from './request-model.js';

export function mount(main, ctx) {
  const switchesBody = h('div', { class: 'adm-card-body' });
  const requestsBody = h('div', { class: 'adm-card-body' });
  let alive = true;

  clear(main,
    pageHeading(t('navDashboard')),
    h('div', { class: 'adm-grid' },
      card(t('killSwitches'), 'kill-switches-card',
        h('p', { class: 'adm-muted', text: t('killSwitchesLead') }),
        ctx.can('kill_switches.write') ? null : missingScope('kill_switches.write'),
        switchesBody),
      h('div', { class: 'adm-stack' },
        card(t('requestsSummary'), 'requests-card', requestsBody),
        card(t('yourAccess'), 'access-card', access(ctx)))));

  async function loadSwitches() {
    clear(switchesBody, loading());
    try {
      const list = await ctx.api.killSwitches();
      if (!alive) return;
      clear(switchesBody, list.length ? h('ul', { class: 'adm-switches', testid: 'kill-switch-list' }, list.map(row)) : emptyState(t('noSwitches')));
    } catch (e) {
      if (alive) clear(switchesBody, errorState(e, loadSwitches));
    }
  }

  function row(s) {
    const engaged = !!s.engaged;
    const writable = ctx.can('kill_switches.write');
    const toggle = h('button', {
      type: 'button', class: 'adm-btn adm-btn-small ' + (engaged ? '' : 'adm-btn-danger'), testid: 'kill-switch-toggle', 'data-name': s.name,
      disabled: !writable || null, 'aria-describedby': 'ks-' + s.name,
      text: engaged ? t('release') : t('engage'),
    });
    toggle.addEventListener('click', async () => {
      const done = await formDialog({
        title: t(engaged ? 'releaseTitle' : 'engageTitle', { name: switchName(s.name) }),
        description: engaged ? t('releaseText') : t('engageText', { what: t('ks_' + s.name + '_what') }),
        confirmLabel: engaged ? t('release') : t('engage'), danger: !engaged,
        fields: [reasonField()],
        submit: ({ reason }) => ctx.api.setKillSwitch(s.name, !engaged, reason),
      });
      if (!done) return;
      announce(t(engaged ? 'releasedAnnounce' : 'engagedAnnounce', { name: switchName(s.name) }));
      await loadSwitches();
      main.querySelector(`[data-testid="kill-switch-toggle"][data-name="${s.name}"]`)?.focus();
    });
    return h('li', { class: 'adm-switch' + (engaged ? ' engaged' : ''), testid: 'kill-switch', 'data-name': s.name, 'data-engaged': String(engaged) },
      h('div', { class: 'adm-switch-main' },
        h('div', { class: 'adm-switch-title' },
          h('strong', { text: switchName(s.name) }),
          badge(engaged ? t('engaged') : t('notEngaged'), engaged ? 'bad' : 'ok', { testid: 'kill-switch-state' })),
        h('p', { class: 'adm-muted adm-small', id: 'ks-' + s.name, text: t('ks_' + s.name + '_what') }),
        s.changed_at && h('p', { class: 'adm-small adm-switch-change' },
          h('span', { text: t('changedBy') + ' ' }), ctx.people.label(s.changed_by),
          h('span', { text: ' · ' }), h('time', { datetime: s.changed_at, title: dateTime(s.changed_at), text: shortDateTime(s.changed_at) }),
          s.reason && h('span', { class: 'adm-reason', testid: 'kill-switch-reason', text: ' · ' + t('quoted', { text: s.reason }) }))),
      toggle);
  }

  async function loadRequests() {
    clear(requestsBody, loading());
    try {
      const list = await ctx.api.requests();
      if (!alive) return;
      const b = requestBuckets(list, ctx.userId, ctx.can('approvals.decide'));
      clear(requestsBody,
        h('ul', { class: 'adm-counts' },
          count(t('awaitingYourDecision'), b.toDecide.length, 'pending-count'),
          count(t('yourPending'), b.minePending.length, 'my-pending-count'),
          count(t('readyToExecute'), b.toExecute.length, 'execute-count')),
        h('a', { href: '#/requests', class: 'adm-link', testid: 'open-requests', text: t('openRequests') }));
    } catch (e) {
      if (alive) clear(requestsBody, errorState(e, loadRequests));
    }
  }

  loadSwitches();
  loadRequests();
  return () => { alive = false; };
}

function count(label, n, testid) {
  return h('li', { class: 'adm-count' }, h('span', { class: 'adm-count-label', text: label }), h('span', { class: 'adm-count-value', testid, 'data-count': String(n), text: String(n) }));
}

export function switchName(name) {
  return t('ks_' + name);
}

function access(ctx) {
  const me = ctx.me;
  return h('div', null,
    me.roles.length
      ? h('ul', { class: 'adm-role-list', testid: 'my-roles' }, me.roles.map(r => h('li', null,
        badge(t('role_' + r.role), r.kind === 'jit' ? 'jit' : 'role'),
        h('span', { class: 'adm-muted adm-small', text: ' ' + t('kind_' + r.kind) + (r.expires_at ? ' · ' + t('until', { time: shortDateTime(r.expires_at) }) : '') }))))
      : h('p', { class: 'adm-muted', testid: 'no-roles', text: t('noRolesText') }),
    h('details', { class: 'adm-details' },
      h('summary', { testid: 'scopes-toggle', text: t('scopesCount', { n: me.scopes.length }) }),
      h('ul', { class: 'adm-scopes', testid: 'my-scopes' }, me.scopes.map(s => h('li', null, h('code', { text: s }))))));
}
