// Requests and approvals (GET /requests, newest first): others' pending requests can be
// approved or denied with a reason (approvals.decide; the server checks the approver's role
// and refuses one's own), one's own approved requests executed. Every status is shown,
// including «expired» (requests and their approvals last 24 hours).
import { h, clear } from '../../app/util.js';
import { t, shortDateTime } from '../i18n.js';
import { loading, errorState, emptyState, badge, card, pageHeading, resultLine, announce, fact, timeTag } from '../ui.js';
import { formDialog, confirmDialog, reasonField } from '../dialog.js';
import { STATUSES, describe } from './request-model.js';

const STATUS_KIND = { pending: 'warn', approved: 'ok', denied: 'bad', consumed: '', expired: 'muted' };

export function mount(main, ctx, params) {
  const body = h('div', { class: 'adm-card-body' });
  const result = resultLine('requests-result');
  let filter = STATUSES.includes(params.get('status')) ? params.get('status') : '';
  let alive = true;

  const select = h('select', { class: 'adm-input', testid: 'request-status-filter', id: 'adm-req-status' },
    h('option', { value: '', text: t('allStatuses') }),
    STATUSES.map(s => h('option', { value: s, selected: s === filter || null, text: t('status_' + s) })));
  select.addEventListener('change', () => {
    filter = select.value;
    history.replaceState(null, '', '#/requests' + (filter ? '?status=' + filter : ''));
    load();
  });

  clear(main,
    pageHeading(t('navRequests')),
    h('p', { class: 'adm-muted', text: t('requestsLead') }),
    result.el,
    card(t('requestsList'), 'requests-list-card',
      h('div', { class: 'adm-toolbar' },
        h('label', { for: 'adm-req-status', text: t('statusFilter') }), select,
        h('button', { type: 'button', class: 'adm-btn adm-btn-small', testid: 'requests-refresh', text: t('refresh'), onClick: () => load() })),
      body));

  async function load() {
    clear(body, loading());
    try {
      const all = await ctx.api.requests();
      if (!alive) return;
      const shown = filter ? all.filter(r => r.status === filter) : all;
      clear(body, shown.length
        ? h('ul', { class: 'adm-rows', testid: 'request-list' }, shown.map(row))
        : emptyState(filter ? t('noRequestsWithStatus', { status: t('status_' + filter) }) : t('noRequests')));
    } catch (e) {
      if (alive) clear(body, errorState(e, load));
    }
  }

  function row(r) {
    const mine = r.requester === ctx.userId;
    const aboutMe = r.user_id === ctx.userId; // nobody decides a request that would grant them a role
    const decided = (r.decisions || []).some(d => d.approver === ctx.userId);
    const actions = [];
    if (r.status === 'pending' && !mine && !aboutMe && !decided && ctx.can('approvals.decide')) {
      actions.push(
        h('button', { type: 'button', class: 'adm-btn adm-btn-small adm-btn-primary', testid: 'request-approve', 'data-request-id': r.id, text: t('approve'), onClick: () => decide(r, true) }),
        h('button', { type: 'button', class: 'adm-btn adm-btn-small adm-btn-danger', testid: 'request-deny', 'data-request-id': r.id, text: t('deny'), onClick: () => decide(r, false) }));
    }
    if (r.status === 'approved' && mine) {
      actions.push(h('button', { type: 'button', class: 'adm-btn adm-btn-small adm-btn-primary', testid: 'request-execute', 'data-request-id': r.id, text: t('execute'), onClick: () => execute(r) }));
    }
    return h('li', { class: 'adm-row', testid: 'request-row', 'data-request-id': r.id, 'data-status': r.status },
      h('div', { class: 'adm-row-main' },
        h('div', { class: 'adm-row-title' },
          h('strong', { text: describe(r) }),
          badge(t('status_' + r.status), STATUS_KIND[r.status] ?? '', { testid: 'request-status' }),
          mine && badge(t('yourRequest'), 'muted')),
        h('ul', { class: 'adm-facts' },
          fact(t('requester'), ctx.people.label(r.requester)),
          fact(t('forWhom'), ctx.people.label(r.user_id)),
          fact(t('reason'), h('span', { class: 'adm-reason', text: r.reason })),
          fact(t('created'), timeTag(r.created_at)),
          r.status === 'pending' || r.status === 'approved' || r.status === 'expired'
            ? fact(r.status === 'expired' ? t('expired') : t('expires'), timeTag(r.expires_at))
            : null,
          r.consumed_at ? fact(t('executed'), h('time', { datetime: r.consumed_at, text: shortDateTime(r.consumed_at) })) : null),
        r.decisions?.length ? h('ul', { class: 'adm-decisions', 'aria-label': t('decisions') }, r.decisions.map(d => h('li', { testid: 'request-decision', 'data-decision': d.decision },
          badge(d.decision === 'approve' ? t('approved') : t('denied'), d.decision === 'approve' ? 'ok' : 'bad'), ' ',
          ctx.people.label(d.approver), h('span', { class: 'adm-muted adm-small', text: ' · ' + shortDateTime(d.decided_at) + ' · ' + t('quoted', { text: d.reason }) }))))
          : null),
      actions.length ? h('div', { class: 'adm-row-actions' }, actions) : null);
  }

  async function decide(r, approve) {
    const status = await formDialog({
      title: approve ? t('approveTitle') : t('denyTitle'), description: describe(r), danger: !approve,
      confirmLabel: approve ? t('approve') : t('deny'), testid: 'decide-dialog', fields: [reasonField()],
      submit: ({ reason }) => ctx.api.decide(r.id, approve, reason).then(x => x.status),
    });
    if (!status) return;
    const text = t('decidedAnnounce', { status: t('status_' + status) });
    result.ok(text);
    announce(text);
    await load();
  }

  async function execute(r) {
    const outcome = await confirmDialog({
      title: t('executeTitle'), description: describe(r) + '. ' + t('executeText'), confirmLabel: t('execute'), testid: 'execute-dialog',
      submit: () => ctx.api.execute(r.id),
    });
    if (!outcome) return;
    const text = outcome.expires_at ? t('executedUntil', { time: shortDateTime(outcome.expires_at) }) : t('executedAnnounce');
    result.ok(text);
    announce(text);
    await load();
    ctx.refreshMe();
  }

  load();
  return () => { alive = false; };
}
