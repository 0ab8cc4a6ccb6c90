// Hash routes: #/chats, #/chats/<id> (?seq=<n>: at that message), #/people, #/u/<username>, #/me, #/settings, #/add-account,
// #/insurance (→ osago), #/insurance/osago, #/insurance/assistant, #/privacy.
const ROUTES = [
  [/^\/chats\/([0-9a-f-]{36})(?:\?seq=(\d{1,15}))?$/i, m => ({ name: 'chats', id: m[1].toLowerCase(), seq: m[2] ? Number(m[2]) : null })],
  [/^\/chats\/?$/, () => ({ name: 'chats' })],
  [/^\/people\/?$/, () => ({ name: 'people' })],
  [/^\/u\/([^/]+)$/, m => ({ name: 'user', username: decodeURIComponent(m[1]).replace(/^@/, '').toLowerCase() })],
  [/^\/me\/?$/, () => ({ name: 'me' })],
  [/^\/settings\/?$/, () => ({ name: 'settings' })],
  [/^\/insurance(\/osago)?\/?(?:\?(.*))?$/, m => ({ name: 'osago', section: 'insurance', query: m[2] || '' })],
  [/^\/insurance\/assistant\/?$/, () => ({ name: 'assistant', section: 'insurance' })],
  [/^\/add-account\/?$/, () => ({ name: 'add-account' })],
  [/^\/privacy\/?$/, () => ({ name: 'privacy' })],
  [/^\/reels(?:\/(.*))?$/, m => ({ name: 'reels', path: m[1] || '' })],
  [/^\/camera(?:\/([0-9a-f-]{36}|avatar))?\/?$/i, m => ({ name: 'camera', target: m[1]?.toLowerCase() || null })],
];

export function current() {
  const path = location.hash.replace(/^#/, '') || '/chats';
  for (const [re, make] of ROUTES) {
    const m = path.match(re);
    if (m) return make(m);
  }
  return { name: 'chats', unknown: true };
}

export function go(hash, { replace = false } = {}) {
  const target = hash.startsWith('#') ? hash : '#' + hash;
  if (location.hash === target) return;
  if (replace) history.replaceState(null, '', target);
  else location.hash = target;
  if (replace) dispatchEvent(new HashChangeEvent('hashchange'));
}

export function onChange(fn) {
  addEventListener('hashchange', fn);
}
