// The chat list of the share dialogs (a saved OSAGO calculation, a reel): the user's
// conversations from the session's inbox as buttons; picking one sends a text message through
// the session's send path and waits until the server has it, with the sending / sent / failed
// states in the dialog's status line.
import { h, clear, focus } from '../util.js';
import { t } from '../i18n.js';
import { toast } from '../toast.js';
import { chatTitle, errorState, emptyState, errorText } from './common.js';

/** Sends `body` to conversation `id`; resolves when the server has it (throws when it failed). */
export async function deliver(s, id, body) {
  const msg = s.send(id, body);
  const c = s.conv(id);
  if (c.textChain) await c.textChain;
  for (let i = 0; i < 200 && msg.state !== 'failed' && c.pending?.has(msg.client_msg_id); i++) await new Promise(r => setTimeout(r, 100));
  if (msg.state === 'failed') throw msg.error || new Error('send failed');
}

/**
 * Fills `list` (a <ul> in dialog `d`) with the user's chats. A pick sends `body` and, once the
 * server has it, calls `onSent()`, closes the dialog and toasts. `keys` names the strings
 * {sending, sent, failed, none}; `testid` and `buttonClass`/`nameClass` style the buttons;
 * `reopen` opens the dialog again (the retry of a failed inbox load); `focusList` focuses the
 * first chat once the list is painted.
 */
export function fillChatList(s, { d, list, status, body, keys, testid, buttonClass, nameClass, reopen, onSent = () => {}, focusList = false }) {
  let busy = false;
  const buttons = on => { for (const b of list.querySelectorAll('button')) b.disabled = !on; };

  async function pick(conv, btn) {
    if (busy) return;
    busy = true;
    buttons(false);
    status.className = 'hint';
    status.textContent = t(keys.sending);
    try {
      await deliver(s, conv.conversation_id, body);
      onSent();
      d.close();
      toast(t(keys.sent, { chat: chatTitle(s, conv) }));
    } catch (e) {
      busy = false;
      buttons(true);
      status.className = 'hint bad';
      status.textContent = t(keys.failed, { why: errorText(e) });
      focus(btn);
    }
  }

  function paint() {
    const items = (s.inbox.items || []).filter(i => i.kind === 'group' || i.participants?.length);
    if (!items.length) { clear(list, h('li', {}, emptyState(t(keys.none)))); return; }
    clear(list, items.map(conv => h('li', {}, h('button', {
      class: buttonClass, type: 'button', testid, 'data-id': conv.conversation_id,
      onClick: e => pick(conv, e.currentTarget),
    }, h('span', { class: nameClass, text: chatTitle(s, conv) })))));
    if (focusList) focus(list.querySelector('button'));
  }

  if (s.inbox.loaded) paint();
  else {
    clear(list, h('li', { class: 'hint', text: t('loading') }));
    s.loadInbox().then(() => {
      if (!d.dlg.isConnected) return;
      if (s.inbox.error && !s.inbox.loaded) clear(list, h('li', {}, errorState(s.inbox.error, () => { d.close(); reopen(); })));
      else paint();
    });
  }
}
