// Entry of the admin console (/admin/): theme and language as the main app has them, the API
// key from /app-config.json, then the guard decides the screen. Nothing of the main app runs
// here; only its side-effect-free modules (store, api, util) are imported.
import { configure } from '../app/api.js';
import * as store from '../app/store.js';
import { h, clear } from '../app/util.js';
import { pickLanguage, t } from './i18n.js';
import { liveRegions } from './ui.js';
import { startGuard } from './guard.js';

const root = document.getElementById('admin');
const dark = matchMedia('(prefers-color-scheme: dark)');

/** The main app's theme preference: light, dark, or the system's (followed live). */
function applyTheme() {
  const pref = store.prefs().theme;
  document.documentElement.dataset.theme = pref === 'light' || pref === 'dark' ? pref : dark.matches ? 'dark' : 'light';
}

async function boot() {
  root.removeAttribute('aria-busy');
  try {
    const res = await fetch('/app-config.json', { cache: 'no-store' });
    if (!res.ok) throw new Error('HTTP ' + res.status);
    const config = await res.json();
    if (!config.anonKey) throw new Error('no anonKey');
    configure({ base: location.origin, anonKey: config.anonKey });
    startGuard(root, { anonKey: config.anonKey });
  } catch {
    clear(root, h('div', { class: 'adm-auth' }, h('main', { class: 'adm-auth-main' }, h('div', { class: 'adm-panel' },
      h('h1', { text: t('configErrorTitle') }),
      h('p', { role: 'alert', testid: 'config-error', text: t('configError') }),
      h('button', { type: 'button', class: 'adm-btn', testid: 'retry', text: t('retry'), onClick: () => location.reload() })))));
  }
}

applyTheme();
dark.addEventListener('change', applyTheme);
addEventListener('storage', e => { if (e.key === 'eco:v1:prefs' || e.key === null) { applyTheme(); } });
pickLanguage();
document.body.append(...liveRegions());
addEventListener('unhandledrejection', e => {
  if (e.reason?.name === 'AbortError' || e.reason?.code === 'session_expired') e.preventDefault();
});
boot();
