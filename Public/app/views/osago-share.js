// «Поделиться в чат» for a saved OSAGO calculation: a dialog lists the user's conversations
// (the session's inbox); choosing one sends a text message through the session's send path
// — «Расчёт ОСАГО: <price>\n<link to the calculator with the inputs>» — which the chat shows
// as a card (osago-card.js).
import { h, clear, focus } from '../util.js';
import { t } from '../i18n.js';
import { toast } from '../toast.js';
import { openDialog, chatTitle, errorState, emptyState, errorText } from './common.js';
import { shareBody } from './osago-card.js';
import { priceText } from './osago-result.js';

/** The inputs a share carries: the request without its date (the calculator prices it on the day it is opened). */
export function shareRequest(request) {
  const { date, ...rest } = request || {};
  return rest;
}

/** Sends `body` to conversation `id` and resolves when the server has it (throws when it failed). */
async function deliver(s, id, body) {
  const msg = s.send(id, body);
  const c = s.conv(id);
  if (c.textChain) await c.textChain;
  for (let i = 0; i < 200 && msg.state !== 'failed' && c.pending?.has(msg.client_msg_id); i++) await new Promise(r => setTimeout(r, 100));
  if (msg.state === 'failed') throw msg.error || new Error('send failed');
}

/** Opens the share dialog for a saved calculation `item` ({request, result, title}). */
export function shareDialog(s, item) {
  const d = openDialog({ title: t('shareTitle') });
  d.dlg.dataset.testid = 'osago-share-dialog';
  const body = shareBody(priceText(item.result), shareRequest(item.request));
  const list = h('ul', { class: 'share-list', testid: 'osago-share-list', 'aria-label': t('shareListLabel') });
  const status = h('p', { class: 'hint', role: 'status', testid: 'osago-share-status' });
  d.body.append(h('p', { class: 'hint', text: t('shareLead', { title: item.title || '' }) }),
    h('p', { class: 'share-preview', testid: 'osago-share-preview' }, body.split('\n')[0], h('br'),
      h('span', { class: 'hint', text: t('sharePreviewLink') })), list, status);
  d.foot.append(h('button', { class: 'btn', type: 'button', onClick: () => d.close() }, t('cancel')));

  let busy = false;
  async function pick(conv, btn) {
    if (busy) return;
    busy = true;
    for (const b of list.querySelectorAll('button')) b.disabled = true;
    status.className = 'hint';
    status.textContent = t('shareSending');
    try {
      await deliver(s, conv.conversation_id, body);
      d.close();
      toast(t('shareSent', { chat: chatTitle(s, conv) }));
    } catch (e) {
      busy = false;
      for (const b of list.querySelectorAll('button')) b.disabled = false;
      status.className = 'hint bad';
      status.textContent = t('shareFailed', { why: errorText(e) });
      focus(btn);
    }
  }

  function paint() {
    const items = (s.inbox.items || []).filter(i => i.kind === 'group' || i.participants?.length);
    if (!items.length) { clear(list, h('li', {}, emptyState(t('shareNoChats')))); return; }
    clear(list, items.map(conv => h('li', {},
      h('button', {
        class: 'share-chat', type: 'button', testid: 'osago-share-chat', 'data-id': conv.conversation_id,
        onClick: e => pick(conv, e.currentTarget),
      }, h('span', { class: 'share-chat-name', text: chatTitle(s, conv) })))));
    focus(list.querySelector('button'));
  }

  if (s.inbox.loaded) paint();
  else {
    clear(list, h('li', { class: 'hint', text: t('loading') }));
    s.loadInbox().then(() => {
      if (!d.dlg.isConnected) return;
      if (s.inbox.error && !s.inbox.loaded) clear(list, h('li', {}, errorState(s.inbox.error, () => { d.close(); shareDialog(s, item); })));
      else paint();
    });
  }
}
