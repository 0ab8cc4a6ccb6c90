// The conversation's composer: the message input (autosize, Enter to send, Escape, ↑ to edit
// the last own message), reply and edit context, the length limit (length.js), files picked,
// pasted or dropped onto the conversation and voice recording (compose.js, loaded when first
// needed); typing notices; the unsent draft per chat (drafts.js), restored when the chat is
// opened again. Sends through the session; the conversation view owns the list.
import { h, clear, icon, focus } from '../util.js';
import { t } from '../i18n.js';
import { toastError } from '../toast.js';
import { lengthGuard } from './length.js';
import { loadDraft, saveDraft } from './drafts.js';

/**
 * Builds the composer for conversation `id` inside `pane` (whose paste and drag events it
 * takes). `conv()` is the loaded conversation state, `senderName(uid)` and `snippet(m)` name
 * what a reply or edit refers to, `beforeSend()` runs before a message is added to the list.
 */
export function composerView(pane, s, id, { conv, senderName, snippet, beforeSend }) {
  let replyTo = null;
  let editing = null;
  let closed = false;
  let sendWhenLoaded = false;
  const paneEvents = new AbortController(); // the pane outlives this composer
  const onPane = (type, fn) => pane.addEventListener(type, fn, { signal: paneEvents.signal });
  const context = h('div', { class: 'context-bar', hidden: true });
  const input = h('textarea', {
    id: 'message-input', testid: 'message-input', rows: 1, placeholder: t('messagePlaceholder'),
    'aria-label': t('messageLabel'), autocomplete: 'off',
  });
  const sendBtn = h('button', { class: 'icon-btn send', type: 'submit', testid: 'send-message', 'aria-label': t('send') }, icon('send'));
  const fileInput = h('input', { type: 'file', multiple: true, class: 'sr-only', tabindex: '-1', 'aria-hidden': 'true', testid: 'attach-input' });
  const attachBtn = h('button', { class: 'icon-btn attach', type: 'button', testid: 'attach-button', 'aria-label': t('attach'), title: t('attach'), onClick: () => fileInput.click() }, icon('clip'));
  const canRecord = !!(navigator.mediaDevices?.getUserMedia && globalThis.MediaRecorder);
  const micBtn = h('button', { class: 'icon-btn mic', type: 'button', testid: 'record-voice', 'aria-label': t('recordVoice'), title: t('recordVoice'), hidden: !canRecord, onClick: () => record() }, icon('mic'));
  const cameraLink = h('a', { class: 'icon-btn camera-entry', href: '#/camera/' + id, testid: 'camera-entry', 'aria-label': t('cameraOpen'), title: t('cameraOpen') }, icon('video')); // #/camera (camera.js)
  const form = h('form', {}, attachBtn, cameraLink, fileInput, input, micBtn, sendBtn);
  const trayHost = h('div');
  const recBar = h('div', { class: 'rec-bar', hidden: true });
  const note = h('div', { class: 'composer-note', role: 'alert', testid: 'composer-note', hidden: true });
  const guard = lengthGuard(input, {
    canSplit: () => !editing && !tray?.size,
    onSplit: pieces => sendText(pieces),
    onTrim: text => { input.value = text; saveDraft(s.userId, id, text); autosize(); paintButtons(); focus(input); },
  });
  const composer = h('div', { class: 'composer' }, context, note, trayHost, recBar, guard.el, form);
  const dropZone = h('div', { class: 'drop-zone', 'aria-hidden': 'true', hidden: true }, h('span', { text: t('dropHere') }));

  function paintContext() {
    const target = editing || replyTo;
    paintButtons();
    context.hidden = !target;
    if (!target) return clear(context);
    clear(context,
      h('span', { class: 'what' }, h('b', { text: editing ? t('editing') : t('replyingTo', { name: senderName(target.sender_id) }) }), ' ', snippet(target)),
      h('button', { class: 'icon-btn', type: 'button', 'aria-label': editing ? t('cancelEdit') : t('cancelReply'), onClick: cancelContext }, icon('close')));
  }

  function startReply(m) {
    editing = null;
    replyTo = m;
    paintContext();
    focus(input);
  }

  function startEdit(m) {
    if (!editing) saveDraft(s.userId, id, input.value);
    replyTo = null;
    editing = m;
    input.value = m.body;
    autosize();
    paintContext();
    focus(input);
  }

  function cancelContext() {
    if (editing) input.value = loadDraft(s.userId, id);
    editing = null;
    replyTo = null;
    paintContext();
    autosize();
    focus(input);
  }

  function autosize() {
    input.style.height = 'auto';
    input.style.height = Math.min(input.scrollHeight + 2, 160) + 'px';
  }

  // Attachments and voice

  let tray = null;
  let trayLoading = null;
  let recording = null;

  function getTray() {
    trayLoading ||= import('../compose.js').then(async m => {
      await m.ready();
      tray = m.createTray(trayHost, paintButtons);
      tray.mod = m;
      return tray;
    });
    trayLoading.catch(() => { trayLoading = null; });
    return trayLoading;
  }

  function addFiles(files) {
    const list = [...(files || [])];
    if (!list.length || closed) return;
    hideNote();
    getTray().then(tr => { tr.add(list); focus(input); }, e => toastError(e));
  }

  function showNote(text) {
    clear(note, h('span', { text }), h('button', { class: 'icon-btn', type: 'button', 'aria-label': t('close'), onClick: () => { hideNote(); focus(input); } }, icon('close')));
    note.hidden = false;
  }
  function hideNote() { note.hidden = true; clear(note); }

  function paintButtons() {
    const empty = !input.value.trim() && !tray?.size && !editing;
    micBtn.hidden = !canRecord || !empty || !!recording;
    input.placeholder = tray?.size ? t('captionPlaceholder') : t('messagePlaceholder');
    guard.paint();
  }

  async function record() {
    if (recording || !conv()?.loaded) return;
    hideNote();
    recording = true;
    micBtn.disabled = true;
    try {
      const m = await getTray().then(tr => tr.mod);
      const handle = await m.startRecording(recBar, result => {
        recording = null;
        form.hidden = false;
        paintButtons();
        if (result?.tooShort) showNote(t('recordingTooShort'));
        else if (result?.file) {
          beforeSend();
          s.sendFile(id, result.file, { kind: 'voice', replyTo: replyTo?.id, local: result.local });
          replyTo = null;
          paintContext();
        }
        focus(micBtn.hidden ? input : micBtn);
      });
      // The chat closed while the browser asked for the microphone: stop at once, so the
      // microphone is not left on behind a view that is gone.
      if (closed) { handle.cancel(); return; }
      recording = handle;
      form.hidden = true;
    } catch (e) {
      recording = null;
      showNote(e.message || t('errGeneric'));
      focus(micBtn);
    } finally {
      micBtn.disabled = false;
      paintButtons();
    }
  }

  fileInput.addEventListener('change', () => { addFiles(fileInput.files); fileInput.value = ''; });
  onPane('paste', e => {
    const files = [...(e.clipboardData?.files || [])];
    if (!files.length || composer.hidden || editing) return;
    e.preventDefault();
    addFiles(files);
  });
  let dragDepth = 0;
  const hasFiles = e => [...(e.dataTransfer?.types || [])].includes('Files');
  onPane('dragenter', e => {
    if (!hasFiles(e) || composer.hidden) return;
    e.preventDefault();
    dragDepth++;
    dropZone.hidden = false;
    getTray().catch(() => {});
  });
  onPane('dragover', e => { if (hasFiles(e) && !composer.hidden) { e.preventDefault(); e.dataTransfer.dropEffect = 'copy'; } });
  onPane('dragleave', () => { if (--dragDepth <= 0) { dragDepth = 0; dropZone.hidden = true; } });
  onPane('drop', e => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    dragDepth = 0;
    dropZone.hidden = true;
    if (!composer.hidden) addFiles(e.dataTransfer.files);
  });

  form.addEventListener('submit', async e => {
    e.preventDefault();
    const text = input.value.trim();
    if (guard.over()) { guard.paint(); guard.focusOffer(); return; }
    if (tray?.size && !editing && conv()?.loaded) {
      beforeSend();
      tray.send(s, id, text, replyTo?.id);
      afterSend();
      return;
    }
    if (!text) return;
    if (!conv()?.loaded) { sendWhenLoaded = true; return; } // sent by loaded()
    if (editing) {
      const m = editing;
      if (text === m.body) return cancelContext();
      try {
        await s.edit(conv(), m, text);
        editing = null;
        input.value = loadDraft(s.userId, id);
        paintContext();
        autosize();
      } catch (err) { toastError(err); }
      return;
    }
    sendText([text]);
  });

  /** Sends pieces of text as messages in order (the reply goes with the first). */
  function sendText(pieces) {
    if (!conv()?.loaded) return;
    beforeSend();
    pieces.forEach((piece, i) => s.send(id, piece, i ? null : replyTo?.id));
    afterSend();
  }

  /** Clears the composer once its content went out (reply context, text, typing state). */
  function afterSend() {
    replyTo = null;
    paintContext();
    input.value = '';
    saveDraft(s.userId, id, '');
    autosize();
    paintButtons();
    s.typing(id, false);
    focus(input);
  }

  input.addEventListener('keydown', e => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
    else if (e.key === 'Escape' && (editing || replyTo)) { e.preventDefault(); cancelContext(); }
    else if (e.key === 'ArrowUp' && !input.value && !editing) {
      const last = [...(conv()?.msgs.values() || [])].filter(m => m.sender_id === s.userId && !m.deleted_at).sort((a, b) => a.seq - b.seq).pop();
      if (last) { e.preventDefault(); startEdit(last); }
    }
  });
  input.addEventListener('input', () => {
    autosize();
    paintButtons();
    if (!editing) {
      s.typing(id, input.value.trim().length > 0);
      saveDraft(s.userId, id, input.value);
    }
  });

  // The draft of this chat, from an earlier visit or before a reload.
  input.value = loadDraft(s.userId, id);
  if (input.value) requestAnimationFrame(() => { autosize(); paintButtons(); });

  return {
    el: composer,
    dropZone,
    startReply,
    startEdit,
    focus: () => focus(input),
    /** The conversation's messages are in: a message typed and sent before that goes now. */
    loaded() {
      if (sendWhenLoaded && !closed) { sendWhenLoaded = false; form.requestSubmit(); }
    },
    cleanup() {
      closed = true;
      if (!editing) saveDraft(s.userId, id, input.value);
      paneEvents.abort();
      recording?.cancel?.();
    },
  };
}
