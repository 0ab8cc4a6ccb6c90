// Unsent drafts per chat (the cross-helper contract): plain text in localStorage under
// `ecomansoni.draft.<userId>.<conversationId>`, removed when sent or emptied; every change is
// announced as the window event `ecomansoni:draft` {conversationId} for the chat list.

const keyOf = (userId, convId) => `ecomansoni.draft.${userId}.${convId}`;

/** The stored draft of a chat ('' when none, or when storage is not available). */
export function loadDraft(userId, convId) {
  try { return localStorage.getItem(keyOf(userId, convId)) || ''; } catch { return ''; }
}

/** Stores (or, for blank text, removes) the draft of a chat; tells the chat list if it changed. */
export function saveDraft(userId, convId, text) {
  const value = String(text || '').trim() ? String(text) : '';
  try {
    const key = keyOf(userId, convId);
    if ((localStorage.getItem(key) || '') === value) return;
    if (value) localStorage.setItem(key, value);
    else localStorage.removeItem(key);
  } catch { return; /* private mode or full storage: the draft lives only in the input */ }
  dispatchEvent(new CustomEvent('ecomansoni:draft', { detail: { conversationId: convId } }));
}
