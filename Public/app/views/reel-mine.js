// #/reels/mine (issue 15): the author's reels, newest first (`get_my_reels`, «Показать
// ещё» with `before` = `next`), each with its poster, caption, state in words (processing
// with its percentage, on moderation, published for whom, failed with the reason
// explained), counters and «Удалить» (`delete_reel`, asked first). Unfinished reels follow
// their processing live (reel-states.js).
import { h, clear, shortTime, fullTime } from '../util.js';
import { t } from '../i18n.js';
import { toast, toastError } from '../toast.js';
import { errorState, emptyState, confirmDialog, skeletonList } from './common.js';
import { stateText, failureText, unfinished, watchReels } from './reel-states.js';
import { compact } from './reel-player.js';

export function mineView(main, s) {
  let closed = false;
  let next = null;
  const reels = new Map(); // id → {reel, row}
  const list = h('ul', { class: 'reel-mine-list', testid: 'reel-mine-list', 'aria-label': t('reelsMine') });
  const state = h('div', { class: 'reel-mine-state' });
  const moreBtn = h('button', { class: 'btn', type: 'button', testid: 'reel-mine-more', hidden: true, onClick: () => load() }, t('reelCommentsMore'));
  clear(main, h('div', { class: 'page reel-mine' },
    h('p', {}, h('a', { href: '#/reels', class: 'reels-bar-link' }, t('reelsBack'))),
    h('div', { class: 'reel-mine-head' }, h('h1', { tabindex: '-1', text: t('reelsMine') }),
      h('a', { class: 'btn btn-primary', href: '#/reels/new', testid: 'reels-new-link' }, t('reelsUpload'))),
    list, state, moreBtn));

  function row(r) {
    const poster = r.state === 'ready' && r.media?.poster
      ? h('img', { class: 'reel-mine-poster', src: r.media.poster, alt: '', loading: 'lazy' })
      : h('span', { class: 'reel-mine-poster empty', 'aria-hidden': 'true' });
    const why = r.state === 'failed' ? failureText(r.failure_reason) : null;
    const c = r.counts || {};
    const bar = unfinished(r) && h('progress', { max: 100, value: Number(r.progress) || 0, 'aria-label': stateText(r) });
    const title = r.caption || t('reelNoCaption');
    const link = r.state === 'ready'
      ? h('a', { class: 'reel-mine-title', href: '#/reels/' + r.id, text: title })
      : h('span', { class: 'reel-mine-title', text: title });
    return h('li', { class: 'reel-mine-item', testid: 'reel-mine-item', 'data-id': r.id, 'data-state': r.state },
      poster,
      h('div', { class: 'reel-mine-main' },
        link,
        h('p', { class: 'reel-mine-state-text state-' + r.state + (r.moderation ? ' mod-' + r.moderation : ''), testid: 'reel-mine-state', text: stateText(r) }),
        bar,
        why && h('p', { class: 'reel-mine-why', testid: 'reel-mine-why', text: why }),
        why && r.failure_reason && h('p', { class: 'hint', text: t('reelServerSaid', { reason: String(r.failure_reason).slice(0, 300) }) }),
        r.state === 'ready' && h('p', { class: 'hint', text: t('reelMineCounts', { views: compact(c.views), likes: compact(c.likes), comments: compact(c.comments) }) }),
        h('p', { class: 'hint' }, h('time', { datetime: r.created_at || '', title: fullTime(r.created_at), text: shortTime(r.created_at) }))),
      h('button', { class: 'btn btn-small btn-danger', type: 'button', testid: 'reel-mine-delete', 'aria-label': t('reelDeleteOne', { title }), onClick: () => remove(r.id) }, t('reelDelete')));
  }

  function put(r, { append = false } = {}) {
    const known = reels.get(r.id);
    if (!known && r.live) return; // a report about a reel not on this page
    const reel = { ...(known?.reel || {}), ...r };
    const el = row(reel);
    if (known) known.row.replaceWith(el);
    else if (append) list.append(el);
    else list.prepend(el);
    reels.set(r.id, { reel, row: el });
  }

  async function remove(id) {
    if (!await confirmDialog(t('reelDeleteConfirm'), t('reelDelete'))) return;
    try {
      await s.rpc('delete_reel', { reel_id: id });
      reels.get(id)?.row.remove();
      reels.delete(id);
      toast(t('reelDeleted'));
      if (!reels.size) clear(state, empty());
    } catch (e) { toastError(e); }
  }

  const empty = () => emptyState(t('reelMineEmpty'), h('a', { class: 'btn btn-primary', href: '#/reels/new' }, t('reelsUploadFirst')));

  async function load() {
    moreBtn.disabled = true;
    if (!reels.size) clear(state, skeletonList(3));
    try {
      const r = await s.rpc('get_my_reels', { limit: 20, ...(next ? { before: next } : {}) });
      if (closed) return;
      for (const rec of r?.reels || []) put(rec, { append: true });
      next = r?.next ?? null;
      clear(state, reels.size ? null : empty());
      moreBtn.hidden = !next;
    } catch (e) {
      if (!closed) clear(state, errorState(e, () => load()));
    } finally {
      moreBtn.disabled = false;
    }
  }

  const stop = watchReels(s, {
    needed: () => [...reels.values()].some(x => unfinished(x.reel)),
    onRecord: rec => { if (!closed && reels.has(rec.id)) put(rec); },
  });
  load();
  return { cleanup() { closed = true; stop(); } };
}
