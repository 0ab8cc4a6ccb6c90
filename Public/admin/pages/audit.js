// The audit browser (GET /audit, audit.read): rows newest first, filtered by action, actor,
// outcome and target (kept in the address, #/audit?outcome=denied, so a view can be shared),
// older pages through next_before; and the chain check (GET /audit/verify): intact, or the
// first broken row with what is wrong, which can be opened in the list.
import { h, clear, focus } from '../../app/util.js';
import { t, has, preciseTime, dateTime } from '../i18n.js';
import { loading, errorState, emptyState, badge, card, pageHeading, field, announce, errorText, fact } from '../ui.js';

const FILTERS = ['action', 'actor', 'outcome', 'target'];
const ACTIONS = [
  'admin.session.open', 'admin.session.close', 'admin.enrol', 'admin.bootstrap',
  'admin.admins.add', 'admin.admins.enable', 'admin.admins.disable', 'admin.admins.list',
  'admin.role.request', 'admin.role.grant', 'admin.jit.request', 'admin.jit.grant', 'admin.grant.revoke',
  'admin.request.approve', 'admin.request.deny', 'admin.request.execute',
  'admin.kill_switch.engage', 'admin.kill_switch.release', 'admin.kill_switches.read',
  'admin.audit.read', 'admin.audit.verify', 'admin.write',
  'admin.reels.queue', 'admin.reel.approve', 'admin.reel.reject', 'admin.hashtags.read', 'admin.hashtag.block', 'admin.hashtag.unblock',
  'admin.users.lookup', 'admin.users.suspend', 'admin.users.unsuspend',
];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PAGE = 50; // rows per page unless the address says `limit` (1–200, the server's range)

