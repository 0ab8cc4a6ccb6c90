// The saved OSAGO calculations: the list (newest first, more on demand), open one into the
// form, share one to a chat, delete one (with a confirmation).
import { h, clear, icon, focus, fullTime } from '../util.js';
import { t } from '../i18n.js';
import { announce, toastError } from '../toast.js';
import { errorState, emptyState, skeletonList, confirmDialog } from './common.js';
import { priceText } from './osago-result.js';
import { shareDialog } from './osago-share.js';

/**
 * The saved list. opts: {s, uid, closed(), title(request) → auto title, open(item), deleted(id)}.
 * Returns {section, load(reset), prepend(item)}.
 */
export function savedList({ s, uid, closed, title: autoTitle, open, deleted }) {
  let cursor = null;
  const box = h('div');
  const section = h('section', { class: 'section', testid: 'osago-saved', 'aria-labelledby': uid + '-saved-h' },
    h('h2', { id: uid + '-saved-h', text: t('savedTitle') }), box);
  const list = h('ul', { class: 'list saved-list', testid: 'osago-saved-list' });
  const more = h('button', { class: 'btn btn-small', type: 'button', hidden: true, text: t('loadMore'), onClick: () => load(false) });
  const items = new Map();

  function row(item) {
    const title = item.title || autoTitle(item.request || {});
    const li = h('li', { class: 'saved-item', testid: 'saved-calc', 'data-id': item.id },
      h('div', { class: 'saved-main' },
        h('span', { class: 'saved-title', testid: 'saved-calc-title', text: title }),
        h('span', { class: 'saved-price', testid: 'saved-calc-price', text: priceText(item.result || {}) }),
        h('time', { class: 'muted saved-time', datetime: item.created_at, text: fullTime(item.created_at) })),
      h('span', { class: 'actions' },
        h('button', {
          class: 'btn btn-small', type: 'button', testid: 'saved-calc-open', 'aria-label': t('openCalculation', { title }),
          onClick: () => open(item),
        }, t('open')),
        h('button', {
          class: 'icon-btn', type: 'button', testid: 'saved-calc-share', 'aria-label': t('shareCalculation', { title }), title: t('shareToChat'),
          onClick: () => shareDialog(s, { ...item, title }),
        }, icon('send')),
        h('button', {
          class: 'icon-btn', type: 'button', testid: 'saved-calc-delete', 'aria-label': t('deleteCalculation', { title }),
          onClick: e => remove(item, title, e.currentTarget),
        }, icon('trash'))));
    items.set(item.id, li);
    return li;
  }

  async function load(reset) {
    if (reset) { cursor = null; clear(box, skeletonList(2)); }
    more.disabled = true;
    try {
      const page = await s.rpc('list_osago_calculations', { limit: 20, ...(cursor && { cursor }) });
      if (closed()) return;
      if (reset) { items.clear(); clear(list); }
      for (const item of page.items || []) if (!items.has(item.id)) list.append(row(item));
      cursor = page.next_cursor || null;
      more.hidden = !cursor;
      paint();
    } catch (e) {
      if (closed()) return;
      if (reset || !list.children.length) clear(box, errorState(e, () => load(true)));
      else toastError(e);
    } finally {
      more.disabled = false;
    }
  }

  function paint() {
    if (!list.children.length) clear(box, emptyState(t('savedEmpty')));
    else if (!list.isConnected) clear(box, list, h('div', { class: 'notice-line' }, more));
  }

  async function remove(item, title, btn) {
    if (!(await confirmDialog(t('deleteCalculationConfirm', { title }), t('delete')))) return;
    btn.disabled = true;
    try {
      await s.rpc('delete_osago_calculation', { id: item.id });
    } catch (e) {
      if (e.code !== 'PGRST116' && e.status !== 404) { btn.disabled = false; toastError(e); return; }
    }
    if (closed()) return;
    const li = items.get(item.id);
    const next = li?.nextElementSibling || li?.previousElementSibling;
    li?.remove();
    items.delete(item.id);
    deleted(item.id);
    paint();
    announce(t('calculationDeleted'));
    focus(next?.querySelector('[data-testid="saved-calc-open"]') || section.querySelector('h2'));
  }

  return {
    section, load,
    prepend(item) {
      if (items.has(item.id)) return;
      list.prepend(row(item));
      paint();
    },
  };
}
