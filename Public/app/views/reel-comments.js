// A reel's comments (issue 15): a sheet (a modal dialog at the bottom on phones) listing
// `get_reel_comments` — top comments, newest first, each with its replies under it (asked for
// with `parent_id` when `reply_count` > 0; one level: a reply to a reply is sent as a reply to
// its top comment, as the server files it), «Показать ещё» (`before` = the answer's `next`) — and a field to write one (`comment_reel`, 1–2000
// characters). The writer of a comment and the reel's author may delete it
// (`delete_reel_comment`). Texts are text nodes only.
import { h, clear, focus, avatar, nameOf, shortTime, fullTime } from '../util.js';
import { t } from '../i18n.js';
import { toastError, announce } from '../toast.js';
import { openDialog, errorState, emptyState, errorText } from './common.js';

const MAX = 2000;

/** The comments of an answer, whatever its shape ({comments, next} or a bare list), grouped as top → replies. */
export function threads(list) {
  const tops = [];
  const byId = new Map();
  const loose = [];
  for (const c of list || []) {
    if (!c?.id) continue;
    const item = { ...c, replies: [...(c.replies || [])] };
    if (c.parent_id) loose.push(item);
    else { tops.push(item); byId.set(c.id, item); }
  }
  for (const r of loose) {
    const top = byId.get(r.parent_id);
    if (top) { if (!top.replies.some(x => x.id === r.id)) top.replies.push(r); } else tops.push(r);
  }
  for (const top of tops) top.replies.sort((a, b) => String(a.created_at).localeCompare(String(b.created_at)));
  return tops;
}

