// The pinned message of a conversation (`pinned_message` of its inbox item): a bar under
// the header with the message's text; a click shows the message in the list, «×» unpins it
// (for who may: any member of a DM, a group's owner or admin).
import { h, clear, icon } from '../util.js';
import { t } from '../i18n.js';

/**
 * The bar: `open(seq)` scrolls to a message, `unpin()` unpins, `canPin()` says whether the
 * caller may, `snippet(m)` is the text shown for a message.
 */
export function pinnedBar({ open, unpin, canPin, snippet }) {
  const el = h('div', { class: 'pinned-bar', testid: 'pinned-bar', hidden: true });
  let shown = '';

  /** Shows `pm` ({id, seq, kind, body, sender_id}) or hides the bar when null. */
  function paint(pm) {
    const sig = pm ? JSON.stringify([pm.id, pm.seq, pm.body, pm.kind, canPin()]) : '';
    if (sig === shown) return;
    shown = sig;
    el.hidden = !pm;
    if (!pm) return clear(el);
    const text = snippet(pm);
    clear(el,
      h('button', {
        type: 'button', class: 'pinned-open', testid: 'pinned-open', 'data-seq': pm.seq,
        'aria-label': t('pinnedOpen', { text }), onClick: () => open(pm.seq),
      }, h('span', { class: 'pinned-label', text: t('pinnedLabel') }), h('span', { class: 'pinned-text', testid: 'pinned-text', text })),
      canPin() && h('button', {
        type: 'button', class: 'icon-btn', testid: 'pinned-unpin', 'aria-label': t('menuUnpin'), title: t('menuUnpin'),
        onClick: () => unpin(),
      }, icon('close')));
  }

  return { el, paint };
}
