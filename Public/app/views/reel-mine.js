// #/reels/mine (issue 15): the author's reels, newest first (`get_my_reels`, «Показать
// ещё» with `before` = `next`), each with its poster, caption, state in words (processing
// with its percentage, on moderation, published for whom, failed with the reason
// explained), counters, «Изменить» (caption and who sees it, `update_reel`; the server's
// refusal is shown under the field it names) and «Удалить» (`delete_reel`, asked first).
// Unfinished reels follow their processing live (reel-states.js).
import { h, clear, focus, shortTime, fullTime, graphemes } from '../util.js';
import { t } from '../i18n.js';
import { toast, toastError } from '../toast.js';
import { errorState, emptyState, errorText, confirmDialog, skeletonList } from './common.js';
import { stateText, failureText, unfinished, watchReels } from './reel-states.js';
import { compact } from './reel-player.js';

const MAX_CAPTION = 2200;

/**
 * The field a 400 from `update_reel` names and its rule in the user's words: the server says
 * "<field>: <rule>" (code 22023). null for any other error.
 */
export function fieldRefusal(e) {
  const m = e?.status === 400 && /^(caption|visibility): (.+)$/s.exec(String(e.message || ''));
  if (!m) return null;
  const [, field, rule] = m;
  const most = /at most (\d+) characters/.exec(rule);
  if (field === 'caption' && most) return { field, text: t('reelCaptionTooLong', { n: most[1] }) };
  if (field === 'caption' && /NUL/.test(rule)) return { field, text: t('reelCaptionBadCharacters') };
  if (field === 'visibility') return { field, text: t('reelVisibilityRefused') };
  return { field, text: t('reelServerSaid', { reason: rule }) };
}

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
      h('div', { class: 'reel-mine-actions' },
        r.state !== 'failed' && h('button', {
          class: 'btn btn-small', type: 'button', testid: 'reel-mine-edit', 'aria-label': t('reelEditOne', { title }),
          'aria-expanded': 'false', onClick: e => edit(r.id, e.currentTarget),
        }, t('reelEdit')),
        h('button', { class: 'btn btn-small btn-danger', type: 'button', testid: 'reel-mine-delete', 'aria-label': t('reelDeleteOne', { title }), onClick: () => remove(r.id) }, t('reelDelete'))));
  }

  /** Opens the edit form of reel `id` under its row (closing it when it is already open). */
  function edit(id, opener) {
    const known = reels.get(id);
    if (!known) return;
    const open = known.row.querySelector('.reel-mine-edit');
    if (open) { open.dismiss(); return; }
    const form = editForm(known.reel, opener, updated => {
      const was = known.reel;
      put(updated);
      toast(t('reelEditSaved'));
      if (was.moderation === 'approved' && updated.moderation === 'pending') toast(t('reelEditPending'));
      focus(reels.get(id)?.row.querySelector('[data-testid="reel-mine-edit"]'));
    });
    known.row.append(form);
    opener.setAttribute('aria-expanded', 'true');
    focus(form.querySelector('textarea'));
  }

  /** The caption and visibility form of reel `r`; `done(record)` after the server took it. */
  function editForm(r, opener, done) {
    const id = 'reel-edit-' + r.id;
    const captionError = h('p', { class: 'field-error', id: id + '-caption-error', testid: 'reel-edit-caption-error', hidden: true });
    const visibilityError = h('p', { class: 'field-error', id: id + '-visibility-error', testid: 'reel-edit-visibility-error', hidden: true });
    const formError = h('p', { class: 'field-error', testid: 'reel-edit-error', role: 'alert', hidden: true });
    const counter = h('span', { class: 'reel-edit-counter', testid: 'reel-edit-counter' });
    const caption = h('textarea', {
      class: 'input', id: id + '-caption', rows: 3, testid: 'reel-edit-caption',
      'aria-describedby': `${id}-caption-hint ${id}-caption-error`,
    });
    caption.value = r.caption || '';
    const visibility = h('select', { class: 'input', id: id + '-visibility', testid: 'reel-edit-visibility', 'aria-describedby': id + '-visibility-error' },
      ['public', 'followers', 'private'].map(v => h('option', { value: v, text: t('reelVisibility_' + v) })));
    visibility.value = r.visibility || 'public';
    const save = h('button', { class: 'btn btn-primary btn-small', type: 'submit', testid: 'reel-edit-save' }, t('reelEditSave'));
    const form = h('form', { class: 'reel-mine-edit', testid: 'reel-edit-form', novalidate: true, 'aria-label': t('reelEditOne', { title: r.caption || t('reelNoCaption') }) },
      h('div', { class: 'field' },
        h('label', { for: id + '-caption', text: t('reelCaptionLabel') }), caption,
        h('p', { class: 'hint', id: id + '-caption-hint' }, t('reelCaptionHint', { n: MAX_CAPTION }), ' ', counter),
        captionError),
      h('div', { class: 'field' }, h('label', { for: id + '-visibility', text: t('reelVisibilityLabel') }), visibility, visibilityError),
      formError,
      h('div', { class: 'reel-mine-edit-buttons' }, save,
        h('button', { class: 'btn btn-small', type: 'button', testid: 'reel-edit-cancel', onClick: () => form.dismiss() }, t('cancel'))));

    const count = () => {
      const n = graphemes(caption.value.trim()).length;
      counter.textContent = t('reelEditCount', { n, max: MAX_CAPTION });
      counter.classList.toggle('over', n > MAX_CAPTION);
    };
    count();
    caption.addEventListener('input', count);
    const show = (el, input, text) => {
      el.textContent = text || '';
      el.hidden = !text;
      if (input) input.setAttribute('aria-invalid', text ? 'true' : 'false');
    };
    form.dismiss = () => {
      form.remove();
      opener.setAttribute('aria-expanded', 'false');
      focus(opener);
    };
    form.addEventListener('keydown', e => { if (e.key === 'Escape') { e.preventDefault(); form.dismiss(); } });
    form.addEventListener('submit', async e => {
      e.preventDefault();
      if (save.disabled) return;
      show(captionError, caption); show(visibilityError, visibility); show(formError);
      const args = { reel_id: r.id };
      if (caption.value.trim() !== (r.caption || '')) args.caption = caption.value;
      if (visibility.value !== (r.visibility || 'public')) args.visibility = visibility.value;
      if (Object.keys(args).length === 1) { form.dismiss(); return; }
      save.disabled = true;
      try {
        const updated = await s.rpc('update_reel', args);
        if (closed) return;
        form.remove();
        opener.setAttribute('aria-expanded', 'false');
        done(updated);
      } catch (err) {
        if (closed) return;
        const refusal = fieldRefusal(err);
        if (refusal?.field === 'caption') { show(captionError, caption, refusal.text); focus(caption); }
        else if (refusal?.field === 'visibility') { show(visibilityError, visibility, refusal.text); focus(visibility); }
        else show(formError, null, err?.status === 404 ? t('reelsGone') : errorText(err));
      } finally {
        save.disabled = false;
      }
    });
    return form;
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
