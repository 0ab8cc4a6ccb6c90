// #/chats and #/chats/<id>: the inbox beside (or, on phones, instead of) the open conversation.
// Above the list: «Новый чат» (new-chat.js) and the search (search.js: the list is filtered by
// name, message results below it). A row shows ticks before an own last message and a draft.
import { h, clear, icon, avatar, nameOf, shortTime, fullTime, focus } from '../util.js';
import { t } from '../i18n.js';
import { skeletonList, emptyState, errorState, chatTitle } from './common.js';
import { newChatButton } from './new-chat.js';
import { chatSearch, chatMatches } from './search.js';
import { callText } from './call-event.js';

const TICKS = { sending: 'clock', sent: 'tick', delivered: 'ticks', read: 'ticks' };

/** The unsent draft of a chat (the composer's localStorage contract), on one line. */
function draftOf(s, id) {
  try {
    return (localStorage.getItem(`ecomansoni.draft.${s.userId}.${id}`) || '').replace(/\s+/g, ' ').trim();
  } catch {
    return '';
  }
}

function preview(s, item) {
  const m = item.last_message;
  if (!m) return item.kind === 'group' ? t('groupCreated') : t('noMessagesYet');
  if (m.kind === 'call' && !m.deleted) return callText(m);
  const kind = m.kind && m.kind !== 'text' ? t('kind_' + m.kind) : '';
  const body = m.deleted ? t('messageDeleted') : (kind && m.body ? kind + ' · ' + m.body : m.body || kind);
  if (m.sender_id === s.userId) return t('you') + ': ' + body;
  if (item.kind === 'group') {
    const p = item.participants?.find(x => x.id === m.sender_id);
    return (p ? nameOf(p) : t('unknownUser')) + ': ' + body;
  }
  return body;
}