/** Opens the comments sheet of a card ({reel, paintCounts}). */
export function openComments(s, card) {
  const reel = card.reel;
  const d = openDialog({ title: t('reelComments') });
  d.dlg.classList.add('reel-sheet');
  d.dlg.dataset.testid = 'reel-comments-sheet';
  const list = h('ul', { class: 'reel-comment-list', testid: 'reel-comment-list', 'aria-label': t('reelComments') });
  const moreBtn = h('button', { class: 'btn btn-small', type: 'button', testid: 'reel-comments-more', hidden: true, onClick: () => load() }, t('reelCommentsMore'));
  const state = h('div', { class: 'reel-comments-state' });
  d.body.append(list, moreBtn, state);

  const replyLine = h('div', { class: 'reel-reply-to', hidden: true, testid: 'reel-reply-to' });
  const input = h('textarea', {
    class: 'input', id: 'reel-comment-input', testid: 'reel-comment-input', rows: 2, maxlength: MAX,
    'aria-describedby': 'reel-comment-hint', placeholder: t('reelCommentPlaceholder'),
  });
  const hint = h('div', { class: 'hint', id: 'reel-comment-hint', 'aria-live': 'polite' });
  const send = h('button', { class: 'btn btn-primary', type: 'submit', testid: 'reel-comment-send' }, t('reelCommentSend'));
  const form = h('form', { class: 'reel-comment-form', testid: 'reel-comment-form' },
    replyLine, h('label', { class: 'sr-only', for: 'reel-comment-input', text: t('reelCommentLabel') }), input, hint, send);
  d.foot.append(form);

  let next = null;
  let loaded = [];
  let replyTo = null;
  let busy = false;

  const mine = c => (typeof c.can_delete === 'boolean' ? c.can_delete : (c.author?.id || c.author_id) === s.userId || reel.author?.id === s.userId);

  function row(c, top) {
    const author = c.author || { id: c.author_id };
    const del = mine(c) && h('button', {
      class: 'btn-link reel-comment-del', type: 'button', testid: 'reel-comment-delete',
      onClick: () => remove(c),
    }, t('reelCommentDelete'));
    const reply = h('button', {
      class: 'btn-link', type: 'button', testid: 'reel-comment-reply',
      onClick: () => setReply(top, author),
    }, t('reelCommentReply'));
    return h('li', { class: 'reel-comment' + (top === c ? '' : ' reply'), testid: 'reel-comment', 'data-id': c.id },
      avatar(author, { size: 'sm' }),
      h('div', { class: 'reel-comment-main' },
        h('div', { class: 'reel-comment-head' }, h('span', { class: 'reel-comment-name', text: nameOf(author) }),
          h('time', { class: 'muted', datetime: c.created_at || '', title: fullTime(c.created_at), text: shortTime(c.created_at) })),
        h('p', { class: 'reel-comment-body', testid: 'reel-comment-body', text: c.body || '' }),
        h('div', { class: 'reel-comment-actions' }, reply, del)));
  }

  function paint() {
    const tops = threads(loaded);
    if (!tops.length) { clear(list); clear(state, emptyState(t('reelCommentsEmpty'))); return; }
    clear(state);
    clear(list, tops.map(top => [row(top, top), ...top.replies.map(r => row(r, top))]));
    moreBtn.hidden = !next;
  }

  async function load() {
    if (busy) return;
    busy = true;
    moreBtn.disabled = true;
    if (!loaded.length) clear(state, h('p', { class: 'hint', role: 'status', text: t('loading') }));
    try {
      const r = await s.rpc('get_reel_comments', { reel_id: reel.id, limit: 30, ...(next ? { before: next } : {}) });
      const items = Array.isArray(r) ? r : r?.comments || r?.items || [];
      next = Array.isArray(r) ? null : r?.next ?? null;
      loaded = loaded.concat(items.filter(x => !loaded.some(y => y.id === x.id)));
      // Replies come per top comment (`parent_id`), oldest first.
      const replies = await Promise.all(items.filter(c => !c.parent_id && c.reply_count > 0).map(c =>
        s.rpc('get_reel_comments', { reel_id: reel.id, parent_id: c.id, limit: 50 }).then(x => x?.comments || [], () => [])));
      for (const list of replies) loaded = loaded.concat(list.filter(x => !loaded.some(y => y.id === x.id)));
      paint();
    } catch (e) {
      clear(state, errorState(e, () => load()));
    } finally {
      busy = false;
      moreBtn.disabled = false;
    }
  }

  function setReply(top, author) {
    replyTo = top ? { id: top.id, name: nameOf(author) } : null;
    replyLine.hidden = !replyTo;
    clear(replyLine, replyTo ? [h('span', { text: t('reelReplyingTo', { name: replyTo.name }) }),
      h('button', { class: 'btn-link', type: 'button', testid: 'reel-reply-cancel', onClick: () => setReply(null) }, t('cancel'))] : []);
    focus(input);
  }

  async function remove(c) {
    try {
      await s.rpc('delete_reel_comment', { comment_id: c.id });
      const gone = new Set([c.id, ...loaded.filter(x => x.parent_id === c.id).map(x => x.id)]);
      const removed = loaded.filter(x => gone.has(x.id)).length + (c.replies?.length || 0);
      loaded = loaded.filter(x => !gone.has(x.id));
      reel.counts.comments = Math.max(0, (reel.counts.comments || 0) - Math.max(1, removed));
      card.paintCounts();
      paint();
      announce(t('reelCommentDeleted'));
      focus(input);
    } catch (e) { toastError(e); }
  }

  form.addEventListener('submit', async e => {
    e.preventDefault();
    const body = input.value.trim();
    if (!body) { hint.className = 'hint bad'; hint.textContent = t('reelCommentEmpty'); focus(input); return; }
    if ([...body].length > MAX) { hint.className = 'hint bad'; hint.textContent = t('reelCommentTooLong', { n: MAX }); return; }
    send.disabled = true;
    hint.className = 'hint';
    hint.textContent = '';
    try {
      const c = await s.rpc('comment_reel', { reel_id: reel.id, body, ...(replyTo ? { reply_to: replyTo.id } : {}) });
      const made = c?.comment || c;
      loaded.push({ author: { id: s.userId, ...s.me }, created_at: new Date().toISOString(), body, parent_id: replyTo?.id || null, can_delete: true, ...made });
      reel.counts ||= {};
      // Counted here: the answer's `count` is read in the inserting statement's snapshot (one behind).
      reel.counts.comments = (reel.counts.comments || 0) + 1;
      card.paintCounts();
      input.value = '';
      setReply(null);
      paint();
      announce(t('reelCommentSent'));
    } catch (err) {
      hint.className = 'hint bad';
      hint.textContent = errorText(err);
    } finally {
      send.disabled = false;
    }
  });
  input.addEventListener('keydown', e => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) form.requestSubmit(); });

  load();
  focus(input);
}
