// The installed-app side of the page (issue 14), started by main.js after the page loaded:
// registers the service worker (/sw.js: the shell offline, notification clicks), hands it the
// versioned files this visit already loaded, shows «Нет сети» while the network is gone
// (the browser says it is offline, or the worker answered from its cache because the server
// could not be reached), and opens the chat a clicked notification names.
import { h, stylesheet } from './util.js';
import { extend, t } from './i18n.js';

let banner = null;
let probe = 0;
let strings = null;

/** Loads styles/pwa.css and the app strings once (also used by notify.js). */
export function ready() {
  strings ||= Promise.all([
    stylesheet(new URL('../styles/pwa.css', import.meta.url)),
    extend({ ru: () => import('./i18n/app.ru.js'), en: () => import('./i18n/app.en.js') }),
  ]);
  return strings;
}

async function showOffline(on) {
  clearInterval(probe);
  if (!on) {
    if (banner) banner.hidden = true;
    document.documentElement.removeAttribute('data-offline');
    return;
  }
  document.documentElement.dataset.offline = 'true';
  await ready();
  if (!banner) {
    banner = h('div', { class: 'offline-banner', role: 'status', 'aria-live': 'polite', testid: 'offline-banner' },
      h('strong', { text: t('offlineTitle') }), h('span', { text: t('offlineText') }));
    document.body.append(banner);
  }
  banner.hidden = false;
  // While offline, ask the server now and then (through the worker, which then says online).
  probe = setInterval(() => {
    fetch('/app-config.json', { cache: 'no-store' }).then(r => { if (r.ok && navigator.onLine) showOffline(false); }, () => {});
  }, 5000);
}

export function start() {
  addEventListener('offline', () => showOffline(true));
  addEventListener('online', () => showOffline(false));
  if (!navigator.onLine) showOffline(true);
  const sw = navigator.serviceWorker;
  if (!sw || !isSecureContext) return;
  sw.addEventListener('message', e => {
    const data = e.data || {};
    if (data.type === 'network') showOffline(data.offline || !navigator.onLine);
    else if (data.type === 'open' && typeof data.route === 'string' && data.route.startsWith('#/')) {
      window.focus();
      location.hash = data.route;
    }
  });
  sw.register('/sw.js', { scope: '/' }).then(() => sw.ready).then(reg => {
    const loaded = performance.getEntriesByType('resource').map(e => e.name).filter(n => n.includes('?v='));
    reg.active?.postMessage({ type: 'cache', urls: loaded });
    sw.controller?.postMessage({ type: 'network?' });
  }).catch(e => console.warn('service worker:', e));
}
