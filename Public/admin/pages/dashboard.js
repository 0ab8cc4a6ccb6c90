// Dashboard: the kill switches (engage or release with a reason, for sessions with
// kill_switches.write), the requests waiting for someone, what waits for moderators (GET
// /dashboard: the reels queues, the blocklist and the arbiter; left out without a word by a
// server that does not have it yet), and the session's own access.
import { h, clear } from '../../app/util.js';
import { t, shortDateTime } from '../i18n.js';
import { loading, errorState, emptyState, badge, card, pageHeading, missingScope, announce, timeTag } from '../ui.js';
import { formDialog, reasonField } from '../dialog.js';
import { requestBuckets } from './request-model.js';

export function mount(main, ctx) {
  const switchesBody = h('div', { class: 'adm-card-body' });
  const requestsBody = h('div', { class: 'adm-card-body' });
  const overviewCard = card(t('overviewTitle'), 'overview-card');
  const overviewBody = h('div', { class: 'adm-card-body' });
  overviewCard.append(overviewBody);
  overviewCard.hidden = true;
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
        overviewCard,
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
          h('span', { text: ' · ' }), timeTag(s.changed_at),
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

  /** GET /dashboard: hidden until it answers; a 404 (an older server) keeps it hidden. */
  async function loadOverview() {
    try {
      const data = await ctx.api.dashboard();
      if (!alive) return;
      overviewCard.hidden = false;
      clear(overviewBody, overview(data, ctx));
    } catch (e) {
      if (!alive || e.status === 404 || e.code === 'admin_scope_required') return;
      overviewCard.hidden = false;
      clear(overviewBody, errorState(e, loadOverview, 'overview-error'));
    }
  }

  loadSwitches();
  loadRequests();
  loadOverview();
  return () => { alive = false; };
}

/** The counts of GET /dashboard, each a link to its page where the session may open it. */
function overview(data, ctx) {
  const reels = data.reels;
  const linkIf = (scope, href) => (ctx.can(scope) ? href : null);
  const engaged = data.kill_switches_engaged || [];
  return h('div', { testid: 'overview', 'data-reels': String(!!reels) },
    h('ul', { class: 'adm-counts' },
      count(t('overviewRequests'), data.requests_pending ?? 0, 'overview-requests', '#/requests?status=pending'),
      count(t('overviewSwitches'), engaged.length, 'overview-switches', null),
      reels && count(t('overviewPending'), reels.pending ?? 0, 'overview-reels-pending', linkIf('moderation.reels', '#/moderation')),
      reels && count(t('overviewReported'), reels.reported ?? 0, 'overview-reels-reported', linkIf('moderation.reels', '#/moderation?queue=reported')),
      reels && count(t('overviewHashtags'), reels.hashtags_blocked ?? 0, 'overview-hashtags', linkIf('moderation.hashtags', '#/moderation')),
      data.reports && count(t('overviewReportedMessages'), data.reports.messages ?? 0, 'overview-reported-messages', linkIf('moderation.content', '#/reports')),
      data.reports && count(t('overviewReportedProfiles'), data.reports.profiles ?? 0, 'overview-reported-profiles', linkIf('moderation.content', '#/reports'))),
    engaged.length ? h('p', { class: 'adm-small', testid: 'overview-engaged' }, t('overviewEngagedList') + ' ', engaged.map(switchName).join(', ')) : null,
    reels ? arbiter(reels.arbiter) : h('p', { class: 'adm-muted adm-small', testid: 'overview-no-reels', text: t('overviewNoReels') }));
}

function arbiter(a) {
  const suppressed = !!a?.suppressed;
  return h('div', { class: 'adm-arbiter' + (suppressed ? ' suppressed' : ''), testid: 'arbiter', 'data-suppressed': String(suppressed) },
    h('div', { class: 'adm-switch-title' },
      h('strong', { text: t('arbiterTitle') }),
      badge(suppressed ? t('arbiterSuppressed') : t('arbiterActive'), suppressed ? 'bad' : 'ok', { testid: 'arbiter-state' })),
    h('p', { class: 'adm-muted adm-small', text: t('arbiterWhat') }),
    a && (a.since || a.reason || a.updated_at) ? h('p', { class: 'adm-small' },
      suppressed && a.since ? h('span', null, t('arbiterSince') + ' ', timeTag(a.since)) : null,
      suppressed && a.reason ? h('span', { class: 'adm-reason', testid: 'arbiter-reason', text: (a.since ? ' · ' : '') + t('quoted', { text: a.reason }) }) : null,
      a.updated_at ? h('span', { class: 'adm-muted' }, (suppressed ? ' · ' : '') + t('arbiterUpdated') + ' ', timeTag(a.updated_at)) : null)
      : null);
}

function count(label, n, testid, href) {
  const kids = [h('span', { class: 'adm-count-label', text: label }), h('span', { class: 'adm-count-value', testid, 'data-count': String(n), text: String(n) })];
  return h('li', { class: 'adm-count' + (href ? ' adm-count-link' : '') }, href ? h('a', { href, testid: testid + '-link' }, kids) : kids);
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
