// #/u/<username>: someone's profile with follow, message, block and report actions; also the
// followers/following list dialog used by the own profile.
import { h, clear, avatar, nameOf } from '../util.js';
import { t } from '../i18n.js';
import { toastError } from '../toast.js';
import { go } from '../router.js';
import { errorState, openDialog, skeletonList, confirmDialog } from './common.js';
import { personRow } from './people.js';

export function counts(s, p) {
  const btn = (kind, n) => h('button', {
    type: 'button', disabled: !p.relationship?.can_see_connections && !p.relationship?.is_self,
    onClick: () => connectionsDialog(s, p, kind),
  }, h('b', { text: String(n) }), ' ', t(kind + 'Count', { n }));
  return h('div', { class: 'counts' }, btn('followers', p.followers_count || 0), btn('following', p.following_count || 0));
}

export function connectionsDialog(s, p, kind) {
  const d = openDialog({ title: t(kind + 'Title', { name: nameOf(p) }) });
  const list = h('ul', { class: 'list' });
  const more = h('button', { class: 'btn btn-small', type: 'button', hidden: true });
  d.body.append(list, more);
  let cursor = null;
  const load = async () => {
    if (!cursor) clear(list, h('li', {}, skeletonList(3)));
    try {
      const page = await s.rpc(kind === 'followers' ? 'list_followers' : 'list_following', { user_id: p.id, limit: 50, ...(cursor && { cursor }) });
      if (!cursor) clear(list);
      list.append(...page.items.filter(x => x.username).map(x => h('li', { onClick: () => d.close() }, personRow(s, x))));
      if (!list.children.length) list.append(h('li', { class: 'muted', text: t('nobodyHere') }));
      cursor = page.next_cursor;
      more.hidden = !cursor;
    } catch (e) {
      clear(list, h('li', {}, errorState(e, () => { cursor = null; load(); })));
    }
  };
  more.textContent = t('loadMore');
  more.addEventListener('click', load);
  load();
}

export function profileView(main, s, route) {
  let p = null;
  let face = null;
  let closed = false;
  const page = h('div', { class: 'page' });
  clear(main, page);

  function skeleton() {
    clear(page, h('div', { class: 'section', 'aria-busy': 'true' },
      h('h1', { tabindex: '-1', class: 'sr-only', text: t('loading') }), skeletonList(1)));
  }

  async function load() {
    if (!p) skeleton();
    try {
      const fresh = await s.rpc('get_profile', { username: route.username });
      if (closed) return;
      if (fresh.relationship?.is_self) { go('#/me', { replace: true }); return; }
      const first = !p;
      p = fresh;
      paint();
      if (first) main.querySelector('h1')?.focus();
    } catch (e) {
      if (closed) return;
      clear(page, h('h1', { tabindex: '-1', class: 'sr-only', text: t('profile') }),
        errorState(e.code === 'PGRST116' ? t('profileNotFound') : e, load));
    }
  }

  async function act(btn, fn) {
    btn.disabled = true;
    try {
      await fn();
      await load();
    } catch (e) {
      toastError(e);
      btn.disabled = false;
    }
  }

  function paint() {
    const rel = p.relationship || {};
    const following = rel.following || 'none';
    const followLabel = following === 'accepted' ? t('unfollow') : following === 'pending' ? t('requested') : p.is_private ? t('requestFollow') : t('follow');
    const follow = h('button', {
      class: 'btn ' + (following === 'none' ? 'btn-primary' : ''), type: 'button', testid: 'follow-button', 'data-state': following,
      'aria-pressed': String(following !== 'none'),
      onClick: () => act(follow, () => s.rpc(following === 'none' ? 'follow_user' : 'unfollow_user', { target_user_id: p.id })),
    }, followLabel);
    if (following === 'pending') follow.title = t('cancelRequest');
    const dm = h('button', {
      class: 'btn', type: 'button', testid: 'open-dm',
      onClick: async () => {
        dm.disabled = true;
        try {
          const id = await s.rpc('get_or_create_dm', { target_user_id: p.id });
          if (!s.item(id)) await s.loadInbox(true);
          go('#/chats/' + id);
        } catch (e) {
          toastError(e);
          dm.disabled = false;
        }
      },
    }, t('message'));
    const block = h('button', {
      class: 'btn btn-danger', type: 'button', testid: 'block-button', 'data-state': rel.blocked ? 'blocked' : 'none',
      onClick: async () => {
        // Blocking cuts messages, calls and the profile: asked first; unblocking is not.
        if (!rel.blocked && !(await confirmDialog(t('blockConfirm', { name: nameOf(p) }), t('block')))) return;
        act(block, () => s.rpc(rel.blocked ? 'unblock_user' : 'block_user', { target_user_id: p.id }));
      },
    }, rel.blocked ? t('unblock') : t('block'));
    const report = h('button', {
      class: 'btn', type: 'button', testid: 'report-profile-button',
      onClick: () => import('./content-report.js').then(r => r.reportProfile(s, p.id), toastError),
    }, t('reportProfile'));
    clear(page, h('section', { class: 'section' },
      h('div', { class: 'profile-head' },
        face = avatar(p, { size: 'lg', online: s.online.has(p.id) }),
        h('div', { class: 'names' },
          h('h1', { tabindex: '-1', text: nameOf(p) }),
          h('span', { class: 'muted' }, '@' + p.username),
          h('span', {},
            p.is_private && h('span', { class: 'tag' }, t('privateAccount')), ' ',
            rel.followed_by && h('span', { class: 'tag' }, t('followsYou')), ' ',
            rel.blocked && h('span', { class: 'tag' }, t('blocked'))))),
      p.bio && h('p', { class: 'bio', text: p.bio }),
      counts(s, p),
      h('div', { class: 'actions-row' }, !rel.blocked && follow, !rel.blocked && dm, block, !rel.is_self && report),
      rel.blocked && h('p', { class: 'muted', text: t('blockedHint') }),
      p.is_private && !rel.can_see_connections && h('p', { class: 'muted', text: t('privateHint') })));
  }

  const off = s.on('online', () => {
    if (face?.isConnected) face.replaceWith(face = avatar(p, { size: 'lg', online: s.online.has(p.id) }));
  });
  load();
  return { cleanup: () => { closed = true; off(); } };
}
