// #/me: the own profile (edit), follow requests (accept/decline) and blocked people.
import { h, clear, avatar, nameOf, displayPhone, focus } from '../util.js';
import { t } from '../i18n.js';
import { toastError } from '../toast.js';
import { usernameField, errorText, errorState, skeletonList } from './common.js';
import { counts } from './profile.js';

export function meView(main, s) {
  const me = s.me;
  let closed = false;
  const preview = h('span');
  const paintPreview = url => clear(preview, avatar({ ...s.me, avatar_url: url }, { size: 'lg' }));
  paintPreview(me.avatar_url);

  const uname = usernameField(s, me.username || '');
  const display = h('input', { class: 'input', id: 'display-name', testid: 'display-name-input', maxlength: 64, required: true, value: me.display_name || '', autocomplete: 'name' });
  const bio = h('textarea', { class: 'input', id: 'bio', maxlength: 500, rows: 3 });
  bio.value = me.bio || '';
  const avatarUrl = h('input', { class: 'input', id: 'avatar-url', type: 'url', testid: 'avatar-url-input', inputmode: 'url', value: me.avatar_url || '', placeholder: 'https://…', 'aria-describedby': 'avatar-hint' });
  avatarUrl.addEventListener('input', () => paintPreview(avatarUrl.value.trim()));
  // A photo from this device: cropped square and uploaded by crop.js (loaded on first use).
  const photoInput = h('input', { type: 'file', accept: 'image/jpeg,image/png,image/webp,image/gif', class: 'sr-only', tabindex: '-1', 'aria-hidden': 'true', testid: 'avatar-file' });
  const photoBtn = h('button', { class: 'btn btn-small', type: 'button', testid: 'avatar-upload', onClick: () => photoInput.click() }, t('uploadPhoto'));
  photoInput.addEventListener('change', async () => {
    const file = photoInput.files?.[0];
    photoInput.value = '';
    if (!file) return;
    error.hidden = true;
    try {
      const p = await (await import('../crop.js')).cropAvatar(s, file);
      if (closed || !p) return;
      avatarUrl.value = p.avatar_url || '';
      paintPreview(p.avatar_url);
      status.textContent = t('avatarSaved');
    } catch (err) {
      error.textContent = err.message || errorText(err);
      error.hidden = false;
    }
    focus(photoBtn);
  });
  const priv = h('input', { type: 'checkbox', id: 'private', testid: 'private-toggle', checked: !!me.is_private });
  const status = h('div', { class: 'hint', role: 'status' });
  const error = h('div', { class: 'alert', role: 'alert', hidden: true });
  const save = h('button', { class: 'btn btn-primary', type: 'submit', testid: 'save-profile' }, t('save'));
  const countsBox = h('div');

  const form = h('form', { novalidate: true },
    error,
    h('div', { class: 'field' }, h('label', { for: 'display-name', text: t('displayName') }), display),
    uname.el,
    h('div', { class: 'field' }, h('label', { for: 'bio', text: t('bio') }), bio),
    h('div', { class: 'field' }, h('label', { for: 'avatar-url', text: t('avatarUrl') }), avatarUrl,
      h('div', { class: 'hint', id: 'avatar-hint', text: t('avatarHint') })),
    h('div', { class: 'check' }, priv, h('label', { for: 'private', text: t('privateLabel') })),
    h('div', { class: 'actions-row' }, save), status);

  form.addEventListener('submit', async e => {
    e.preventDefault();
    error.hidden = true;
    status.textContent = '';
    const changes = {};
    const username = uname.value();
    if (username !== (s.me.username || '')) {
      if (!/^[a-zA-Z0-9_]{3,32}$/.test(username)) { uname.fail(username.length < 3 || username.length > 32 ? t('usernameLength') : t('usernameChars')); uname.input.focus(); return; }
      changes.username = username;
    }
    const name = display.value.trim();
    if (!name) { error.textContent = t('displayNameRequired'); error.hidden = false; display.focus(); return; }
    if (name !== s.me.display_name) changes.display_name = name;
    if (bio.value.trim() !== (s.me.bio || '')) changes.bio = bio.value.trim();
    const url = avatarUrl.value.trim();
    if (url !== (s.me.avatar_url || '')) {
      if (url && !/^https?:\/\/[^\s/]+/i.test(url) && !url.startsWith('/storage/v1/object/public/avatars/')) { error.textContent = t('errAvatarUrl'); error.hidden = false; avatarUrl.focus(); return; }
      changes.avatar_url = url || null;
    }
    if (priv.checked !== !!s.me.is_private) changes.is_private = priv.checked;
    save.disabled = true;
    try {
      const p = await s.rpc('update_my_profile', changes);
      s.setMe(p);
      status.textContent = t('saved');
      loadCounts();
    } catch (err) {
      if (err.code === '23505') { uname.fail(t('usernameTaken')); uname.input.focus(); }
      else { error.textContent = errorText(err); error.hidden = false; }
    } finally {
      save.disabled = false;
    }
  });

  const requests = h('div');
  const blocked = h('div');
  clear(main, h('div', { class: 'page' },
    h('section', { class: 'section' },
      h('div', { class: 'profile-head' }, h('div', { class: 'avatar-edit' }, preview, photoBtn, photoInput, h('a', { class: 'btn btn-small', href: '#/camera/avatar', testid: 'camera-for-avatar' }, t('cameraOpen'))),
        h('div', { class: 'names' },
          h('h1', { tabindex: '-1', text: t('myProfile') }),
          h('span', { class: 'muted' }, me.username ? '@' + me.username : ''),
          h('span', { class: 'muted' }, displayPhone(me.phone)))),
      countsBox),
    h('section', { class: 'section', 'aria-labelledby': 'edit-h' }, h('h2', { id: 'edit-h', text: t('editProfile') }), form),
    h('section', { class: 'section', 'aria-labelledby': 'req-h' }, h('h2', { id: 'req-h', text: t('followRequests') }), requests),
    h('section', { class: 'section', 'aria-labelledby': 'blk-h' }, h('h2', { id: 'blk-h', text: t('blockedPeople') }), blocked)));

  async function loadCounts() {
    try {
      const p = await s.rpc('get_profile', { user_id: s.userId });
      if (!closed) clear(countsBox, counts(s, p));
    } catch { /* counts are optional */ }
  }

  function pagedList(box, fn, row, emptyText) {
    let cursor = null;
    const list = h('ul', { class: 'list' });
    const more = h('button', { class: 'btn btn-small', type: 'button', hidden: true, text: t('loadMore') });
    const load = async (reset) => {
      if (reset) { cursor = null; clear(box, skeletonList(2)); }
      try {
        const page = await s.rpc(fn, { limit: 50, ...(cursor && { cursor }) });
        if (closed) return;
        if (reset) { clear(list); clear(box, list, more); }
        list.append(...page.items.map(p => h('li', {}, row(p, () => load(true)))));
        if (!list.children.length) clear(box, h('p', { class: 'muted', text: emptyText }));
        cursor = page.next_cursor;
        more.hidden = !cursor;
      } catch (e) {
        if (!closed) clear(box, errorState(e, () => load(true)));
      }
    };
    more.addEventListener('click', () => load(false));
    load(true);
  }

  const person = (p, ...actions) => h('div', { class: 'person' }, avatar(p, { size: 'sm' }),
    h(p.username ? 'a' : 'span', { class: 'names', href: p.username ? '#/u/' + encodeURIComponent(p.username) : null },
      h('span', { text: nameOf(p) }), h('span', { class: 'muted', text: p.username ? '@' + p.username : '' })),
    h('span', { class: 'actions' }, actions));

  const action = (label, testid, cls, fn, reload, name) => h('button', {
    class: 'btn btn-small ' + cls, type: 'button', testid, 'aria-label': `${label}: ${name}`,
    onClick: async e => {
      const btn = e.currentTarget;
      btn.disabled = true;
      try { await fn(); reload(); loadCounts(); } catch (err) { toastError(err); btn.disabled = false; }
    },
  }, label);

  pagedList(requests, 'list_follow_requests', (p, reload) => person(p,
    action(t('accept'), 'accept-request', 'btn-primary', () => s.rpc('respond_follow_request', { follower_id: p.id, accept: true }), reload, nameOf(p)),
    action(t('decline'), 'decline-request', '', () => s.rpc('respond_follow_request', { follower_id: p.id, accept: false }), reload, nameOf(p))),
  t('noRequests'));
  pagedList(blocked, 'list_blocked_users', (p, reload) => person(p,
    action(t('unblock'), 'unblock-button', '', () => s.rpc('unblock_user', { target_user_id: p.id }), reload, nameOf(p))),
  t('noBlocked'));
  loadCounts();
  return { cleanup: () => { closed = true; } };
}
