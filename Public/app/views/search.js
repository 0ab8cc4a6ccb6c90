// Search in the chat list: one field above the inbox. As it is typed the list is filtered by
// chat name (locally, through onQuery), and below it «Сообщения» lists the server's message
// search (`search_messages`: 300 ms after the last key, from 2 characters, newest first,
// «Показать ещё» pages with `next`). A result opens #/chats/<id>?seq=<n>. Escape clears.
import { h, clear, icon, avatar, nameOf, debounce, shortTime, fullTime, focus } from '../util.js';
import { t } from '../i18n.js';
import { errorState, chatTitle } from './common.js';

const MIN = 2;
const MAX = 200;
const PAGE = 20;

/** Lower case, «ё» as «е»: the form names and queries are compared in. */
export function fold(text) {
  return String(text || '').toLocaleLowerCase().replace(/ё/g, 'е');
}

/** Whether an inbox item's name (a group's title, a DM's person and @username) contains `q`. */
export function chatMatches(s, item, q) {
  const f = fold(q).trim();
  if (!f) return true;
  const other = item.kind === 'dm' ? item.participants?.[0] : null;
  return [chatTitle(s, item), other?.username && '@' + other.username].some(x => x && fold(x).includes(f));
}

/**
 * The text as nodes, the words of `query` marked with <mark> (text nodes only, never markup
 * from the text). Words are matched at a word start by their stem (a longer word loses its
 * last one or two letters), as the server's stemming finds «машина» for «машины».
 */
export function highlight(text, query) {
  const stems = [...new Set(fold(query).match(/[\p{L}\p{N}]+/gu) || [])]
    .map(w => [...w]).map(c => c.slice(0, c.length >= 5 ? -2 : c.length === 4 ? -1 : c.length).join(''))
    .filter(Boolean).sort((a, b) => b.length - a.length);
  const out = [];
  if (!stems.length) return [String(text || '')];
  const source = String(text || '');
  const folded = fold(source);
  // fold() keeps every UTF-16 length (ё→е, case mapping of these scripts), so indexes match.
  const re = new RegExp(`(?<![\\p{L}\\p{N}])(?:${stems.join('|')})[\\p{L}\\p{N}]*`, 'gu');
  let at = 0;
  if (folded.length !== source.length) return [source];
  for (const m of folded.matchAll(re)) {
    if (m.index > at) out.push(document.createTextNode(source.slice(at, m.index)));
    out.push(h('mark', { text: source.slice(m.index, m.index + m[0].length) }));
    at = m.index + m[0].length;
  }
  if (at < source.length) out.push(document.createTextNode(source.slice(at)));
  return out;
}

/**
 * The search field (`el`) and the message results (`results`, placed under the chat list).
 * `onQuery(q)` is called on every change of the text, for the local filter.
 */
