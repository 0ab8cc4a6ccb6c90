// Session methods (see session.js) for the inbox: loading and paging it, unread counts, the
// inbox side of realtime message and participant changes, and read acks.

/** Mixed into Session: `this` is the session. */
export class InboxPart {
  /** Loads the inbox; a call while a load is running waits for that load (and one more after it). */
  loadInbox(quiet = false) {
    if (this.inbox.loading) {
      this.inbox.again ||= this.inbox.loading.then(() => { this.inbox.again = null; return this.loadInbox(true); });
      return this.inbox.again;
    }
    this.inbox.loading = this.fetchInbox(quiet).finally(() => { this.inbox.loading = null; });
    return this.inbox.loading;
  }

  async fetchInbox(quiet) {
    if (!quiet) { this.inbox.error = null; this.emit('inbox'); }
    try {
      const page = await this.rpc('chat_get_inbox_v2', { p_limit: 50 });
      if (this.destroyed) return;
      this.inbox.items = page.items || [];
      this.inbox.next = page.next_cursor;
      this.inbox.loaded = true;
      this.inbox.error = null;
      this.receipts.fromInbox(this.inbox.items);
      for (const it of this.inbox.items) {
        const c = this.convs.get(it.conversation_id);
        if (c) c.meta = it;
      }
    } catch (e) {
      if (this.destroyed) return;
      if (!this.inbox.loaded) this.inbox.error = e;
    }
    this.emit('inbox');
  }

  async loadMoreInbox() {
    if (!this.inbox.next) return;
    const page = await this.rpc('chat_get_inbox_v2', { p_limit: 50, p_cursor: this.inbox.next });
    const known = new Set(this.inbox.items.map(i => i.conversation_id));
    this.inbox.items.push(...page.items.filter(i => !known.has(i.conversation_id)));
    this.inbox.next = page.next_cursor;
    this.receipts.fromInbox(page.items);
    this.emit('inbox');
  }

  item(id) {
    return this.inbox.items.find(i => i.conversation_id === id);
  }

  totalUnread() {
    return this.inbox.items.reduce((n, i) => n + (i.muted ? 0 : i.unread_count || 0), 0);
  }

  bump(item) {
    this.inbox.items = [item, ...this.inbox.items.filter(i => i !== item)];
  }

  // Realtime changes

  messageChange(type, m) {
    const item = this.item(m.conversation_id);
    const c = this.convs.get(m.conversation_id);
    if (type === 'INSERT') {
      if (c?.typing.has(m.sender_id)) {
        clearTimeout(c.typing.get(m.sender_id));
        c.typing.delete(m.sender_id);
        this.emit('typing:' + c.id);
      }
      if (c?.loaded) this.addMessages(c, [m]);
      if (!item) { this.refreshInboxSoon(); return; }
      if (m.seq > (item.last_seq || 0)) {
        item.last_seq = m.seq;
        item.last_message_at = m.created_at;
        item.last_message = { id: m.id, sender_id: m.sender_id, seq: m.seq, kind: m.kind, body: m.body, call: m.call || null, deleted: !!m.deleted_at, created_at: m.created_at };
        if (m.sender_id !== this.userId) {
          if (this.isViewing(m.conversation_id)) this.ackRead(m.conversation_id); // a read ack also moves delivery
          else {
            item.unread_count = (item.unread_count || 0) + 1;
            this.receipts.arrived(m.conversation_id, m.seq);
          }
        }
        this.bump(item);
      }
      this.emit('inbox');
    } else if (type === 'UPDATE') {
      if (c?.loaded) this.addMessages(c, [m]);
      if (item?.last_message?.id === m.id) {
        item.last_message = { ...item.last_message, body: m.body, deleted: !!m.deleted_at };
        if (m.deleted_at && m.sender_id !== this.userId && m.seq > (item.read_up_to_seq || 0)) this.refreshInboxSoon();
        this.emit('inbox');
      } else if (m.deleted_at && item?.unread_count) {
        this.refreshInboxSoon();
      }
    }
  }

  participantChange(type, p, convId) {
    const item = this.item(convId);
    if (type === 'INSERT') {
      this.refreshInboxSoon();
    } else if (type === 'DELETE') {
      if (p.user_id === this.userId) {
        this.inbox.items = this.inbox.items.filter(i => i.conversation_id !== convId);
        const c = this.convs.get(convId);
        if (c) { this.closeConvChannel(c); this.convs.delete(convId); }
        this.emit('inbox');
        this.emit('removed:' + convId);
      } else {
        this.refreshInboxSoon();
      }
    } else if (type === 'UPDATE') {
      if (p.user_id === this.userId) {
        // Only a read cursor that moved (here or on another device) changes the unread count;
        // this device's delivery acks come back here too.
        if (item && (p.read_up_to_seq || 0) > (item.read_up_to_seq || 0)) {
          item.read_up_to_seq = p.read_up_to_seq;
          if (item.read_up_to_seq >= (item.last_seq || 0)) item.unread_count = 0;
          else this.refreshInboxSoon();
          this.emit('inbox');
        }
      } else {
        this.receipts.update(convId, p);
      }
    }
  }

  // Reading

  isViewing(id) {
    return this.openConv === id && document.visibilityState === 'visible' && this.atBottom !== false;
  }

  async ackRead(id) {
    const c = this.convs.get(id);
    const item = this.item(id);
    const upTo = Math.max(c?.maxSeq || 0, item?.last_seq || 0);
    if (!upTo || (item && (item.read_up_to_seq || 0) >= upTo && !item.unread_count)) return;
    if (item) {
      item.unread_count = 0;
      item.read_up_to_seq = Math.max(item.read_up_to_seq || 0, upTo);
      this.emit('inbox');
    }
    try {
      await this.rpc('ack_read_v1', { conversation_id: id, up_to_seq: upTo });
    } catch { /* harmless: retried on the next message or visit */ }
  }
}
