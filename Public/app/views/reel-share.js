// Sharing a reel (issue 15): «Отправить в чат» sends its link (`<origin>/#/reels/<id>`, which
// the chat shows as a card, reel-card.js, and this app opens as the reel's page) as a text
// message to a chat picked from the inbox (share-to-chat.js); «Поделиться…» uses the Web Share
// API where the browser has it; «Скопировать ссылку» the clipboard. Each counts a share
// (`share_reel` with `target` chat | external | link).
import { h, focus, nameOf } from '../util.js';
import { t } from '../i18n.js';
import { toast, toastError } from '../toast.js';
import { openDialog } from './common.js';
import { fillChatList } from './share-to-chat.js';

/** The address of a reel's page. */
export const reelLink = id => location.origin + '/#/reels/' + id;

/** The message a share sends: who made it, then the link. */
export function shareText(reel) {
  return t('reelShareMessage', { name: nameOf(reel.author) }) + '\n' + reelLink(reel.id);
}

function counted(s, card, target) {
  card.reel.counts ||= {};
  card.reel.counts.shares = (card.reel.counts.shares || 0) + 1;
  card.paintCounts();
  s.rpc('share_reel', { reel_id: card.reel.id, target }).then(r => {
    if (Number.isFinite(r?.count)) { card.reel.counts.shares = r.count; card.paintCounts(); }
  }, () => {});
}

/** Opens the share dialog of a card ({reel, paintCounts}). */
export function openShare(s, card) {
  const reel = card.reel;
  const d = openDialog({ title: t('reelShareTitle') });
  d.dlg.dataset.testid = 'reel-share-dialog';
  const status = h('p', { class: 'hint', role: 'status', testid: 'reel-share-status' });
  const list = h('ul', { class: 'reel-share-list', testid: 'reel-share-list', 'aria-label': t('reelShareChats') });
  const quick = h('div', { class: 'reel-share-quick' });
  if (navigator.share) {
    quick.append(h('button', {
      class: 'btn', type: 'button', testid: 'reel-share-system',
      onClick: async () => {
        try {
          await navigator.share({ title: t('reelShareMessage', { name: nameOf(reel.author) }), url: reelLink(reel.id) });
          counted(s, card, 'external');
          d.close();
        } catch (e) { if (e?.name !== 'AbortError') toastError(e); }
      },
    }, t('reelShareSystem')));
  }
  if (navigator.clipboard?.writeText) {
    quick.append(h('button', {
      class: 'btn', type: 'button', testid: 'reel-share-copy',
      onClick: async () => {
        try { await navigator.clipboard.writeText(reelLink(reel.id)); counted(s, card, 'link'); toast(t('reelLinkCopied')); d.close(); } catch (e) { toastError(e); }
      },
    }, t('reelShareCopy')));
  }
  d.body.append(quick, h('h3', { class: 'reel-share-head', text: t('reelShareToChat') }), list, status);
  d.foot.append(h('button', { class: 'btn', type: 'button', onClick: () => d.close() }, t('cancel')));

  fillChatList(s, {
    d, list, status, body: shareText(reel), testid: 'reel-share-chat', buttonClass: 'btn reel-share-chat',
    keys: { sending: 'reelShareSending', sent: 'reelShareSent', failed: 'reelShareFailed', none: 'reelShareNoChats' },
    reopen: () => openShare(s, card), onSent: () => counted(s, card, 'chat'),
  });
  focus(quick.querySelector('button') || list.querySelector('button'));
}
