// Session methods (see session.js) for sending: the send queue with optimistic messages (text
// in the order typed; files uploaded side by side, sent in the order chosen), retries with the
// same client_msg_id, cancel and discard, and edits, deletions and reactions.
import { uuid } from './util.js';

/** Mixed into Session: `this` is the session. */
export class SendPart {
  /**
   * Sends a file as a message of `kind` (image, video, file, voice, audio): an optimistic
   * bubble at once, the upload (progress events 'conv:<id>' {type:'progress'}), then
   * send_message_v1. `local` is what the bubble shows meanwhile (preview, width/height,
   * duration). A retry re-uploads only if the upload did not finish, with the same
   * client_msg_id, so the send stays idempotent.
   */
  sendFile(id, file, { kind, caption = '', replyTo = null, local = {} }) {
    const c = this.conv(id);
    const msg = {
      client_msg_id: uuid(), conversation_id: id, sender_id: this.userId, body: caption, reply_to_id: replyTo || null,
      kind, created_at: new Date().toISOString(), reactions: [], state: 'sending',
      upload: { file, path: null, loaded: 0, total: file.size, done: false, abort: null }, local,
      after: c.fileChain || null, // files upload side by side but are sent in the order chosen
    };
    c.pending.set(msg.client_msg_id, msg);
    this.emit('conv:' + id, { type: 'pending', msg });
    c.fileChain = this.deliver(c, msg);
    return msg;
  }

  async uploadFor(c, msg) {
    const storage = await import('./storage.js');
    // Canceled while the module loaded: nothing may be uploaded (it would be left orphaned).
    if (msg.canceled) throw new DOMException('upload canceled', 'AbortError');
    const u = msg.upload;
    u.path ||= `${this.userId}/${uuid()}-${storage.safeName(u.file.name)}`;
    u.loaded = 0;
    const job = storage.upload(this.api, 'attachments', u.path, u.file, {
      onProgress: (loaded, total) => { u.loaded = loaded; u.total = total || u.total; this.emit('conv:' + c.id, { type: 'progress', msg }); },
    });
    u.abort = job.abort;
    try {
      await job.promise;
    } catch (e) {
      // An earlier attempt stored it but its answer was lost: the name is ours, so it is there.
      if (!(e.status === 409 && e.storage)) throw e;
    } finally {
      u.abort = null;
    }
    u.done = true;
    u.loaded = u.total;
    const l = msg.local || {};
    msg.attachment = {
      bucket: 'attachments', path: u.path, name: u.path.split('/').pop(), mime_type: storage.typeOf(u.file), size: u.file.size,
      width: l.width ?? null, height: l.height ?? null, duration_ms: l.duration_ms ?? null, waveform: l.waveform ?? null,
      thumbnail_path: null, poster_path: null,
    };
  }

  /** Stops an upload in progress and drops its message. */
  cancelSend(id, clientId) {
    const msg = this.conv(id).pending.get(clientId);
    if (!msg) return;
    msg.canceled = true;
    msg.upload?.abort?.();
    this.discard(id, clientId);
  }

  send(id, body, replyTo) {
    const c = this.conv(id);
    const msg = {
      client_msg_id: uuid(), conversation_id: id, sender_id: this.userId, body, reply_to_id: replyTo || null,
      created_at: new Date().toISOString(), reactions: [], state: 'sending',
      after: c.textChain || null, // sent in the order typed
    };
    c.pending.set(msg.client_msg_id, msg);
    this.emit('conv:' + id, { type: 'pending', msg });
    c.textChain = this.deliver(c, msg);
    return msg;
  }

  async deliver(c, msg) {
    msg.state = 'sending';
    msg.error = null;
    this.emit('conv:' + c.id, { type: 'pending', msg });
    try {
      if (msg.upload && !msg.upload.done) await this.uploadFor(c, msg);
      if (msg.after) { const before = msg.after; msg.after = null; await before; }
      if (msg.canceled) return;
      const args = { conversation_id: c.id, client_msg_id: msg.client_msg_id, body: msg.body, reply_to_id: msg.reply_to_id };
      if (msg.upload) Object.assign(args, { kind: msg.kind, attachment: { path: msg.upload.path } });
      const r = await this.rpc('send_message_v1', args);
      if (!c.pending.has(msg.client_msg_id)) return; // realtime delivered it first
      this.addMessages(c, [{
        id: r.message_id, seq: r.seq, created_at: r.created_at, conversation_id: c.id, sender_id: this.userId,
        client_msg_id: msg.client_msg_id, kind: msg.upload ? msg.kind : 'text', body: msg.body, reply_to_id: msg.reply_to_id, reactions: [],
        ...(msg.upload && { attachment: r.attachment || msg.attachment }),
      }]);
    } catch (e) {
      if (!c.pending.has(msg.client_msg_id) || msg.canceled) return;
      msg.state = 'failed';
      msg.error = e;
      this.emit('conv:' + c.id, { type: 'pending', msg });
    }
  }

  retry(id, clientId) {
    const c = this.conv(id);
    const msg = c.pending.get(clientId);
    // Only a failed message: a Retry click racing the automatic retry after reconnecting
    // would otherwise start a second upload of the same file.
    if (msg?.state === 'failed') this.deliver(c, msg);
  }

  /** Sends again every message that failed for lack of network (after reconnecting). */
  retryFailed() {
    for (const c of this.convs.values()) {
      for (const m of c.pending.values()) if (m.state === 'failed' && m.error?.network) this.deliver(c, m);
    }
  }

  discard(id, clientId) {
    const c = this.conv(id);
    const msg = c.pending.get(clientId);
    c.pending.delete(clientId);
    if (msg?.upload?.done && msg.error && !msg.error.network) import('./storage.js').then(st => st.removeObject(this.api, 'attachments', msg.upload.path));
    if (msg) this.emit('conv:' + id, { type: 'discard', msg });
  }

  async edit(c, msg, body) {
    const m = await this.rpc('edit_message', { message_id: msg.id, body });
    this.addMessages(c, [m]);
  }

  async remove(c, msg) {
    const m = await this.rpc('delete_message', { message_id: msg.id });
    this.addMessages(c, [m]);
  }

  async react(c, msg, emoji) {
    const mine = (msg.reactions || []).find(r => r.user_id === this.userId);
    const next = mine?.emoji === emoji ? null : emoji;
    const before = msg.reactions;
    msg.reactions = [...(msg.reactions || []).filter(r => r.user_id !== this.userId), ...(next ? [{ user_id: this.userId, emoji: next }] : [])];
    this.emit('conv:' + c.id, { type: 'update', msgs: [msg] });
    try {
      await this.rpc('set_reaction', { message_id: msg.id, emoji: next });
    } catch (e) {
      msg.reactions = before;
      this.emit('conv:' + c.id, { type: 'update', msgs: [msg] });
      throw e;
    }
  }
}
