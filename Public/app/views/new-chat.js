// «Новый чат» at the top of the chat list: a menu with «Написать человеку» (a people search;
// the chosen person's DM is opened, created if needed) and «Создать группу» (group.js).
import { h, clear, icon, avatar, nameOf, debounce, focus } from '../util.js';
import { t } from '../i18n.js';
import { go } from '../router.js';
import { openDialog, popover, errorText, skeletonList } from './common.js';

/** The «Новый чат» button; its menu opens below it. */
export function newChatButton(s) {
  const btn = h('button', {
    class: 'btn btn-small btn-primary', type: 'button', testid: 'new-chat', 'aria-haspopup': 'true', 'aria-expanded': 'false',
  }, icon('edit'), t('newChat'));
  btn.addEventListener('click', () => {
    if (document.querySelector('.new-chat-menu')) return;
    btn.setAttribute('aria-expanded', 'true');
    const pick = fn => () => { menu.close(); fn(); }; // focus back on the button: dialogs return it there
    const menu = popover(btn, h('div', { role: 'group', 'aria-label': t('newChat') },
      h('button', { type: 'button', testid: 'new-chat-dm', onClick: pick(() => dmDialog(s)) }, icon('chats'), t('newChatDm')),
      h('button', {
        type: 'button', testid: 'create-group',
        onClick: pick(() => import('./group.js').then(m => m.createGroupDialog(s))),
      }, icon('group'), t('newChatGroup'))), 'popover new-chat-menu');
    new MutationObserver((_, obs) => {
      if (menu.el.isConnected) return;
      obs.disconnect();
      btn.setAttribute('aria-expanded', 'false');
    }).observe(document.body, { childList: true });
  });
  return btn;
}

/** A dialog to find a person and open the DM with them. */
export function dmDialog(s) {
  const d = openDialog({ title: t('newChatDmTitle') });
  const results = h('ul', { class: 'list new-chat-results', 'aria-live': 'polite' }, h('li', { class: 'muted', text: t('newChatHint') }));
  const input = h('input', {
    class: 'input', id: 'new-chat-q', type: 'search', testid: 'new-chat-search', autocomplete: 'off', spellcheck: 'false', maxlength: 64,
    placeholder: t('searchPlaceholder'),
  });
  let seq = 0;
  let busy = false;

  async function open(p, btn) {
    if (busy) return;
    busy = true;
    btn.disabled = true;
    try {
      const id = await s.rpc('get_or_create_dm', { target_user_id: p.id });
      if (!s.item(id)) await s.loadInbox(true);
      d.close();
      go('#/chats/' + id);
    } catch (e) {
      clear(results, h('li', { class: 'error-text', role: 'alert', text: errorText(e) }));
      btn.disabled = false;
    } finally {
      busy = false;
    }
  }

  const run = debounce(async q => {
    const mine = ++seq;
    clear(results, h('li', {}, skeletonList(2)));
    try {
      const list = (await s.rpc('search_profiles', { query: q, limit: 20 })).filter(p => p.id !== s.userId && p.username);
      if (mine !== seq) return;
      clear(results, list.length ? list.map(p => {
        const b = h('button', {
          class: 'person new-chat-person', type: 'button', testid: 'new-chat-person', 'data-username': p.username,
          'aria-label': t('writeTo', { name: nameOf(p) }) + ' (@' + p.username + ')',
        }, avatar(p, { size: 'sm', online: s.online.has(p.id) }),
        h('span', { class: 'names' }, h('span', { text: nameOf(p) }), h('span', { class: 'muted', text: '@' + p.username })));
        b.addEventListener('click', () => open(p, b));
        return h('li', {}, b);
      }) : h('li', { class: 'muted', text: t('nobodyFound') }));
    } catch (e) {
      if (mine === seq) clear(results, h('li', { class: 'error-text', text: errorText(e) }));
    }
  }, 250);
  input.addEventListener('input', () => {
    const q = input.value.trim().replace(/^@+/, '');
    if (!q) { seq++; run.cancel(); clear(results, h('li', { class: 'muted', text: t('newChatHint') })); return; }
    run(q.slice(0, 64));
  });
  d.dlg.addEventListener('close', () => { seq++; run.cancel(); });
  d.body.append(h('div', { class: 'field' }, h('label', { for: 'new-chat-q', text: t('newChatSearchLabel') }), input), results);
  d.foot.append(h('button', { class: 'btn', type: 'button', onClick: () => d.close() }, t('cancel')));
  focus(input);
}
