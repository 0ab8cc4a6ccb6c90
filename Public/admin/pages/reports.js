// Reports (moderation.content): reported chat messages and reported profiles, each card paged
// by its latest report. A moderator keeps the content (approve), removes it (a message becomes
// a tombstone; a profile loses its name, username, bio and avatar) or warns its author, always
// with a reason; reporters are never shown.
import { h, clear, focus } from '../../app/util.js';
import { t } from '../i18n.js';
import { loading, errorState, emptyState, card, pageHeading, resultLine, announce, errorContent, badge, fact, timeTag } from '../ui.js';
import { formDialog, reasonField } from '../dialog.js';

export const KINDS = ['messages', 'profiles'];
export const DECISIONS = ['approve', 'warn', 'remove'];
const PAGE = 20;

export function mount(main, ctx) {
  let alive = true;
  const result = resultLine('reports-result');
  clear(main,
    pageHeading(t('navReports')),
    h('p', { class: 'adm-muted', text: t('reportsLead') }),
    result.el,
    ...KINDS.map(kind => reportCard(kind)));

  function reportCard(kind) {
    const body = h('div', { class: 'adm-card-body' });
    const load = async () => {
      clear(body, loading());
      try {
        const items = await ctx.api.reportQueue(kind, PAGE);
        if (!alive) return;
        const list = h('ul', { class: 'adm-reports', testid: 'report-list', 'data-kind': kind });
        clear(body, list);
        append(kind, body, list, items);
      } catch (e) {
        if (alive) clear(body, errorState(e, load));
      }
    };
    load();
    return card(t('reports_' + kind), 'reports-' + kind,
      h('div', { class: 'adm-toolbar' },
        h('button', { type: 'button', class: 'adm-btn adm-btn-small', testid: 'reports-refresh', 'data-kind': kind, text: t('refresh'), onClick: load })),
      body);
  }

  /** Adds a page of items, and «more» when the page was full. */
  function append(kind, body, list, items) {
    body.querySelector('[data-testid="reports-more-box"]')?.remove();
    list.append(...items.map(item => reportItem(kind, item)));
    if (!list.children.length) {
      clear(body, emptyState(t('reportsEmpty_' + kind), 'reports-empty'));
      return;
    }
    if (items.length < PAGE) return;
    const line = h('p', { class: 'adm-result bad', role: 'alert', hidden: true });
    const more = h('button', { type: 'button', class: 'adm-btn', testid: 'reports-more', text: t('olderReels') });
    more.addEventListener('click', async () => {
      more.disabled = true;
      try {
        const next = await ctx.api.reportQueue(kind, PAGE, items[items.length - 1].last_report_at);
        if (!alive) return;
        const first = list.children.length;
        append(kind, body, list, next);
        focus(list.children[first]?.querySelector('button'));
      } catch (e) {
        more.disabled = false;
        line.hidden = false;
        line.replaceChildren(...errorContent(e).filter(Boolean));
      }
    });
    body.append(h('div', { class: 'adm-actions start', testid: 'reports-more-box' }, more, line));
  }

  function reportItem(kind, item) {
    const id = kind === 'messages' ? item.message_id : item.user_id;
    const textId = 'adm-report-' + id;
    const content = kind === 'messages'
      ? h('p', { class: 'adm-report-text' + (item.body ? '' : ' adm-muted'), id: textId, testid: 'report-content',
        text: item.deleted ? t('reportDeleted') : item.body || t('reportAttachment', { kind: item.kind }) })
      : h('p', { class: 'adm-report-text', id: textId, testid: 'report-content' },
        h('b', { text: item.display_name || t('reportNoName') }), ' ',
        h('span', { class: 'adm-muted', text: item.username ? '@' + item.username : t('reportNoUsername') }),
        item.bio ? h('span', { class: 'adm-report-bio', text: item.bio }) : null);
    const author = kind === 'messages' ? item.sender_id : item.user_id;
    return h('li', { class: 'adm-report', testid: 'report-item', 'data-id': id, 'data-kind': kind },
      content,
      h('ul', { class: 'adm-facts' },
        fact(t(kind === 'messages' ? 'reportSender' : 'reportUser'), ctx.people.label(author)),
        fact(t('reelReports'), h('span', { testid: 'report-count', text: String(item.reports) })),
        fact(t('reelLastReport'), timeTag(item.last_report_at))),
      h('ul', { class: 'adm-reel-reasons', 'aria-label': t('reelReportReasons') },
        item.report_reasons.map(r => h('li', null, badge(t('reportReason_' + r), 'warn', { 'data-reason': r })))),
      item.report_details?.length
        ? h('ul', { class: 'adm-report-details', 'aria-label': t('reportDetailsLabel') }, item.report_details.map(d => h('li', null, h('q', { text: d }))))
        : null,
      h('div', { class: 'adm-row-actions' }, DECISIONS.map(decision => h('button', {
        type: 'button', class: 'adm-btn adm-btn-small' + (decision === 'remove' ? ' adm-btn-danger' : decision === 'approve' ? ' adm-btn-primary' : ''),
        testid: 'report-' + decision, 'aria-describedby': textId, text: t('report_' + decision),
        onClick: e => decide(kind, id, decision, e.currentTarget),
      }))));
  }

  async function decide(kind, id, decision, button) {
    const done = await formDialog({
      title: t(`reportTitle_${decision}_${kind}`), confirmLabel: t('report_' + decision), danger: decision === 'remove', testid: 'report-dialog',
      fields: [reasonField(t('reportHint_' + decision))],
      submit: ({ reason }) => ctx.api.decideReport(kind, id, decision, reason),
    });
    if (!done) return;
    const text = t('reportDone_' + decision);
    result.ok(text);
    announce(text);
    const item = button.closest('li.adm-report');
    const list = item?.parentElement;
    const next = item?.nextElementSibling || item?.previousElementSibling;
    item?.remove();
    if (list && !list.children.length) list.replaceWith(emptyState(t('reportsEmpty_' + kind), 'reports-empty'));
    focus(next?.querySelector('button') || main.querySelector('h1'));
  }

  return () => { alive = false; };
}
