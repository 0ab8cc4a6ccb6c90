// One conversation: history (older pages on scroll-up), live messages, optimistic sending
// with retry, typing and online status; audio and video call buttons in a DM's header and a
// group call button in a group's; day and unread separators (day-divider.js), the pinned bar
// (pinned-bar.js), the message menu (message-menu.js, message-actions.js) and opening at a
// message (#/chats/<id>?seq=<n>).
// The bubbles are bubble.js; the input, attachments and voice recording are composer.js.
import { h, clear, icon, avatar, nameOf, focus } from '../util.js';
import { t } from '../i18n.js';
import { announce, toast, toastError } from '../toast.js';
import { go } from '../router.js';
import { errorState, widths, chatTitle } from './common.js';
import { composerView } from './composer.js';
import { bubbles, kindLabel } from './bubble.js';
import { conversationAssets } from './conversation-assets.js';
import { dividers, firstUnread } from './day-divider.js';
import { menuTriggers, closeMessageMenu } from './message-menu.js';
import { messageActions } from './message-actions.js';
import { pinnedBar } from './pinned-bar.js';

/** The `seq` of a `#/chats/<id>?seq=<n>` address for conversation `id`, or 0. */
function seqInHash(id) {
  const m = location.hash.match(/^#\/chats\/([0-9a-f-]{36})\?(?:.*&)?seq=(\d+)/i);
  return m && m[1].toLowerCase() === id ? Number(m[2]) : 0;
}

/** The view of conversation `id` in `pane`; `seq`: open at that message (else the latest). */
export function conversationView(pane, s, id, { seq: openSeq = 0 } = {}) {
  let wantSeq = openSeq || seqInHash(id);
  let c = null;
  let item = s.item(id);
  let unseen = 0;
  const els = new Map(); // 's<seq>' | 'c<client id>' → element
  const offs = [];

  const title = h('h1', { tabindex: '-1' });
  const sub = h('span', { class: 'sub' });
  const face = h('span');
  const headLink = h('a', { class: 'titles' }, title, sub);
  const headActions = h('span', { class: 'head-actions' });
  let callButtons = null;
  const head = h('header', { class: 'conv-head' },
    h('a', { class: 'icon-btn back', href: '#/chats', 'aria-label': t('backToChats') }, icon('back')),
    face, headLink, headActions);
  const older = h('button', { class: 'btn btn-small older', type: 'button', hidden: true, onClick: () => loadOlder() }, t('loadEarlier'));
  const listEl = h('div', { class: 'messages', tabindex: '0', role: 'region', 'aria-label': t('messages') }, older);
  const typingRow = h('div', { class: 'typing-row', role: 'status' });
  const jump = h('button', { class: 'btn btn-small jump', type: 'button', hidden: true, 'aria-label': t('toLatest'), onClick: () => toBottom(true) }, icon('down'));
  const composer = composerView(pane, s, id, {
    conv: () => c, senderName: uid => senderName(uid), snippet: m => snippet(m),
    beforeSend: () => listEl.querySelector('[data-empty]')?.remove(),
  });
  const wrap = h('div', { class: 'conv-wrap' }, listEl, jump, composer.dropZone);
  const pinned = pinnedBar({ open: seq => jumpTo(seq), unpin: () => actions.setPin(null, false), canPin: () => actions.canPin(), snippet: m => snippet(m) });
  clear(pane, head, pinned.el, wrap, typingRow, composer.el);
  let assetsIn = false;
  const assets = conversationAssets().then(() => { assetsIn = true; }, () => {});
  // The first message unread when the chat was opened (its divider stays until the chat is left).
  let unreadAfter = 0;
  let unreadUpTo = 0; // 0: nothing was unread
  const seps = dividers(listEl, () => (unreadUpTo && c ? firstUnread(c.msgs.values(), unreadAfter, unreadUpTo, s.userId) : 0));

  // Header

  function other() {
    return item?.kind === 'dm' ? item.participants?.[0] : null;
  }

  function paintHead() {
    item = s.item(id) || item;
    if (!item) return;
    const o = other();
    const name = chatTitle(s, item);
    if (title.textContent !== name) title.textContent = name;
    const online = !!o && s.online.has(o.id);
    const sig = JSON.stringify([name, o?.avatar_url, online]);
    if (face.dataset.sig !== sig) {
      face.dataset.sig = sig;
      clear(face, o ? avatar(o, { online }) : avatar({ id, display_name: name }));
    }
    if (o?.username) headLink.setAttribute('href', '#/u/' + encodeURIComponent(o.username));
    else headLink.removeAttribute('href');
    paintSub();
    if (assetsIn) pinned.paint(item.pinned_message || null);
    if (item.kind === 'dm' && o) paintCallButtons(o, name);
    if (item.kind === 'group') {
      if (!headActions.firstChild) headActions.append(groupCallButton(), h('button', {
        class: 'icon-btn', type: 'button', testid: 'group-members',
        onClick: () => import('./group.js').then(m => m.membersDialog(s, id)),
      }, icon('people')));
      headActions.lastChild.setAttribute('aria-label', t('members', { n: (item.participants?.length || 0) + 1 }));
      const call = headActions.firstChild;
      call.setAttribute('aria-label', t('groupCallStartIn', { name }));
      call.title = t('groupCallStart');
      call.disabled = s.calls.busy() || !item.participants?.length;
    }
  }

  function groupCallButton() {
    return h('button', {
      class: 'icon-btn', type: 'button', testid: 'group-call-start',
      onClick: async () => {
        if (!item || s.calls.busy()) return;
        try {
          await s.calls.startGroup(item);
        } catch (e) {
          toast(e.message || t('errGeneric'), { error: true });
        }
      },
    }, icon('video'));
  }

  function paintCallButtons(o, name) {
    if (!callButtons) {
      callButtons = ['audio', 'video'].map(kind => h('button', {
        class: 'icon-btn', type: 'button', testid: 'call-' + kind, 'data-call-type': kind,
        onClick: () => startCall(kind),
      }, icon(kind === 'audio' ? 'phone' : 'video')));
      headActions.prepend(...callButtons);
    }
    const busy = s.calls.busy();
    for (const btn of callButtons) {
      btn.setAttribute('aria-label', t(btn.dataset.callType === 'audio' ? 'callAudioWith' : 'callVideoWith', { name }));
      btn.title = t(btn.dataset.callType === 'audio' ? 'callAudio' : 'callVideo');
      btn.disabled = busy || o.id === s.userId;
    }
  }

  async function startCall(kind) {
    const o = other();
    if (!o || s.calls.busy()) return;
    try {
      await s.calls.dial(o, id, kind);
    } catch (e) {
      toast(e.message || t('errGeneric'), { error: true });
    }
  }

  function typingNames() {
    if (!c) return [];
    return [...c.typing.keys()].map(uid => nameOf(item?.participants?.find(p => p.id === uid)));
  }

  function paintSub() {
    const o = other();
    if (o) {
      sub.textContent = s.online.has(o.id) ? t('online') : (o.username ? '@' + o.username : '');
    } else if (item) {
      sub.textContent = t('members', { n: (item.participants?.length || 0) + 1 });
    }
  }

  function paintTyping() {
    const names = typingNames();
    clear(typingRow, names.length > 0 && h('span', { testid: 'typing-indicator' },
      names.length === 1 ? t('typingOne', { name: names[0] }) : t('typingMany', { n: names.length })));
  }

  // Messages

  const key = m => (m.seq ? 's' + m.seq : 'c' + m.client_msg_id);

  function senderName(uid) {
    if (uid === s.userId) return nameOf(s.me);
    return nameOf(item?.participants?.find(p => p.id === uid));
  }

  function snippet(m) {
    if (!m) return t('originalMessage');
    return m.deleted_at ? t('messageDeleted') : (m.body || kindLabel(m)).slice(0, 120);
  }

  const actions = messageActions({
    s, id, conv: () => c, item: () => item, composer,
    onPinned: () => pinned.paint(item?.pinned_message || null),
    onHidden: m => {
      c?.msgs.delete(m.seq);
      c?.byId.delete(m.id);
      els.get(key(m))?.remove();
      els.delete(key(m));
      seps.sync();
    },
  });
  const { fill, paintStatuses } = bubbles({
    s, id, conv: () => c, item: () => item, els, senderName, snippet,
    onReact: (m, emoji) => actions.react(m, emoji), onPicker: (anchor, m) => actions.picker(anchor, m),
    onMenu: (anchor, m) => { const row = els.get(key(m)); if (row) actions.show(row, { anchor }); },
    calls: { other: () => other(), dial: kind => startCall(kind), busy: () => s.calls.busy() },
  });
  menuTriggers(listEl, (row, how) => actions.show(row, how));


  function place(m) {
    const k = key(m);
    let row = els.get(k);
    if (!row && m.replaces) row = els.get('c' + m.replaces.client_msg_id);
    if (m.replaces) { m.local ||= m.replaces.local; els.delete('c' + m.replaces.client_msg_id); delete m.replaces; }
    const existed = !!row;
    row ||= h('div', { tabindex: '-1' });
    els.set(k, row);
    fill(row, m);
    if (existed) return 'replaced';
    listEl.querySelector('[data-empty]')?.remove();
    if (!m.seq) { listEl.append(row); return 'end'; }
    let before = null;
    for (const el of listEl.children) {
      if (el.dataset.testid !== 'message') continue;
      if (Number(el.dataset.seq || Infinity) > m.seq) { before = el; break; }
    }
    if (before) { listEl.insertBefore(row, before); return 'middle'; }
    listEl.append(row);
    return 'end';
  }

  function nearBottom() {
    return listEl.scrollHeight - listEl.scrollTop - listEl.clientHeight < 120;
  }

  function toBottom(andFocus) {
    listEl.scrollTop = listEl.scrollHeight;
    unseen = 0;
    jump.hidden = true;
    s.atBottom = true;
    s.ackRead(id);
    if (andFocus) composer.focus();
  }

  function onConv(ev) {
    if (!c?.loaded) return;
    if (ev.type === 'reads') return paintStatuses();
    if (ev.type === 'progress') {
      els.get('c' + ev.msg.client_msg_id)?._p?.media._progress?.(ev.msg);
      return;
    }
    if (ev.type === 'discard') {
      els.get('c' + ev.msg.client_msg_id)?.remove();
      els.delete('c' + ev.msg.client_msg_id);
      seps.sync();
      return;
    }
    const wasBottom = nearBottom();
    const msgs = ev.type === 'pending' ? [ev.msg] : ev.msgs;
    let appendedOther = 0;
    let appendedOwn = false;
    const prevHeight = listEl.scrollHeight;
    const prevTop = listEl.scrollTop;
    let prepended = false;
    for (const m of msgs) {
      if (ev.type === 'pending' && !c.pending.has(m.client_msg_id)) continue;
      const where = place(m);
      if (where === 'end') {
        if (m.sender_id === s.userId) appendedOwn = true;
        else {
          appendedOther++;
          if (!ev.initial) announce(t('newMessageFrom', { name: senderName(m.sender_id), text: m.body || kindLabel(m) }));
        }
      } else if (where === 'middle' && m.seq < (c.firstShown || Infinity)) prepended = true;
    }
    older.hidden = !c.hasMore;
    seps.sync();
    if (prepended) listEl.scrollTop = prevTop + (listEl.scrollHeight - prevHeight);
    if (appendedOwn && ev.type === 'pending') toBottom(false);
    else if (appendedOther || appendedOwn) {
      if (wasBottom) toBottom(false);
      else if (appendedOther) { unseen += appendedOther; jump.hidden = false; jump.setAttribute('aria-label', t('newMessagesBelow', { n: unseen })); }
    }
    c.firstShown = Math.min(c.firstShown || Infinity, ...msgs.filter(m => m.seq).map(m => m.seq));
  }

  async function loadOlder() {
    if (!c?.hasMore || c.loadingOlder) return;
    older.disabled = true;
    const prevHeight = listEl.scrollHeight;
    const prevTop = listEl.scrollTop;
    try {
      const items = await s.loadOlder(id);
      if (!items.length) return;
      listEl.scrollTop = prevTop + (listEl.scrollHeight - prevHeight);
      c.firstShown = Math.min(c.firstShown || Infinity, ...items.map(m => m.seq));
      if (listEl.scrollHeight <= listEl.clientHeight + 50 && c.hasMore) loadOlder();
    } catch (e) {
      toastError(e);
    } finally {
      older.disabled = false;
      older.hidden = !c.hasMore;
    }
  }

  function renderAll() {
    els.clear();
    clear(listEl, older);
    older.hidden = !c.hasMore;
    const all = [...c.msgs.values()].sort((a, b) => a.seq - b.seq);
    c.firstShown = all[0]?.seq;
    for (const m of all) place(m);
    for (const m of c.pending.values()) place(m);
    if (!all.length && !c.pending.size) listEl.append(h('p', { class: 'notice-line', 'data-empty': '', text: t('sayHello') }));
    seps.sync();
    // Unread messages taller than the view: start at their divider, not below them.
    listEl.scrollTop = listEl.scrollHeight;
    const line = seps.unreadEl;
    const above = line.isConnected ? line.getBoundingClientRect().top - listEl.getBoundingClientRect().top : 0;
    if (above < 0) { listEl.scrollTop += above - 8; s.atBottom = false; jump.hidden = false; } else toBottom(false);
    if (listEl.scrollHeight <= listEl.clientHeight + 50 && c.hasMore) loadOlder();
  }

  /** Shows message `seq` (loading older pages until it is there) and highlights it for 2 s. */
  async function jumpTo(seq) {
    for (let pages = 0; c && !els.has('s' + seq) && c.hasMore && pages < 60 && !closed; pages++) {
      try {
        const got = await s.loadOlder(id);
        if (!got.length) await new Promise(r => setTimeout(r, 150));
      } catch (e) { toastError(e); return false; }
    }
    const row = els.get('s' + seq);
    if (closed) return false;
    if (!row) { toast(t('messageNotFound'), { error: true }); return false; }
    row.scrollIntoView({ block: 'center' });
    row.classList.add('highlight');
    setTimeout(() => row.classList.remove('highlight'), 2000);
    focus(row);
    return true;
  }

  /** Leaves the address without ?seq=, so the same search result opened again jumps again. */
  function showSeq(seq) {
    if (seqInHash(id)) history.replaceState(null, '', '#/chats/' + id);
    if (!c?.loaded) { wantSeq = seq; return false; }
    return jumpTo(seq);
  }

  listEl.addEventListener('scroll', () => {
    const bottom = nearBottom();
    s.atBottom = bottom;
    if (bottom) {
      if (unseen) { unseen = 0; jump.hidden = true; }
      s.ackRead(id);
    }
    if (listEl.scrollTop < 200) loadOlder();
  }, { passive: true });

  const onVisible = () => { if (document.visibilityState === 'visible' && s.atBottom) s.ackRead(id); };
  document.addEventListener('visibilitychange', onVisible);

  // Loading

  async function start() {
    if (!item) {
      clear(listEl, h('div', { class: 'skel-row' }));
      await s.loadInbox(true);
      item = s.item(id);
      if (!item) {
        clear(listEl, errorState(t('chatNotFound'), restart));
        composer.el.hidden = true;
        return;
      }
    }
    paintHead();
    if (item.unread_count > 0) {
      unreadAfter = item.read_up_to_seq || 0;
      unreadUpTo = item.last_seq || 0;
    }
    c = s.openConvChannel(id);
    s.openConv = id;
    s.atBottom = true;
    if (!c.loaded) {
      clear(listEl, widths(h('div', { 'aria-busy': 'true', role: 'status', 'aria-label': t('loading') },
        [0, 1, 0, 0, 1, 0].map(own => h('div', { class: 'msg' + (own ? ' own' : '') }, h('div', { class: 'bubble skel' }, h('div', { class: 'skel l' })))))));
      listEl.querySelectorAll('.bubble.skel').forEach((b, i) => { b.style.width = [180, 240, 140, 260, 200, 120][i] + 'px'; b.style.height = '38px'; });
      try {
        await s.loadLatest(id);
      } catch (e) {
        if (closed) return;
        clear(listEl, errorState(e, restart));
        return;
      }
    }
    await assets;
    if (closed) return false;
    paintHead();
    renderAll();
    paintTyping();
    composer.loaded();
    return wantSeq ? showSeq(wantSeq) : false;
  }

  let closed = false;
  offs.push(
    s.on('conv:' + id, onConv),
    s.on('typing:' + id, paintTyping),
    s.on('online', () => { paintHead(); }),
    s.on('call', () => { paintHead(); listEl.querySelectorAll('[data-testid="call-back"]').forEach(b => { b.disabled = s.calls.busy(); }); }),
    s.on('inbox', () => { item = s.item(id) || item; if (item) paintHead(); if (c?.loaded) paintStatuses(); }),
    s.on('removed:' + id, () => { go('#/chats'); }),
  );
  const view = {
    showSeq,
    cleanup() {
      closed = true;
      composer.cleanup();
      offs.forEach(off => off());
      document.removeEventListener('visibilitychange', onVisible);
      closeMessageMenu();
      s.typing(id, false);
      if (s.openConv === id) s.openConv = null;
      s.leaveConv(id);
      document.querySelector('.picker, .popover')?.remove();
    },
  };
  function restart() {
    view.cleanup();
    Object.assign(view, conversationView(pane, s, id));
  }
  start().then(jumped => { if (!closed && !jumped) focus(title); });
  return view;
}