export function chatsView(main, s, route) {
  main.className = 'fixed';
  const list = h('ul', { class: 'inbox', 'aria-labelledby': 'inbox-title' });
  const more = h('button', { class: 'btn btn-small', type: 'button', hidden: true, onClick: () => s.loadMoreInbox().catch(() => {}) }, t('loadMore'));
  let filter = '';
  const search = chatSearch(s, { onQuery: q => { filter = q; renderList(); } });
  const chatsHead = h('h2', { class: 'search-head', hidden: true, text: t('chatsSection') });
  const pane = h('section', { class: 'pane-list', 'aria-labelledby': 'inbox-title' },
    h('div', { class: 'page-head' },
      h('h1', { id: 'inbox-title', tabindex: '-1', text: t('chatsTitle') }),
      newChatButton(s)),
    search.el,
    h('div', { class: 'list-scroll' }, chatsHead, list, h('div', { class: 'notice-line' }, more), search.results));
  const convPane = h('section', { class: 'pane-conv', 'aria-label': t('conversation') });
  const split = h('div', { class: 'split' }, pane, convPane);
  clear(main, split);

  let currentId = null;
  let conv = null;
  let closed = false;

  const rows = new Map(); // conversation id → <li>, kept across updates
  const readsOffs = new Map(); // conversation id → unsubscribe from its receipts events

  function renderList() {
    const focused = document.activeElement?.closest?.('[data-testid="inbox-item"]')?.dataset.conversationId;
    const inbox = s.inbox;
    more.hidden = !inbox.next;
    chatsHead.hidden = !filter;
    const items = filter ? inbox.items.filter(item => chatMatches(s, item, filter)) : inbox.items;
    if (!inbox.loaded || !items.length) {
      for (const cid of rows.keys()) drop(cid);
      if (!inbox.loaded) clear(list, h('li', {}, inbox.error ? errorState(inbox.error, () => s.loadInbox()) : skeletonList(7)));
      else if (filter) clear(list, h('li', { class: 'muted search-none', testid: 'no-chats-match', text: t('noChatsMatch') }));
      else clear(list, h('li', {}, emptyState(t('emptyInbox'), h('a', { class: 'btn btn-primary', href: '#/people' }, t('findPeople')))));
      return;
    }
    const seen = new Set();
    items.forEach((item, i) => {
      const cid = item.conversation_id;
      seen.add(cid);
      let li = rows.get(cid);
      if (!li) {
        li = h('li', {}, h('a', { class: 'inbox-item', testid: 'inbox-item', 'data-conversation-id': cid, href: '#/chats/' + cid }));
        rows.set(cid, li);
        // Another member's read or delivery cursor moved: this row's ticks may change.
        readsOffs.set(cid, s.on('conv:' + cid, e => { if (e?.type === 'reads') refill(cid); }));
      }
      fillItem(li.firstChild, item);
      if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
    });
    for (const cid of [...rows.keys()]) if (!seen.has(cid)) drop(cid);
    for (const el of [...list.children]) if (!el.firstChild?.dataset?.conversationId) el.remove();
    if (focused && document.activeElement === document.body) focus(list.querySelector(`[data-conversation-id="${focused}"]`));
  }

  function drop(cid) {
    rows.get(cid)?.remove();
    rows.delete(cid);
    readsOffs.get(cid)?.();
    readsOffs.delete(cid);
  }

  function refill(cid) {
    const a = rows.get(cid)?.firstChild;
    const item = s.item(cid);
    if (a && item) fillItem(a, item);
  }

  /** Updates an inbox row in place (its elements, the unread badge included, stay the same). */
  function fillItem(a, item) {
    const other = item.kind === 'dm' ? item.participants?.[0] : null;
    const title = chatTitle(s, item);
    const unread = item.unread_count || 0;
    const time = item.last_message?.created_at || item.last_message_at;
    const p = a._p ||= (() => {
      const q = { face: h('span'), title: h('span', { class: 'title' }), time: h('time', { class: 'time' }), preview: h('span', { class: 'preview' }) };
      q.status = h('span', { class: 'status inbox-status', testid: 'inbox-status', role: 'img', hidden: true });
      q.line2 = h('span', { class: 'row' }, h('span', { class: 'line' }, q.status, q.preview));
      a.append(q.face, h('span', { class: 'body' }, h('span', { class: 'row' }, q.title, q.time), q.line2));
      return q;
    })();
    if (item.conversation_id === currentId) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
    const online = !!other && s.online.has(other.id);
    const faceSig = JSON.stringify([title, other?.avatar_url, online]);
    if (p.face.dataset.sig !== faceSig) {
      p.face.dataset.sig = faceSig;
      clear(p.face, other ? avatar(other, { online }) : avatar({ id: item.conversation_id, display_name: title }));
    }
    clear(p.title, title, item.kind === 'group' && h('span', { class: 'sr-only', text: ' (' + t('group') + ')' }));
    p.time.dateTime = time;
    p.time.title = fullTime(time);
    p.time.textContent = shortTime(time);
    paintPreview(p, item);
    if (unread > 0) {
      p.badge ||= h('span', { testid: 'unread-badge' });
      p.badge.className = 'badge' + (item.muted ? ' muted-badge' : '');
      p.badge.setAttribute('aria-label', t('unreadCount', { n: unread }));
      p.badge.textContent = unread > 99 ? '99+' : String(unread);
      if (!p.badge.isConnected) p.line2.append(p.badge);
    } else if (p.badge) {
      p.badge.remove();
      p.badge = null;
    }
  }

  /** The preview line: «Черновик: …» when the chat has a draft (not for the open chat), else
   *  the last message, with ticks before an own one (sent, delivered, read: receipts.js). */
  function paintPreview(p, item) {
    const cid = item.conversation_id;
    const draft = cid !== currentId && draftOf(s, cid);
    const m = item.last_message;
    const st = !draft && m && !m.deleted && m.sender_id === s.userId ? s.receipts.status(cid, m) : null;
    p.status.hidden = !st;
    if (st && p.status.dataset.status !== st.state) {
      p.status.dataset.status = st.state;
      clear(p.status, icon(TICKS[st.state] || 'tick'));
    }
    if (st) {
      const label = st.state !== 'read' && st.members > 1 && st.readers ? t('status_readBy', { n: st.readers, m: st.members }) : t('status_' + st.state);
      p.status.setAttribute('aria-label', label);
      p.status.title = label;
    }
    if (draft) clear(p.preview, h('span', { class: 'draft', testid: 'inbox-draft', text: t('draft') }), ' ', draft);
    else p.preview.textContent = preview(s, item);
  }

  const onDraft = e => { if (e.detail?.conversationId) refill(e.detail.conversationId); };
  addEventListener('ecomansoni:draft', onDraft);
  const offs = [s.on('inbox', renderList), s.on('online', renderList), () => removeEventListener('ecomansoni:draft', onDraft)];
  renderList();

  function update(r) {
    if (r.id === currentId && conv) {
      if (r.seq) conv.showSeq?.(r.seq); // a search result in the chat already open
      return;
    }
    conv?.cleanup();
    conv = null;
    const left = currentId;
    currentId = r.id || null;
    for (const cid of [left, currentId]) if (cid) refill(cid); // its draft shows outside the chat only
    split.classList.toggle('has-conv', !!currentId);
    list.querySelectorAll('[data-testid="inbox-item"]').forEach(a => {
      if (a.dataset.conversationId === currentId) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    });
    if (currentId) {
      const id = currentId;
      clear(convPane, h('div', { class: 'placeholder', role: 'status', 'aria-label': t('loading') }));
      import('./conversation.js').then(m => {
        if (closed || currentId !== id || conv) return;
        conv = m.conversationView(convPane, s, id, { seq: r.seq || null });
      }, e => clear(convPane, errorState(e.message ? t('errNetwork') : e, () => { currentId = null; update({ id }); })));
    } else {
      clear(convPane, h('p', { class: 'placeholder', text: t('pickChat') }));
      if (!document.activeElement || document.activeElement === document.body || !main.contains(document.activeElement)) focus(pane.querySelector('h1'));
    }
  }
  update(route);

  return {
    update,
    cleanup() {
      closed = true;
      offs.forEach(off => off());
      for (const off of readsOffs.values()) off();
      search.cleanup();
      conv?.cleanup();
    },
  };
}
