// Entry point: preloads the modules this visit will need (chat code for a stored account,
// sign-in code otherwise), then boots the app into #app. A failure still leaves a message.
const root = document.getElementById('app');
let signedIn = false;
try { signedIn = Object.keys(JSON.parse(localStorage.getItem('eco:v1:accounts') || '{}')).length > 0; } catch { /* private mode */ }
// './' names: the server versions such URLs (?v=<content hash>) so they match the imports.
const likely = signedIn
  ? ['./realtime.js', './calls.js', './session.js', './account-api.js', './i18n/signed-in.ru.js', './views/shell.js', './views/chats.js']
  : ['./views/auth.js'];
if (signedIn && /^#\/chats\/./.test(location.hash)) likely.push('./views/conversation.js');
if (signedIn && /^#\/insurance/.test(location.hash)) likely.push('./views/insurance.js', /assistant/.test(location.hash) ? './views/assistant.js' : './views/osago.js');
if (signedIn && /^#\/reels/.test(location.hash)) likely.push('./views/reels.js');
/** Adds <link rel=modulepreload>, or rel=preload as=`as`, for a file named relative to this module. */
function preload(path, as) {
  const link = document.createElement('link');
  link.href = new URL(path, import.meta.url).href;
  if (as) { link.rel = 'preload'; link.as = as; } else link.rel = 'modulepreload';
  document.head.append(link);
}
for (const m of likely) preload(m);
if (signedIn) for (const css of ['../styles/signed-in.css', '../styles/chats.css']) preload(css, 'style');

import('./app.js').then(m => m.boot(root)).catch(e => {
  console.error(e);
  root.textContent = 'ECOMANSONI: ' + (document.documentElement.lang === 'en' ? 'could not start. Reload the page.' : 'не удалось запустить. Обновите страницу.');
  root.className = 'boot';
  root.removeAttribute('aria-busy');
});

// The installable app (service worker, offline state) starts once the page has loaded.
const pwa = () => import('./pwa.js').then(m => m.start(), () => {});
if (document.readyState === 'complete') pwa(); else addEventListener('load', pwa, { once: true });
