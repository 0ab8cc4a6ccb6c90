// «Переслать»: a dialog listing the chats (filtered as one types) to send a text message to;
// the copy goes out through send_message_v1 with `forwarded_from_id`, and the chat it went to
// opens.
import { h, clear, avatar, uuid, focus } from '../util.js';
import { t } from '../i18n.js';
import { toast, toastError } from '../toast.js';
import { go } from '../router.js';
import { openDialog, chatTitle } from './common.js';

/** Opens the forward dialog for message `m` of session `s`. */
export async function forwardDialog(s, m) {
  if (!s.inbox.loaded) { try { await s.loadInbox(true); } catch { /* the list says so */ } }
  const d = openDialog({ title: t('forwardTitle') });
  d.dlg.dataset.testid = 'forward-dialog';
  const filter = h('input', {
    class: 'input', type: 'search', testid: 'forward-filter', 'aria-label': t('forwardFilter'),
    placeholder: t('forwardFilter'), autocomplete: 'off',
  });
  const list = h('ul', { class: 'forward-list', role: 'list' });
  let sending = false;

  function paint() {
    const q = filter.value.trim().toLowerCase();
    const items = s.inbox.items.filter(it => !q || chatTitle(s, it).toLowerCase().includes(q)
      || (it.participants || []).some(p => (p.username || '').toLowerCase().includes(q)));
    clear(list, items.length ? items.map(it => {
      const name = chatTitle(s, it);
      const face = it.kind === 'dm' && it.participants?.[0] ? avatar(it.participants[0]) : avatar({ id: it.conversation_id, display_name: name });
      return h('li', {}, h('button', {
        type: 'button', class: 'forward-target', testid: 'forward-target', 'data-conversation-id': it.conversation_id,
        'aria-label': t('forwardTo', { name }), onClick: () => send(it),
      }, face, h('span', { class: 'name', text: name })));
    }) : h('li', { class: 'muted', role: 'status', text: t('forwardNone') }));
  }

  async function send(it) {
    if (sending) return;
    sending = true;
    list.setAttribute('aria-busy', 'true');
    try {
      await s.rpc('send_message_v1', {
        conversation_id: it.conversation_id, client_msg_id: uuid(), body: m.body, forwarded_from_id: m.id,
      });
      d.close();
      toast(t('forwarded'));
      go('#/chats/' + it.conversation_id);
    } catch (e) {
      toastError(e);
    } finally {
      sending = false;
      list.removeAttribute('aria-busy');
    }
  }

  filter.addEventListener('input', paint);
  d.body.append(filter, list);
  paint();
  focus(filter);
}