export function chatSearch(s, { onQuery }) {
  const input = h('input', {
    class: 'input', id: 'chat-search', type: 'search', testid: 'chat-search', autocomplete: 'off', spellcheck: 'false',
    maxlength: MAX, placeholder: t('chatSearchPlaceholder'), enterkeyhint: 'search',
  });
  const reset = h('button', {
    class: 'icon-btn', type: 'button', testid: 'chat-search-clear', hidden: true, 'aria-label': t('chatSearchClear'),
    onClick: () => { set(''); focus(input); },
  }, icon('close'));
  const el = h('form', { class: 'chat-search', role: 'search', onSubmit: e => { e.preventDefault(); run.cancel(); search(); } },
    h('label', { for: 'chat-search', class: 'sr-only', text: t('chatSearchLabel') }), input, reset);

  const list = h('ul', { class: 'search-results' });
  const state = h('div', { class: 'search-state', 'aria-live': 'polite' });
  const more = h('button', { class: 'btn btn-small', type: 'button', testid: 'search-more', hidden: true, onClick: () => search(true) }, t('loadMore'));
  const results = h('section', { class: 'search-section', testid: 'message-results', hidden: true, 'aria-labelledby': 'msg-results-h' },
    h('h2', { id: 'msg-results-h', class: 'search-head', text: t('messagesSection') }), list, state, h('div', { class: 'notice-line' }, more));

  let seq = 0;
  let next = null;
  let shown = 0;
  const query = () => input.value.trim().slice(0, MAX);

  function set(value) {
    input.value = value;
    changed();
  }

  function changed() {
    const q = query();
    reset.hidden = !input.value;
    onQuery(q);
    seq++;
    run.cancel();
    next = null;
    shown = 0;
    more.hidden = true;
    clear(list);
    results.hidden = !q;
    if (!q) { clear(state); return; }
    if ([...q].length < MIN) { clear(state, h('p', { class: 'muted', text: t('searchTooShort') })); return; }
    clear(state, loading());
    run();
  }

  const loading = () => h('p', { class: 'muted', role: 'status', testid: 'search-loading', text: t('searching') });

  async function search(page = false) {
    const q = query();
    if ([...q].length < MIN) return;
    const mine = ++seq;
    if (page) { more.disabled = true; clear(state, loading()); }
    try {
      const r = await s.rpc('search_messages', { query: q, limit: PAGE, ...(page && next && { before: next }) });
      if (mine !== seq) return;
      const items = r?.results || [];
      list.append(...items.map(m => h('li', {}, row(m, q))));
      shown += items.length;
      next = r?.next || null;
      more.hidden = !next;
      clear(state, shown ? h('span', { class: 'sr-only', text: t('searchResults', { n: shown }) })
        : h('p', { class: 'muted', testid: 'search-empty', text: t('nothingFound') }));
    } catch (e) {
      if (mine !== seq) return;
      // The server may not have the search yet (404): said plainly, no retry loop.
      clear(state, e.status === 404 || e.code === 'PGRST202'
        ? h('p', { class: 'muted', testid: 'search-unavailable', text: t('searchUnavailable') })
        : errorState(e, () => search(page)));
    } finally {
      more.disabled = false;
    }
  }
  const run = debounce(() => search(false), 300);

  /** A result: the chat's face and name, the date, then «sender: headline» (the sender is
   *  left out for the other person's messages in a DM: the chat's name says it). */
  function row(m, q) {
    const item = s.item(m.conversation_id);
    const other = item?.kind === 'dm' ? item.participants?.[0] : null;
    const own = m.sender_id === s.userId;
    const sender = own ? null : item?.participants?.find(p => p.id === m.sender_id) || (other?.id === m.sender_id ? other : null);
    const chat = item ? chatTitle(s, item) : t('unknownChat');
    const who = own ? t('you') : item?.kind === 'dm' && sender ? '' : nameOf(sender);
    const body = m.headline || m.body || (m.kind && m.kind !== 'text' ? t('kind_' + m.kind) : '');
    return h('a', {
      class: 'search-result', testid: 'message-result', href: `#/chats/${m.conversation_id}?seq=${m.seq}`,
      'data-conversation-id': m.conversation_id, 'data-seq': m.seq,
    }, other ? avatar(other, { size: 'sm' }) : avatar({ id: m.conversation_id, display_name: chat }, { size: 'sm' }),
    h('span', { class: 'body' },
      h('span', { class: 'row' },
        h('b', { class: 'who', testid: 'search-chat', text: chat }),
        h('time', { class: 'time', datetime: m.created_at, title: fullTime(m.created_at), text: shortTime(m.created_at) })),
      h('span', { class: 'headline', testid: 'search-headline' },
        who && h('span', { class: 'sender', testid: 'search-sender', text: who + ': ' }), highlight(body, q))));
  }

  input.addEventListener('input', changed);
  input.addEventListener('keydown', e => {
    if (e.key === 'Escape' && input.value) { e.preventDefault(); e.stopPropagation(); set(''); }
  });
  // Escape on a result also ends the search, back in the field.
  results.addEventListener('keydown', e => {
    if (e.key === 'Escape' && input.value) { e.preventDefault(); set(''); focus(input); }
  });

  return { el, results, input, query, cleanup: () => { seq++; run.cancel(); } };
}