export function mount(main, ctx, params) {
  const query = {};
  for (const name of [...FILTERS, 'before']) if (params.get(name)) query[name] = params.get(name);
  const asked = Number(params.get('limit'));
  const pageSize = Number.isInteger(asked) && asked >= 1 && asked <= 200 ? asked : PAGE;
  let alive = true;
  let next = null;
  let box = null;
  const wide = matchMedia('(min-width: 760px)');
  const onWide = () => { if (wide.matches && box) box.open = true; };
  wide.addEventListener('change', onWide);

  const inputs = {
    action: h('input', { class: 'adm-input', type: 'text', list: 'adm-actions', testid: 'audit-action', autocomplete: 'off', spellcheck: 'false', value: query.action || '' }),
    actor: h('input', { class: 'adm-input', type: 'text', testid: 'audit-actor', autocomplete: 'off', spellcheck: 'false', value: query.actor || '' }),
    outcome: h('select', { class: 'adm-input', testid: 'audit-outcome' },
      ['', 'allowed', 'denied'].map(v => h('option', { value: v, selected: v === (query.outcome || '') || null, text: v ? t('outcome_' + v) : t('anyOutcome') }))),
    target: h('input', { class: 'adm-input', type: 'text', testid: 'audit-target', autocomplete: 'off', spellcheck: 'false', value: query.target || '' }),
  };
  const formError = h('p', { class: 'adm-result bad', role: 'alert', testid: 'audit-filter-error', hidden: true });
  const mine = h('button', { type: 'button', class: 'adm-link-btn', testid: 'audit-actor-me', text: t('onlyMe'), onClick: () => { inputs.actor.value = ctx.userId; focus(inputs.actor); } });
  const actorField = field(t('filterActor'), inputs.actor, t('filterActorHint'));
  actorField.append(mine);
  const filters = h('form', { class: 'adm-filters', testid: 'audit-filters', novalidate: true, role: 'search', 'aria-label': t('auditFilters') },
    h('datalist', { id: 'adm-actions' }, ACTIONS.map(a => h('option', { value: a }))),
    field(t('filterAction'), inputs.action, t('filterActionHint')),
    actorField,
    field(t('filterOutcome'), inputs.outcome),
    field(t('filterTarget'), inputs.target, t('filterTargetHint')),
    formError,
    h('div', { class: 'adm-actions start' },
      h('button', { type: 'submit', class: 'adm-btn adm-btn-primary', testid: 'audit-apply', text: t('applyFilters') }),
      h('button', { type: 'button', class: 'adm-btn', testid: 'audit-reset', text: t('resetFilters'), onClick: reset })));

  const summary = h('p', { class: 'adm-muted adm-small', testid: 'audit-summary', role: 'status' });
  const tbody = h('tbody');
  const table = h('table', { class: 'adm-table', testid: 'audit-table' },
    h('caption', { class: 'sr-only', text: t('auditCaption') }),
    h('thead', null, h('tr', null, ['colSeq', 'colTime', 'colActor', 'colAction', 'colTarget', 'colOutcome', 'colReason', 'colMore'].map(k => h('th', { scope: 'col', text: t(k) })))),
    tbody);
  const listState = h('div');
  const more = h('button', { type: 'button', class: 'adm-btn', testid: 'audit-more', text: t('olderRows'), hidden: true, onClick: () => load({ append: true }) });
  const newest = h('button', { type: 'button', class: 'adm-btn adm-btn-quiet', testid: 'audit-newest', text: t('newestRows'), hidden: !query.before, onClick: () => { delete query.before; sync(); load(); } });

  const verifyButton = h('button', { type: 'button', class: 'adm-btn adm-btn-primary', testid: 'audit-verify', text: t('verifyChain'), onClick: verify });
  const verifyResult = h('div', { class: 'adm-verify', testid: 'verify-result', hidden: true });

  clear(main,
    pageHeading(t('navAudit')),
    h('div', { class: 'adm-grid audit' },
      filterBox(),
      card(t('verifyTitle'), 'verify-card', h('p', { class: 'adm-muted', text: t('verifyLead') }), verifyButton, verifyResult)),
    card(t('auditRows'), 'audit-rows-card', summary, listState, h('div', { class: 'adm-table-wrap' }, table), h('div', { class: 'adm-actions start' }, newest, more)));

  /** The filters: folded on a phone unless some are set; opened when the screen gets wider. */
  function filterBox() {
    const open = wide.matches || FILTERS.some(name => query[name]);
    box = h('details', { class: 'adm-filter-box', open: open || null },
      h('summary', { testid: 'audit-filters-toggle' }, h('h2', { text: t('auditFilters') })),
      filters);
    return h('section', { class: 'adm-card', testid: 'audit-filters-card' }, box);
  }

  filters.addEventListener('submit', e => {
    e.preventDefault();
    formError.hidden = true;
    const actor = inputs.actor.value.trim();
    inputs.actor.setAttribute('aria-invalid', String(!!actor && !UUID.test(actor)));
    if (actor && !UUID.test(actor)) {
      formError.hidden = false;
      formError.textContent = t('actorInvalid');
      focus(inputs.actor);
      return;
    }
    for (const name of FILTERS) {
      const value = inputs[name].value.trim();
      if (value) query[name] = name === 'actor' ? value.toLowerCase() : value;
      else delete query[name];
    }
    delete query.before;
    sync();
    load();
  });

  function clearFilters() {
    for (const name of FILTERS) { inputs[name].value = ''; delete query[name]; }
    delete query.before;
    formError.hidden = true;
    inputs.actor.setAttribute('aria-invalid', 'false');
  }

  function reset() {
    clearFilters();
    sync();
    load();
  }

  /** Keeps the filters in the address without a navigation. */
  function sync() {
    const q = new URLSearchParams({ ...query, ...(pageSize !== PAGE ? { limit: pageSize } : {}) }).toString();
    history.replaceState(null, '', '#/audit' + (q ? '?' + q : ''));
    newest.hidden = !query.before;
  }

  async function load({ append = false } = {}) {
    more.disabled = true;
    if (!append) {
      clear(tbody);
      clear(listState, loading());
      table.hidden = true;
      summary.textContent = '';
    }
    try {
      const page = await ctx.api.audit({ ...query, ...(append && next ? { before: next } : {}), limit: pageSize });
      if (!alive) return;
      clear(listState);
      for (const entry of page.entries) tbody.append(...rows(entry));
      next = page.next_before;
      more.hidden = !next;
      more.disabled = false;
      const shown = tbody.querySelectorAll('tr.adm-audit-row').length;
      table.hidden = shown === 0;
      if (!shown) listState.append(emptyState(FILTERS.some(name => query[name]) ? t('noAuditMatches') : t('noAuditRows'), 'audit-empty'));
      summary.textContent = t('auditShown', { n: shown }) + (next ? ' ' + t('auditMore') : '');
      if (append) {
        announce(t('auditAppended', { n: page.entries.length }));
        focus(tbody.querySelectorAll('tr.adm-audit-row')[shown - page.entries.length]?.querySelector('td'));
      }
    } catch (e) {
      if (!alive) return;
      more.disabled = false;
      if (append) announce(errorText(e), { assertive: true });
      else clear(listState, errorState(e, () => load()));
    }
  }

  function rows(entry) {
    const detailId = 'adm-audit-' + entry.seq;
    const toggle = h('button', {
      type: 'button', class: 'adm-btn adm-btn-small', testid: 'audit-row-toggle', 'aria-expanded': 'false', 'aria-controls': detailId,
      text: t('details'), 'aria-label': t('detailsOf', { seq: entry.seq }),
    });
    const detail = h('tr', { class: 'adm-audit-detail', id: detailId, hidden: true },
      h('td', { colspan: '8' }, h('ul', { class: 'adm-facts' },
        fact(t('colScope'), entry.scope ? h('code', { text: entry.scope }) : '—'),
        fact(t('requestId'), entry.request_id ? h('code', { class: 'adm-break', text: entry.request_id }) : '—'),
        fact(t('colActor'), entry.actor ? h('code', { class: 'adm-break', text: entry.actor }) : '—'),
        fact(t('colTarget'), entry.target ? h('code', { class: 'adm-break', text: entry.target }) : '—'),
        fact(t('hash'), h('code', { class: 'adm-break', text: entry.hash })),
        fact(t('detail'), h('pre', { class: 'adm-json', text: JSON.stringify(entry.detail ?? {}, null, 2) })))));
    toggle.addEventListener('click', () => {
      const open = detail.hidden;
      detail.hidden = !open;
      toggle.setAttribute('aria-expanded', String(open));
    });
    const action = has('action_' + entry.action) ? t('action_' + entry.action) : '';
    const row = h('tr', { class: 'adm-audit-row', testid: 'audit-row', 'data-seq': String(entry.seq), 'data-action': entry.action, 'data-outcome': entry.outcome, 'data-target': entry.target || '' },
      cell('colSeq', h('span', { class: 'adm-mono', text: '#' + entry.seq })),
      cell('colTime', h('time', { class: 'adm-nowrap', datetime: entry.at, title: dateTime(entry.at), text: preciseTime(entry.at) })),
      cell('colActor', entry.actor ? ctx.people.label(entry.actor) : h('span', { class: 'adm-muted', text: t('systemActor') })),
      cell('colAction', h('span', { class: 'adm-action' }, action && h('span', { text: action }), h('code', { text: entry.action }))),
      cell('colTarget', entry.target ? h('code', { class: 'adm-nowrap', title: entry.target, text: targetText(entry.target) }) : h('span', { class: 'adm-muted', text: '—' })),
      cell('colOutcome', badge(t('outcome_' + entry.outcome), entry.outcome === 'allowed' ? 'ok' : 'bad', { testid: 'audit-outcome-badge' })),
      cell('colReason', h('span', { class: 'adm-reason', text: entry.reason || '—' })),
      cell('colMore', toggle));
    return [row, detail];
  }

  async function verify() {
    verifyButton.disabled = true;
    verifyButton.setAttribute('aria-busy', 'true');
    verifyResult.hidden = false;
    clear(verifyResult, loading(t('verifying')));
    try {
      const v = await ctx.api.verifyAudit();
      if (!alive) return;
      verifyResult.dataset.intact = String(!!v.intact);
      if (v.intact) {
        clear(verifyResult, h('p', { class: 'adm-result ok', role: 'status', testid: 'verify-intact' },
          h('strong', { text: t('chainIntact') }), ' ',
          t('chainIntactText', { n: v.rows, seq: v.head_seq ?? '—', hash: v.head_hash ? String(v.head_hash).slice(0, 16) + '…' : '—' })));
      } else {
        const open = h('button', {
          type: 'button', class: 'adm-btn adm-btn-small', testid: 'verify-open-row', text: t('openBrokenRow', { seq: v.first_broken_seq }),
          onClick: () => { clearFilters(); query.before = String(Number(v.first_broken_seq) + 1); sync(); load(); },
        });
        clear(verifyResult, h('div', { class: 'adm-result bad', role: 'alert', testid: 'verify-broken', 'data-seq': String(v.first_broken_seq) },
          h('p', null, h('strong', { text: t('chainBroken', { seq: v.first_broken_seq }) })),
          h('p', { text: v.problem || '' }),
          h('p', { class: 'adm-small', text: t('chainBrokenGood', { n: v.rows, seq: v.head_seq ?? '—' }) }),
          v.first_broken_seq ? open : null));
      }
    } catch (e) {
      if (alive) clear(verifyResult, errorState(e, verify, 'verify-error'));
    } finally {
      verifyButton.disabled = false;
      verifyButton.removeAttribute('aria-busy');
    }
  }

  load();
  return () => { alive = false; wide.removeEventListener('change', onWide); };
}

function cell(label, content) {
  return h('td', { 'data-label': t(label) }, content);
}

/** A user id target shortened; other targets (switch names, request ids) as they are. */
function targetText(target) {
  return UUID.test(target) ? target.slice(0, 8) + '…' : target;
}
