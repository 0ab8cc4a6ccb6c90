// Sharing a reel (issue 15): «Отправить в чат» sends its link (`<origin>/#/reels/<id>`, which
// the chat shows as a link and this app opens as the reel's page) as a text message through
// the session's send path to a chat picked from the inbox; «Поделиться…» uses the Web Share
// API where the browser has it; «Скопировать ссылку» the clipboard. Each counts a share
// (`share_reel` with `target` chat | external | link).
import { h, clear, focus, nameOf } from '../util.js';
import { t } from '../i18n.js';
import { toast, toastError } from '../toast.js';
import { openDialog, chatTitle, errorState, emptyState, errorText } from './common.js';

/** The address of a reel's page. */
export const reelLink = id => location.origin + '/#/reels/' + id;

/** The message a share sends: who made it, then the link. */
export function shareText(reel) {
  return t('reelShareMessage', { name: nameOf(reel.author) }) + '\n' + reelLink(reel.id);
}

/** Waits until the session's send queue has delivered `msg` (or it failed). */
async function delivered(s, id, msg) {
  const c = s.conv(id);
  if (c.textChain) await c.textChain;
  for (let i = 0; i < 200 && msg.state !== 'failed' && c.pending?.has(msg.client_msg_id); i++) await new Promise(r => setTimeout(r, 100));
  if (msg.state === 'failed') throw msg.error || new Error('send failed');
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

  let busy = false;
  async function pick(conv, btn) {
    if (busy) return;
    busy = true;
    for (const b of list.querySelectorAll('button')) b.disabled = true;
    status.className = 'hint';
    status.textContent = t('reelShareSending');
    try {
      await delivered(s, conv.conversation_id, s.send(conv.conversation_id, shareText(reel)));
      counted(s, card, 'chat');
      d.close();
      toast(t('reelShareSent', { chat: chatTitle(s, conv) }));
    } catch (e) {
      busy = false;
      for (const b of list.querySelectorAll('button')) b.disabled = false;
      status.className = 'hint bad';
      status.textContent = t('reelShareFailed', { why: errorText(e) });
      focus(btn);
    }
  }

  function paint() {
    const items = (s.inbox.items || []).filter(i => i.kind === 'group' || i.participants?.length);
    if (!items.length) { clear(list, h('li', {}, emptyState(t('reelShareNoChats')))); return; }
    clear(list, items.map(conv => h('li', {}, h('button', {
      class: 'btn reel-share-chat', type: 'button', testid: 'reel-share-chat', 'data-id': conv.conversation_id,
      onClick: e => pick(conv, e.currentTarget),
    }, h('span', { text: chatTitle(s, conv) })))));
  }

  if (s.inbox.loaded) paint();
  else {
    clear(list, h('li', { class: 'hint', text: t('loading') }));
    s.loadInbox().then(() => {
      if (!d.dlg.isConnected) return;
      if (s.inbox.error && !s.inbox.loaded) clear(list, h('li', {}, errorState(s.inbox.error, () => { d.close(); openShare(s, card); })));
      else paint();
    });
  }
  focus(quick.querySelector('button') || list.querySelector('button'));
}
