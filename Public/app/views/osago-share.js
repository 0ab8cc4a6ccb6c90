// «Поделиться в чат» for a saved OSAGO calculation: a dialog lists the user's conversations
// (share-to-chat.js); choosing one sends a text message through the session's send path
// — «Расчёт ОСАГО: <price>\n<link to the calculator with the inputs>» — which the chat shows
// as a card (osago-card.js).
import { h } from '../util.js';
import { t } from '../i18n.js';
import { openDialog } from './common.js';
import { fillChatList } from './share-to-chat.js';
import { shareBody } from './osago-card.js';
import { priceText } from './osago-result.js';

/** The inputs a share carries: the request without its date (the calculator prices it on the day it is opened). */
export function shareRequest(request) {
  const { date, ...rest } = request || {};
  return rest;
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

  fillChatList(s, {
    d, list, status, body, testid: 'osago-share-chat', buttonClass: 'share-chat', nameClass: 'share-chat-name', focusList: true,
    keys: { sending: 'shareSending', sent: 'shareSent', failed: 'shareFailed', none: 'shareNoChats' },
    reopen: () => shareDialog(s, item),
  });
}
