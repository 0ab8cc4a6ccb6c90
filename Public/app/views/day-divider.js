// Separators in the message list: a day line («Сегодня», «Вчера», «12 марта», with the year
// when it is not this year) before the first message of each day, sticky at the top while
// its day scrolls, and the «Непрочитанные сообщения» line before the first message that was
// unread when the chat was opened. Rows are the list's [data-testid=message] children with
// `_m` (the message); separators are kept in step after every change of the list.
import { h } from '../util.js';
import { t, getLang } from '../i18n.js';

/** The local calendar day of a timestamp as 'YYYY-M-D' ('' when it is not a date). */
export function dayKey(iso) {
  const d = new Date(iso);
  return isNaN(d) ? '' : `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

/** «Сегодня», «Вчера», «12 марта» or «12 марта 2025 г.» for a day other than this year's. */
export function dayLabel(iso, now = new Date()) {
  const d = new Date(iso);
  if (isNaN(d)) return '';
  const start = x => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  const days = Math.round((start(now) - start(d)) / 86400000);
  if (days === 0) return t('today');
  if (days === 1) return t('yesterday');
  const opts = { day: 'numeric', month: 'long' };
  if (d.getFullYear() !== now.getFullYear()) opts.year = 'numeric';
  return d.toLocaleDateString(getLang(), opts);
}

/** The first message of another member with `after` < seq ≤ `upTo` (0 when none). */
export function firstUnread(msgs, after, upTo, me) {
  let first = 0;
  for (const m of msgs) {
    if (m.seq > after && m.seq <= upTo && m.sender_id !== me && (!first || m.seq < first)) first = m.seq;
  }
  return first;
}

/**
 * Keeps the separators of `listEl` in step with its rows. `unreadSeq()` is the seq of the
 * first message that was unread at opening (0: none).
 */
export function dividers(listEl, unreadSeq) {
  const days = new Map(); // day key → element
  // Its text is set when it is placed: the conversation's strings may still be loading when
  // the view is built (the raw key showed on the first chat opened after a page load).
  const unread = h('div', { class: 'unread-divider', testid: 'unread-divider', role: 'separator' }, h('span'));

  function dayEl(key, iso) {
    let el = days.get(key);
    if (!el) {
      el = h('div', { class: 'day-divider', testid: 'day-divider', role: 'separator' }, h('span'));
      days.set(key, el);
    }
    const text = dayLabel(iso);
    if (el.firstChild.textContent !== text) {
      el.firstChild.textContent = text;
      el.setAttribute('aria-label', text);
    }
    el.dataset.day = key;
    return el;
  }

  function sync() {
    const used = new Set();
    const first = unreadSeq();
    let last = null;
    for (const row of listEl.querySelectorAll(':scope > [data-testid="message"]')) {
      const m = row._m;
      if (!m) continue;
      const key = dayKey(m.created_at);
      const want = [];
      if (key && key !== last) want.push(dayEl(key, m.created_at));
      last = key || last;
      if (first && m.seq === first) {
        unread.firstChild.textContent = t('unreadDivider');
        want.push(unread);
      }
      let anchor = row;
      for (let i = want.length - 1; i >= 0; i--) {
        if (anchor.previousElementSibling !== want[i]) listEl.insertBefore(want[i], anchor);
        anchor = want[i];
        used.add(want[i]);
      }
    }
    for (const el of [...days.values(), unread]) {
      if (!used.has(el)) el.remove();
    }
    for (const [key, el] of days) if (!used.has(el)) days.delete(key);
  }

  return { sync, unreadEl: unread };
}
