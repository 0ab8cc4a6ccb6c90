// The web app's service worker (issue 14), served at the scope root with Cache-Control:
// no-cache. It keeps the shell so the app opens without a network, and it opens the chat a
// notification names. It never touches the API: /auth, /rest, /storage, /realtime,
// /functions and /calls requests are not intercepted, so no API answer is ever cached; nor
// the admin console (/admin/: its own page and /admin/v1 API), which is never the chat shell.
//
// The server rewrites the './' literals below to versioned URLs (?v=<hash of everything the
// file reaches>); index.html reaches the whole app, so any change to a file of the app changes
// this file, the browser installs the new worker, and it replaces the old cache.
const SHELL = [
  './index.html',
  './app/main.js', './app/app.js', './app/util.js', './app/i18n.js', './app/i18n/ru.js', './app/i18n/en.js',
  './app/store.js', './app/api.js', './app/router.js', './app/toast.js', './app/views/common.js', './app/views/auth.js',
  './app/pwa.js', './app/i18n/app.ru.js', './app/i18n/app.en.js', './app/i18n/signed-in.ru.js', './app/i18n/signed-in.en.js',
  './styles/theme.css', './styles/app.css', './styles/signed-in.css', './styles/pwa.css', './favicon.svg', './manifest.webmanifest',
];
const INDEX = new URL(SHELL[0], location.href).href;
const VERSION = new URL(INDEX).searchParams.get('v') || 'dev';
const CACHE = 'eco-shell-' + VERSION;
const PREFIX = 'eco-shell-';
// Unversioned files kept for offline use (network first, the cached copy when it fails).
const KEPT = ['/app-config.json', '/favicon.svg', '/manifest.webmanifest', '/icons/'];
const API = ['/auth/', '/rest/', '/storage/', '/realtime/', '/functions/', '/calls/', '/health', '/ready', '/metrics', '/admin/'];

let offline = false;

self.addEventListener('install', event => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    // The page must be able to open: index.html is required, the rest is best effort.
    await cache.add(INDEX);
    await Promise.allSettled(SHELL.slice(1).map(url => cache.add(url)));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', event => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
    await self.clients.claim();
  })());
});

async function setOffline(value) {
  if (offline === value) return;
  offline = value;
  for (const client of await self.clients.matchAll({ type: 'window' })) client.postMessage({ type: 'network', offline });
}

/** Network first; on failure the cached copy (`key`: the cache entry to fall back to). */
async function networkFirst(request, key, store) {
  try {
    const response = await fetch(request);
    setOffline(false);
    if (store && response.ok) (await caches.open(CACHE)).put(key, response.clone());
    return response;
  } catch (e) {
    setOffline(true);
    const cached = await caches.match(key);
    if (cached) return cached;
    throw e;
  }
}

/** Versioned files never change: the cache, else the network (and keep it). */
async function cacheFirst(request) {
  const cached = await caches.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  // Only the file of that version (the server marks it immutable; an old version gets today's file).
  if (response.status === 200 && /immutable/.test(response.headers.get('cache-control') || '')) {
    (await caches.open(CACHE)).put(request, response.clone());
  }
  return response;
}

self.addEventListener('fetch', event => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== location.origin || API.some(p => url.pathname.startsWith(p))) return;
  if (request.mode === 'navigate') {
    // The shell is one page (hash routes): any navigation falls back to the cached index.html.
    event.respondWith(networkFirst(request, INDEX, false));
  } else if (url.searchParams.has('v')) {
    event.respondWith(cacheFirst(request));
  } else if (KEPT.some(p => url.pathname === p || (p.endsWith('/') && url.pathname.startsWith(p)))) {
    event.respondWith(networkFirst(request, url.pathname, true));
  }
});

self.addEventListener('message', event => {
  const data = event.data || {};
  if (data.type === 'network?') {
    event.source?.postMessage({ type: 'network', offline });
  } else if (data.type === 'cache' && Array.isArray(data.urls)) {
    // What the page loaded before this worker controlled it (versioned files of this origin).
    const urls = data.urls.filter(u => {
      try { const x = new URL(u); return x.origin === location.origin && x.searchParams.has('v'); } catch { return false; }
    });
    event.waitUntil(caches.open(CACHE).then(async cache => {
      await Promise.allSettled(urls.map(async u => { if (!(await cache.match(u))) await cache.add(u); }));
    }));
  }
});

// A notification (notify.js) carries the hash route of its chat: focus a window of the app
// and open it there, or open a new window at it.
self.addEventListener('notificationclick', event => {
  event.notification.close();
  const route = String(event.notification.data?.route || '#/chats');
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    const client = windows.find(c => c.focused) || windows[0];
    if (client) {
      await client.focus();
      client.postMessage({ type: 'open', route });
    } else {
      await self.clients.openWindow('/' + route);
    }
  })());
});
