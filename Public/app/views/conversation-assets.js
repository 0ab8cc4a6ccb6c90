// The conversation's own stylesheet (styles/conversation.css) and strings
// (i18n/conversation.*.js), loaded once with the first conversation opened.
import { extend } from '../i18n.js';
import { stylesheet } from '../util.js';

let assets = null;

/** Resolves when the stylesheet and the strings are in (a failed stylesheet still resolves). */
export function conversationAssets() {
  assets ||= Promise.all([
    stylesheet(new URL('../../styles/conversation.css', import.meta.url)),
    extend({ ru: () => import('../i18n/conversation.ru.js'), en: () => import('../i18n/conversation.en.js') }),
  ]);
  assets.catch(() => { assets = null; });
  return assets;
}
