// Names for user ids: the admin API answers with user ids only, so the console asks the
// public profile RPC (`get_profile`, as the signed-in user) once per id and shows
// «Имя (@username)» beside the short id. A profile that cannot be read (deleted, blocked)
// leaves the id alone.
import { h } from '../app/util.js';
import { t } from './i18n.js';
import { shortId } from './ui.js';

export class People {
  constructor(user, myId) {
    this.user = user;
    this.myId = myId;
    this.cache = new Map();
  }

  /** Resolves {display_name, username} or null. */
  profile(userId) {
    if (!userId) return Promise.resolve(null);
    if (!this.cache.has(userId)) {
      const pending = this.user.rpc('get_profile', { user_id: userId })
        .then(p => (p && (p.display_name || p.username) ? { display_name: p.display_name || '', username: p.username || '' } : null))
        .catch(() => null);
      this.cache.set(userId, pending);
    }
    return this.cache.get(userId);
  }

  /** The user id of `@username` (null when no such profile is visible). */
  async idOf(username) {
    try {
      const p = await this.user.rpc('get_profile', { username: username.replace(/^@/, '') });
      if (p?.id) this.cache.set(p.id, Promise.resolve({ display_name: p.display_name || '', username: p.username || '' }));
      return p?.id || null;
    } catch (e) {
      if (e.status === 404 || e.code === 'PGRST116') return null;
      throw e;
    }
  }

  /** An element naming the user: the short id at once, the name when it arrives; «вы» for oneself. */
  label(userId, { testid = 'person' } = {}) {
    if (!userId) return h('span', { class: 'adm-person muted', testid, text: t('nobody') });
    const name = h('span', { class: 'adm-person-name' });
    const el = h('span', { class: 'adm-person', testid, 'data-user-id': userId, title: userId },
      name, h('code', { class: 'adm-id', text: shortId(userId) }));
    if (userId === this.myId) name.textContent = t('you');
    else this.profile(userId).then(p => {
      if (p) name.textContent = p.display_name ? p.display_name + (p.username ? ' @' + p.username : '') : '@' + p.username;
    });
    return el;
  }
}
