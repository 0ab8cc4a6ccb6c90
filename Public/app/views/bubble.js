// Message bubbles of a conversation: built once per row and patched in place (sender,
// «Переслано от», quote, attachment through media.js, text with safe links (links.js) and the
// first link's domain, or a shared OSAGO calculation's or reel's card (osago-card.js,
// reel-card.js), reactions, edited mark, time, ticks from receipts.js, the failed row with
// retry); call events are system rows (call-event.js). Beside a bubble only the reaction and
// «⋯» buttons, shown on hover or focus; the conversation view places the rows.
import { h, clear, icon, clockTime, fullTime, focus } from '../util.js';
import { t } from '../i18n.js';
import { renderLinkedText, firstDomain } from './links.js';
import { fillCallEvent, callText } from './call-event.js';
import { osagoShareCard } from './osago-card.js';
import { reelShareCard } from './reel-card.js';

const TICKS = { sending: 'clock', failed: 'alert', sent: 'tick', delivered: 'ticks', read: 'ticks' };

let mediaMod = null;
let mediaLoading = null;
/** media.js with its styles and strings (one load for every conversation). */
function loadMedia() {
  mediaLoading ||= import('../media.js').then(async m => { await m.ready(); mediaMod = m; return m; });
  mediaLoading.catch(() => { mediaLoading = null; });
  return mediaLoading;
}

/** "Photo", "Voice message"… for a message without text (inbox, quotes, announcements). */
export function kindLabel(m) {
  if (m?.kind === 'call') return callText(m);
  return m?.kind && m.kind !== 'text' ? t('kind_' + m.kind) : '';
}

/**
 * The bubbles of conversation `id`: `conv()` and `item()` are its loaded state and inbox
 * item, `els` the rows by key; `senderName`, `snippet` name people and quoted messages;
 * `onReact(m, emoji)`, `onPicker(anchor, m)`, `onMenu(anchor, m)` are the row's actions;
 * `calls` ({other, dial, busy}) serves the «Перезвонить» of call events.
 */
