// #/people: search people by name or @username.
import { h, clear, avatar, nameOf, debounce } from '../util.js';
import { t } from '../i18n.js';
import { skeletonList, emptyState, errorState } from './common.js';

let last = { userId: null, query: '' }; // the previous search of the same account only

export function personRow(s, p, extra) {
  return h('a', { class: 'person', href: '#/u/' + encodeURIComponent(p.username), testid: 'person-result', 'data-username': p.username },
    avatar(p, { online: s.online.has(p.id) }),
    h('span', { class: 'names' },
      h('span', { text: nameOf(p) }),
      h('span', { class: 'muted' }, '@' + p.username, p.is_private ? ' · ' + t('privateAccount') : '')),
    extra);
}

export function peopleView(main, s) {
  const input = h('input', {
    class: 'input', id: 'people-q', type: 'search', testid: 'people-search', autocomplete: 'off', spellcheck: 'false',
    placeholder: t('searchPlaceholder'), value: last.userId === s.userId ? last.query : '', maxlength: 64,
  });
  const results = h('div', { 'aria-live': 'polite' });
  clear(main, h('div', { class: 'page' },
    h('div', { class: 'page-head' }, h('h1', { tabindex: '-1', text: t('peopleTitle') })),
    h('form', { role: 'search', onSubmit: e => { e.preventDefault(); search.cancel(); run(); } },
      h('div', { class: 'field' }, h('label', { for: 'people-q', text: t('searchLabel') }), input)),
    results));

  let seq = 0;
  async function run() {
    const q = input.value.trim().replace(/^@+/, '').replace(/@+$/, '');
    last = { userId: s.userId, query: input.value };
    const mine = ++seq;
    if (!q) {
      clear(results, emptyState(t('peopleHint')));
      return;
    }
    clear(results, skeletonList(3));
    try {
      const list = await s.rpc('search_profiles', { query: q.slice(0, 64), limit: 30 });
      if (mine !== seq) return;
      clear(results, list.length
        ? h('ul', { class: 'list', 'aria-label': t('results', { n: list.length }) }, list.map(p => h('li', {}, personRow(s, p))))
        : emptyState(t('nobodyFound')));
    } catch (e) {
      if (mine === seq) clear(results, errorState(e, run));
    }
  }
  const search = debounce(run, 250);
  input.addEventListener('input', search);
  run();
  return { cleanup: () => search.cancel() };
}
