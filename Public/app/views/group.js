// Group chats: the "new group" dialog and the members dialog (add, remove, leave).
import { h, clear, icon, avatar, nameOf, debounce, focus } from '../util.js';
import { t } from '../i18n.js';
import { toastError, toast } from '../toast.js';
import { go } from '../router.js';
import { openDialog, confirmDialog, errorText } from './common.js';

/** A people search that calls onPick(profile) for a chosen result. */
function peoplePicker(s, { exclude, onPick, testid }) {
  const results = h('ul', { class: 'list', 'aria-live': 'polite' });
  const input = h('input', {
    class: 'input', id: 'member-search', type: 'search', testid: 'group-member-search', autocomplete: 'off',
    placeholder: t('searchPlaceholder'),
  });
  let seq = 0;
  const run = debounce(async q => {
    const mine = ++seq;
    try {
      const list = await s.rpc('search_profiles', { query: q, limit: 10 });
      if (mine !== seq) return;
      const shown = list.filter(p => !exclude().has(p.id));
      clear(results, shown.length ? shown.map(p => h('li', {}, h('div', { class: 'person' },
        avatar(p, { size: 'sm' }),
        h('span', { class: 'names' }, h('span', { text: nameOf(p) }), h('span', { class: 'muted', text: '@' + p.username })),
        h('button', {
          class: 'btn btn-small', type: 'button', testid, 'data-username': p.username,
          'aria-label': t('addPerson', { name: nameOf(p) }),
          onClick: () => { onPick(p); input.value = ''; clear(results); focus(input); },
        }, icon('plus'))))) : h('li', { class: 'muted', text: t('nobodyFound') }));
    } catch (e) {
      if (mine === seq) clear(results, h('li', { class: 'error-text', text: errorText(e) }));
    }
  }, 250);
  input.addEventListener('input', () => {
    const q = input.value.trim().replace(/^@+/, '');
    if (!q) { seq++; clear(results); return; }
    run(q.slice(0, 64));
  });
  return h('div', { class: 'field' }, h('label', { for: 'member-search', text: t('addMembers') }), input, results);
}

export function createGroupDialog(s) {
  const d = openDialog({ title: t('newGroup') });
  const picked = new Map();
  const chips = h('div', { class: 'chips', 'aria-live': 'polite' });
  const titleInput = h('input', { class: 'input', id: 'group-title', testid: 'group-title-input', maxlength: 100, required: true, autocomplete: 'off' });
  const error = h('div', { class: 'alert', role: 'alert', hidden: true });
  const paint = () => clear(chips, [...picked.values()].map(p => h('span', { class: 'chip' }, nameOf(p),
    h('button', { class: 'icon-btn', type: 'button', 'aria-label': t('removePerson', { name: nameOf(p) }), onClick: () => { picked.delete(p.id); paint(); } }, icon('close')))));
  const create = h('button', { class: 'btn btn-primary', type: 'button', testid: 'create-group-submit' }, t('create'));
  create.addEventListener('click', async () => {
    const title = titleInput.value.trim();
    if (!title) { error.textContent = t('groupTitleRequired'); error.hidden = false; focus(titleInput); return; }
    create.disabled = true;
    try {
      const id = await s.rpc('create_group_chat', { title, member_ids: [...picked.keys()] });
      await s.loadInbox(true);
      d.close();
      go('#/chats/' + id);
    } catch (e) {
      error.textContent = errorText(e);
      error.hidden = false;
    } finally {
      create.disabled = false;
    }
  });
  d.body.append(error,
    h('div', { class: 'field' }, h('label', { for: 'group-title', text: t('groupTitle') }), titleInput),
    h('div', { class: 'label', text: t('membersLabel') }), chips,
    peoplePicker(s, { exclude: () => new Set(picked.keys()), onPick: p => { picked.set(p.id, p); paint(); }, testid: 'group-member-option' }));
  d.foot.append(h('button', { class: 'btn', type: 'button', onClick: () => d.close() }, t('cancel')), create);
  focus(titleInput);
}

export function membersDialog(s, id) {
  const item = () => s.item(id);
  const d = openDialog({ title: t('membersTitle') });
  const list = h('ul', { class: 'list' });
  const canManage = () => ['owner', 'admin'].includes(item()?.role);
  const paint = () => {
    const it = item();
    if (!it) { d.close(); return; }
    clear(list,
      h('li', {}, h('div', { class: 'person' }, avatar(s.me, { size: 'sm' }),
        h('span', { class: 'names' }, h('span', { text: nameOf(s.me) + ' (' + t('you') + ')' }), h('span', { class: 'muted', text: t('role_' + it.role) })))),
      (it.participants || []).map(p => h('li', {}, h('div', { class: 'person' },
        avatar(p, { size: 'sm', online: s.online.has(p.id) }),
        h('a', { class: 'names', href: p.username ? '#/u/' + encodeURIComponent(p.username) : null, onClick: () => d.close() },
          h('span', { text: nameOf(p) }), h('span', { class: 'muted', text: p.username ? '@' + p.username : '' })),
        canManage() && h('button', {
          class: 'btn btn-small btn-danger', type: 'button', testid: 'remove-member', 'aria-label': t('removePerson', { name: nameOf(p) }),
          onClick: async () => {
            if (!(await confirmDialog(t('removeMemberConfirm', { name: nameOf(p) }), t('remove')))) return;
            try {
              await s.rpc('remove_chat_member', { conversation_id: id, user_id: p.id });
              await s.loadInbox(true);
            } catch (e) { toastError(e); }
          },
        }, t('remove'))))));
  };
  paint();
  const off = s.on('inbox', paint);
  d.dlg.addEventListener('close', off);
  d.body.append(list);
  if (canManage()) {
    d.body.append(h('hr'), peoplePicker(s, {
      exclude: () => new Set([s.userId, ...(item()?.participants || []).map(p => p.id)]),
      testid: 'add-member',
      onPick: async p => {
        try {
          await s.rpc('add_chat_members', { conversation_id: id, member_ids: [p.id] });
          await s.loadInbox(true);
          toast(t('memberAdded', { name: nameOf(p) }));
        } catch (e) { toastError(e); }
      },
    }));
  }
  d.foot.append(h('button', {
    class: 'btn btn-danger', type: 'button', testid: 'leave-group',
    onClick: async () => {
      if (!(await confirmDialog(t('leaveConfirm'), t('leaveGroup')))) return;
      try {
        await s.rpc('leave_conversation', { conversation_id: id });
        d.close();
        await s.loadInbox(true);
        go('#/chats');
      } catch (e) { toastError(e); }
    },
  }, t('leaveGroup')));
}