export function bubbles({ s, id, conv, item, els, senderName, snippet, onReact, onPicker, onMenu, calls }) {
  function reactionCounts(m) {
    const counts = new Map();
    for (const r of m.reactions || []) {
      const e = counts.get(r.emoji) || { n: 0, mine: false };
      e.n++;
      e.mine ||= r.user_id === s.userId;
      counts.set(r.emoji, e);
    }
    return counts;
  }

  /** The ticks of an own message, from the server's cursors; words only in aria-label and title. */
  function paintStatus(el, m) {
    const { state, readers, members } = s.receipts.status(id, m);
    const label = state !== 'read' && members > 1 && readers ? t('status_readBy', { n: readers, m: members }) : t('status_' + state);
    if (el.dataset.status === state && el.title === label) return;
    if (el.dataset.status !== state) clear(el, icon(TICKS[state]));
    el.dataset.status = state;
    el.setAttribute('aria-label', label);
    el.title = label;
  }

  function paintStatuses() {
    for (const m of conv()?.msgs.values() || []) {
      if (m.sender_id !== s.userId) continue;
      const st = els.get('s' + m.seq)?._p?.status;
      if (st) paintStatus(st, m);
    }
  }

  /** Builds a message row's parts once; later updates patch them, so elements stay the same. */
  function build(row, own) {
    const p = {};
    const msg = () => row._m;
    p.sender = !own && item()?.kind === 'group' ? h('span', { class: 'sender' }) : null;
    p.forwarded = h('span', { class: 'forwarded', testid: 'forwarded-from', hidden: true });
    p.quote = h('button', { class: 'quote btn-link', type: 'button', hidden: true, onClick: () => {
      const target = conv().byId.get(msg().reply_to_id);
      const el = target && els.get('s' + target.seq);
      if (el) { el.scrollIntoView({ block: 'center' }); focus(el); }
    } });
    p.media = h('div', { class: 'media-slot', testid: 'message-attachment', hidden: true });
    p.body = h('div', { class: 'text', testid: 'message-body' });
    p.domain = h('div', { class: 'link-domain', testid: 'link-domain', hidden: true });
    p.card = h('div', { class: 'card-slot', hidden: true });
    p.reel = h('div', { class: 'reel-slot', hidden: true });
    p.reactions = h('div', { class: 'reactions', hidden: true });
    p.edited = h('span', { text: t('edited'), hidden: true });
    p.time = h('time');
    p.status = own ? h('span', { class: 'status', testid: 'message-status', role: 'img' }) : null;
    p.failedText = h('span');
    p.failed = h('div', { class: 'failed-row', role: 'alert', hidden: true }, p.failedText,
      h('button', { class: 'btn btn-small', type: 'button', testid: 'retry-message', onClick: () => s.retry(id, msg().client_msg_id) }, t('retry')),
      h('button', { class: 'btn btn-small', type: 'button', onClick: () => s.discard(id, msg().client_msg_id) }, t('discard')));
    p.actions = h('div', { class: 'msg-actions' },
      h('button', { class: 'icon-btn', type: 'button', testid: 'react-button', 'aria-label': t('react'), 'aria-haspopup': 'true', onClick: e => onPicker(e.currentTarget, msg()) }, icon('smile')),
      h('button', { class: 'icon-btn', type: 'button', testid: 'message-menu-button', 'data-action': 'more', 'aria-label': t('moreActions'), 'aria-haspopup': 'menu', onClick: e => onMenu(e.currentTarget, msg()) }, icon('more')));
    row.append(h('div', { class: 'stack' },
      p.bubble = h('div', { class: 'bubble' }, p.sender, p.forwarded, p.quote, p.media, p.body, p.card, p.reel, p.domain, p.reactions, h('div', { class: 'meta' }, p.edited, p.time, p.status)),
      p.failed), p.actions);
    return p;
  }

  /** Fills a message row in place. */
  function fill(row, m) {
    if (m.kind === 'call') {
      row._m = m;
      row.dataset.testid = 'message';
      if (m.seq) row.dataset.seq = m.seq;
      if (m.id) row.dataset.id = m.id;
      return fillCallEvent(row, m, { me: s.userId, ...calls });
    }
    const own = m.sender_id === s.userId;
    const pending = !m.seq;
    const deleted = !!m.deleted_at;
    row._m = m;
    const p = row._p ||= build(row, own);
    row.className = 'msg' + (own ? ' own' : '') + (pending ? ' pending' : '') + (m.state === 'failed' ? ' failed' : '');
    row.dataset.testid = 'message';
    row.dataset.own = String(own);
    if (m.seq) row.dataset.seq = m.seq; else delete row.dataset.seq;
    if (m.id) row.dataset.id = m.id;
    if (m.client_msg_id) row.dataset.clientId = m.client_msg_id;
    if (p.sender) p.sender.textContent = senderName(m.sender_id);
    p.quote.hidden = !m.reply_to_id || deleted;
    if (m.reply_to_id && !deleted) {
      const reply = conv().byId.get(m.reply_to_id);
      p.quote.textContent = (reply ? senderName(reply.sender_id) + ': ' : '') + snippet(reply);
      p.quote.setAttribute('aria-label', t('replyTo', { text: snippet(reply) }));
    }
    const fwd = !deleted && (m.forwarded_from || m.forwarded_from_id);
    p.forwarded.hidden = !fwd;
    if (fwd) {
      const name = m.forwarded_from?.sender_name || (m.forwarded_from?.sender_id && senderName(m.forwarded_from.sender_id));
      p.forwarded.textContent = name ? t('forwardedFrom', { name }) : t('forwardedPlain');
    }
    const text = deleted ? t('messageDeleted') : (m.body || '');
    if (p.body._text !== text) {
      p.body._text = text;
      const links = deleted ? (p.body.textContent = text, []) : renderLinkedText(p.body, text);
      // A shared OSAGO calculation is a card in place of its text (the link is the card's).
      const card = !deleted && (!m.kind || m.kind === 'text') ? osagoShareCard(text) : null;
      clear(p.card, card);
      p.card.hidden = !card;
      // A reel of this app: its card under the text, in place of the bare link (reel-card.js).
      const reel = !deleted && !card && (!m.kind || m.kind === 'text') ? reelShareCard(s, p.body, links) : null;
      clear(p.reel, reel);
      p.reel.hidden = !reel;
      const domain = card || reel ? '' : firstDomain(links);
      p.domain.hidden = !domain;
      p.domain.textContent = domain ? '🔗 ' + domain : '';
    }
    p.body.className = 'text' + (deleted ? ' deleted' : '') + (p.card.hidden ? '' : ' as-card');
    paintMedia(row, p, m, deleted);
    const counts = reactionCounts(m);
    const sig = JSON.stringify([...counts]) + pending + deleted;
    if (p.reactions.dataset.sig !== sig) {
      p.reactions.dataset.sig = sig;
      p.reactions.hidden = !counts.size;
      clear(p.reactions, [...counts].map(([emoji, e]) => h('button', {
        class: 'reaction', type: 'button', testid: 'reaction', 'data-emoji': emoji, 'aria-pressed': String(e.mine),
        'aria-label': t('reactionLabel', { emoji, n: e.n }), disabled: pending || deleted,
        onClick: () => onReact(row._m, emoji),
      }, `${emoji} ${e.n}`)));
    }
    p.edited.hidden = !(m.edited_at && !deleted);
    if (p.time.dateTime !== m.created_at) {
      p.time.dateTime = m.created_at;
      p.time.title = fullTime(m.created_at);
      p.time.textContent = clockTime(m.created_at);
    }
    if (p.status) paintStatus(p.status, m);
    p.failed.hidden = m.state !== 'failed';
    if (m.state === 'failed') p.failedText.textContent = t('notSent') + (m.error && (!m.error.network || m.upload) ? ' — ' + (m.upload && mediaMod ? mediaMod.uploadErrorText(m.error) : errorTextSafe(m.error)) : '');
    p.actions.hidden = pending || deleted;
  }

  /** The attachment part of a bubble: rendered by media.js when what it shows changes. */
  function paintMedia(row, p, m, deleted) {
    const has = !deleted && !!(m.attachment || m.upload) && m.kind && m.kind !== 'text';
    const a = m.attachment || {};
    const sig = has ? JSON.stringify([m.kind, a.path, a.thumbnail_path, a.poster_path, a.waveform?.length, a.duration_ms, !m.seq && !!m.upload, m.state]) : '';
    p.body.hidden = has && !m.body;
    p.bubble.classList.toggle('has-media', has);
    p.bubble.dataset.kind = has ? m.kind : '';
    if (p.media.dataset.sig === sig) return;
    p.media.dataset.sig = sig;
    p.media.hidden = !has;
    if (!has) { clear(p.media); p.media._progress = null; return; }
    const who = senderName(m.sender_id);
    const draw = mm => { if (p.media.dataset.sig === sig) mm.renderAttachment(p.media, s, row._m, who); };
    if (mediaMod) draw(mediaMod);
    else loadMedia().then(draw, () => { if (p.media.dataset.sig === sig) clear(p.media, h('span', { class: 'error-text', text: t('errNetwork') })); });
  }

  return { fill, paintStatuses };
}

function errorTextSafe(e) {
  if (e?.code === 'rate_limited') return t('errMsgRate', { wait: t('seconds', { n: e.retryAfter || 1 }) });
  if (e?.status === 403) return t('errBlockedSend');
  return t('errGeneric');
}
