// Moderation: the reels review queues (moderation.reels) in two tabs — held for review
// (`pending`, paged by created_at) and reported (paged by last_report_at) —, each reel approved,
// rejected or (reported ones) its author warned, with a reason; and the hashtag blocklist
// (moderation.hashtags, hashtags.js).
// The tab is kept in the address (#/moderation?queue=reported).
import { h, clear, focus } from '../../app/util.js';
import { t } from '../i18n.js';
import { loading, errorState, emptyState, card, pageHeading, resultLine, announce, errorContent } from '../ui.js';
import { formDialog, reasonField } from '../dialog.js';
import { reelCard } from './reel-card.js';
import { hashtagsCard } from './hashtags.js';

export const QUEUES = ['pending', 'reported'];
const PAGE = 20;
const cursor = (queue, reel) => (queue === 'reported' ? reel.last_report_at : reel.created_at);

export function mount(main, ctx, params) {
  let queue = QUEUES.includes(params.get('queue')) ? params.get('queue') : 'pending';
  let alive = true;
  let seq = 0;
  const result = resultLine('moderation-result');
  const body = h('div', { class: 'adm-card-body', id: 'adm-queue-panel', role: 'tabpanel' });
  const tabs = QUEUES.map(q => h('button', {
    type: 'button', role: 'tab', class: 'adm-tab', id: 'adm-tab-' + q, testid: 'queue-tab', 'data-queue': q,
    'aria-controls': 'adm-queue-panel', text: t('queue_' + q), onClick: () => select(q, false),
  }));
  const tablist = h('div', { class: 'adm-tabs', role: 'tablist', 'aria-label': t('reelQueues') }, tabs);
  tablist.addEventListener('keydown', e => {
    const at = QUEUES.indexOf(queue);
    const next = e.key === 'ArrowRight' ? (at + 1) % QUEUES.length : e.key === 'ArrowLeft' ? (at + QUEUES.length - 1) % QUEUES.length
      : e.key === 'Home' ? 0 : e.key === 'End' ? QUEUES.length - 1 : -1;
    if (next < 0) return;
    e.preventDefault();
    select(QUEUES[next], true);
  });

  clear(main,
    pageHeading(t('navModeration')),
    h('p', { class: 'adm-muted', text: t('moderationLead') }),
    result.el,
    ctx.can('moderation.reels')
      ? card(t('reelsReview'), 'reels-card',
        h('div', { class: 'adm-toolbar adm-tabs-bar' }, tablist,
          h('button', { type: 'button', class: 'adm-btn adm-btn-small', testid: 'reels-refresh', text: t('refresh'), onClick: () => load() })),
        body)
      : null,
    ctx.can('moderation.hashtags') ? hashtagsCard(ctx, result) : null);

  function select(q, keyboard) {
    queue = q;
    history.replaceState(null, '', '#/moderation' + (q === 'pending' ? '' : '?queue=' + q));
    load();
    if (keyboard) focus(tabs[QUEUES.indexOf(q)]);
  }

  function drawTabs() {
    tabs.forEach((tab, i) => {
      const on = QUEUES[i] === queue;
      tab.setAttribute('aria-selected', String(on));
      tab.tabIndex = on ? 0 : -1;
    });
    body.setAttribute('aria-labelledby', 'adm-tab-' + queue);
  }

  async function load() {
    if (!ctx.can('moderation.reels')) return;
    const mine = ++seq;
    drawTabs();
    clear(body, loading());
    try {
      const items = await ctx.api.reelQueue(queue, PAGE);
      if (!alive || mine !== seq) return;
      const list = h('ul', { class: 'adm-reels', testid: 'reel-list', 'data-queue': queue });
      clear(body, list);
      append(list, items, mine);
    } catch (e) {
      if (alive && mine === seq) clear(body, errorState(e, load));
    }
  }

  /** Adds a page to the list, and «more» when the page was full. */
  function append(list, items, mine) {
    body.querySelector('[data-testid="reels-more-box"]')?.remove();
    list.append(...items.map(r => reelCard(r, { queue, people: ctx.people, canDecide: true, decide })));
    if (!list.children.length) {
      clear(body, emptyState(t('queueEmpty_' + queue), 'reels-empty'));
      return;
    }
    if (items.length < PAGE) return;
    const line = h('p', { class: 'adm-result bad', role: 'alert', hidden: true });
    const more = h('button', { type: 'button', class: 'adm-btn', testid: 'reels-more', text: t('olderReels') });
    more.addEventListener('click', async () => {
      more.disabled = true;
      more.setAttribute('aria-busy', 'true');
      try {
        const next = await ctx.api.reelQueue(queue, PAGE, cursor(queue, items[items.length - 1]));
        if (!alive || mine !== seq) return;
        const first = list.children.length;
        append(list, next, mine);
        focus(list.children[first]?.querySelector('button'));
      } catch (e) {
        more.disabled = false;
        more.removeAttribute('aria-busy');
        line.hidden = false;
        line.replaceChildren(...errorContent(e).filter(Boolean));
      }
    });
    body.append(h('div', { class: 'adm-actions start', testid: 'reels-more-box' }, more, line));
  }

  async function decide(reel, decision, button) {
    const Decision = decision[0].toUpperCase() + decision.slice(1);
    const done = await formDialog({
      title: t(`reel${Decision}Title`), description: reel.caption || t('reelNoCaption'),
      confirmLabel: t('reel' + Decision), danger: decision === 'reject', testid: 'reel-dialog',
      fields: [reasonField(t(`reel${Decision}Hint`))],
      submit: ({ reason }) => ctx.api.decideReel(reel.reel_id, decision, reason),
    });
    if (!done) return;
    const text = t({ approve: 'reelApproved', reject: 'reelRejected', warn: 'reelWarned' }[decision]);
    result.ok(text);
    announce(text);
    // The decided reel leaves the queue; focus goes to the next card (or the tab).
    const item = button.closest('li.adm-reel');
    const next = item?.nextElementSibling || item?.previousElementSibling;
    item?.remove();
    if (!body.querySelector('li.adm-reel')) clear(body, emptyState(t('queueEmpty_' + queue), 'reels-empty'));
    focus(next?.querySelector('[data-testid="reel-approve"]') || tabs[QUEUES.indexOf(queue)]);
  }

  load();
  return () => { alive = false; };
}
