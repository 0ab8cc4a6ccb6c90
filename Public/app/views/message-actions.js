// What a message's menu does: reply, copy (the text only), forward, pin / unpin, edit (own
// text messages within the server's 48 hours), delete for me (hide_message), delete for
// everyone (delete_message), report to the moderators (someone else's message,
// report_message) and reactions (the emoji picker). Items the server does not offer
// yet (an RPC answering 404) are left out.
import { h } from '../util.js';
import { t } from '../i18n.js';
import { toast, toastError, announce } from '../toast.js';
import { confirmDialog, popover } from './common.js';
import { openMessageMenu } from './message-menu.js';

const EMOJI = ['👍', '❤️', '😂', '😮', '😢', '🔥', '🎉', '🙏'];
const EDIT_WINDOW_MS = 48 * 3600 * 1000;
const missing = new Set(); // RPCs this server answered 404 for (this page's life)

const notThere = e => e?.status === 404 || e?.code === 'PGRST202';

/**
 * The actions of conversation `id`: `conv()`/`item()` its state, `composer` its input
 * (startReply, startEdit), `onPinned()` repaints the pinned bar, `onHidden(m)` takes a
 * message out of the list.
 */
export function messageActions({ s, id, conv, item, composer, onPinned, onHidden }) {
  const canPin = () => !missing.has('pin_message') && !!item() && 'pinned_message' in item()
    && (item().kind === 'dm' || ['owner', 'admin'].includes(item().role));

  async function react(m, emoji) {
    try { await s.react(conv(), m, emoji); } catch (e) { toastError(e); }
  }

  function picker(anchor, m) {
    const mine = (m.reactions || []).find(r => r.user_id === s.userId)?.emoji;
    const p = popover(anchor, h('div', { role: 'group', 'aria-label': t('reactions'), class: 'picker-inner' },
      EMOJI.map(e => h('button', {
        type: 'button', testid: 'reaction-option', 'data-emoji': e, 'aria-pressed': String(e === mine),
        onClick: () => { p.close(); react(m, e); },
      }, e))), 'picker');
  }

  async function copy(m) {
    const text = m.body || '';
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // Without clipboard permission: a hidden textarea and the copy command.
      const ta = h('textarea', { class: 'sr-only', 'aria-hidden': 'true', readonly: true });
      ta.value = text;
      document.body.append(ta);
      ta.select();
      const ok = document.execCommand('copy');
      ta.remove();
      if (!ok) { toast(t('copyFailed'), { error: true }); return; }
    }
    toast(t('copied'));
  }

  async function setPin(m, on) {
    try {
      if (on) await s.rpc('pin_message', { message_id: m.id });
      else await s.rpc('unpin_message', { conversation_id: id });
      const it = item();
      if (it) it.pinned_message = on ? { id: m.id, seq: m.seq, kind: m.kind, body: m.body, sender_id: m.sender_id } : null;
      onPinned();
      announce(on ? t('pinned') : t('unpinned'));
      s.loadInbox(true);
    } catch (e) {
      if (notThere(e)) { missing.add('pin_message'); onPinned(); toast(t('pinUnavailable'), { error: true }); } else toastError(e);
    }
  }

  async function hide(m) {
    if (!(await confirmDialog(t('hideConfirm'), t('menuHide')))) return;
    try {
      await s.rpc('hide_message', { message_id: m.id });
      onHidden(m);
      announce(t('hidden'));
    } catch (e) {
      if (notThere(e)) missing.add('hide_message');
      toastError(e);
    }
  }

  async function report(m) {
    try {
      await (await import('./content-report.js')).reportMessage(s, m);
    } catch (e) {
      if (notThere(e)) missing.add('report_message');
      toastError(e);
    }
  }

  async function removeForAll(m) {
    if (!(await confirmDialog(t('deleteConfirm'), t('menuDeleteAll')))) return;
    try { await s.remove(conv(), m); } catch (e) { toastError(e); }
  }

  /** The menu items for message `m` (null when it has none: pending or deleted). */
  function items(m, anchor) {
    if (!m?.seq) return null;
    const own = m.sender_id === s.userId;
    const call = m.kind === 'call';
    const deleted = !!m.deleted_at;
    const hideItem = !missing.has('hide_message') && { label: t('menuHide'), icon: 'hide', testid: 'hide-button', run: () => hide(m) };
    if (call || deleted) return hideItem ? [hideItem] : null;
    const text = m.kind === 'text' || !m.kind;
    const pinnedId = item()?.pinned_message?.id;
    const fresh = Date.now() - new Date(m.created_at).getTime() < EDIT_WINDOW_MS;
    return [
      { label: t('reply'), icon: 'reply', testid: 'reply-button', run: () => composer.startReply(m) },
      { label: t('menuReact'), icon: 'smile', testid: 'react-menu-button', run: () => picker(anchor, m) },
      m.body && { label: t('menuCopy'), icon: 'copy', testid: 'copy-button', run: () => copy(m) },
      text && m.body && { label: t('menuForward'), icon: 'forward', testid: 'forward-button', run: () => import('./forward-dialog.js').then(f => f.forwardDialog(s, m), toastError) },
      canPin() && (pinnedId === m.id
        ? { label: t('menuUnpin'), icon: 'pin', testid: 'unpin-button', run: () => setPin(m, false) }
        : { label: t('menuPin'), icon: 'pin', testid: 'pin-button', run: () => setPin(m, true) }),
      own && text && fresh && !m.forwarded_from && !m.forwarded_from_id && { label: t('edit'), icon: 'edit', testid: 'edit-button', run: () => composer.startEdit(m) },
      hideItem,
      !own && !missing.has('report_message') && { label: t('menuReport'), icon: 'flag', testid: 'report-button', run: () => report(m) },
      (own || ['owner', 'admin'].includes(item()?.role)) && { label: t('menuDeleteAll'), icon: 'trash', testid: 'delete-button', danger: true, run: () => removeForAll(m) },
    ];
  }

  /** Opens the menu of a row: from its «⋯» button (anchor), at a point, or from the keyboard. */
  function show(row, { anchor, point, keyboard } = {}) {
    const m = row._m;
    const button = row.querySelector('[data-testid="message-menu-button"]');
    const at = anchor || button || row;
    const list = items(m, at);
    if (!list) return false;
    openMessageMenu({ anchor: at, point, items: list, returnTo: keyboard || anchor || button || row });
    return true;
  }

  return { show, picker, react, canPin, setPin };
}
