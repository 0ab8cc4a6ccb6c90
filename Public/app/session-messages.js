// Session methods (see session.js) for loaded conversations: message pages by seq, catching up
// after a drop, reactions from realtime, and the conversation channel with typing indicators.

/** Mixed into Session: `this` is the session. */
export class MessagesPart {
  conv(id) {
    let c = this.convs.get(id);
    if (!c) {
      c = { id, msgs: new Map(), byId: new Map(), pending: new Map(), minSeq: Infinity, maxSeq: 0, hasMore: true, loaded: false, typing: new Map() };
      this.convs.set(id, c);
    }
    c.meta = this.item(id) || c.meta;
    return c;
  }

  addMessages(c, list) {
    const added = [];
    for (const m of list) {
      const existing = c.msgs.get(m.seq);
      const msg = existing ? Object.assign(existing, m, { reactions: m.reactions || existing.reactions || [] }) : { ...m, reactions: m.reactions || [] };
      if (!existing) {
        c.msgs.set(m.seq, msg);
        c.byId.set(m.id, msg);
        if (m.client_msg_id && c.pending.has(m.client_msg_id)) {
          msg.replaces = c.pending.get(m.client_msg_id);
          c.pending.delete(m.client_msg_id);
        }
      }
      c.minSeq = Math.min(c.minSeq, m.seq);
      if (m.seq > c.maxSeq + 1 && c.loaded && c.maxSeq && !c.catching) this.catchUp(c.id);
      c.maxSeq = Math.max(c.maxSeq, m.seq);
      added.push(msg);
    }
    if (added.length) this.emit('conv:' + c.id, { type: 'update', msgs: added });
  }

  async loadLatest(id) {
    const c = this.conv(id);
    const page = await this.rpc('get_messages', { conversation_id: id, limit: 50 });
    c.hasMore = page.has_more;
    c.loaded = true;
    this.addMessages(c, page.items);
    if (!page.items.length) c.minSeq = 0;
    return c;
  }

  async loadOlder(id) {
    const c = this.conv(id);
    if (!c.hasMore || c.loadingOlder || !isFinite(c.minSeq) || c.minSeq <= 1) { c.hasMore = c.hasMore && c.minSeq > 1; return []; }
    c.loadingOlder = true;
    try {
      const page = await this.rpc('get_messages', { conversation_id: id, before_seq: c.minSeq, limit: 50 });
      c.hasMore = page.has_more;
      this.addMessages(c, page.items);
      return page.items;
    } finally {
      c.loadingOlder = false;
    }
  }

  /** Fetches what was missed (after a drop): new messages, then the latest page for edits and reactions. */
  async catchUp(id) {
    const c = this.convs.get(id);
    if (!c?.loaded || c.catching) return;
    c.catching = true;
    try {
      let more = true;
      while (more && !this.destroyed) {
        const page = await this.rpc('get_messages', { conversation_id: id, after_seq: c.maxSeq, limit: 100 });
        this.addMessages(c, page.items);
        more = page.has_more && page.items.length > 0;
      }
      const latest = await this.rpc('get_messages', { conversation_id: id, limit: 50 });
      this.addMessages(c, latest.items);
      if (this.isViewing(id)) this.ackRead(id);
    } catch { /* the next reconnect or event tries again */ } finally {
      c.catching = false;
    }
  }

  resync() {
    this.loadInbox(true);
    for (const c of this.convs.values()) if (c.loaded) this.catchUp(c.id);
  }

  reactionChange(type, r) {
    for (const c of this.convs.values()) {
      const msg = c.byId.get(r.message_id);
      if (!msg) continue;
      const rest = (msg.reactions || []).filter(x => x.user_id !== r.user_id);
      msg.reactions = type === 'DELETE' ? rest : [...rest, { user_id: r.user_id, emoji: r.emoji }];
      this.emit('conv:' + c.id, { type: 'update', msgs: [msg] });
    }
  }

  // Conversation channel: typing indicators

  openConvChannel(id) {
    const c = this.conv(id);
    if (c.channel) return c;
    c.channel = this.socket.channel(`realtime:conversation:${id}`, {
      config: { broadcast: { self: false, ack: false }, presence: { key: '', enabled: false }, private: false },
      onEvent: (event, payload) => {
        if (event !== 'broadcast' || payload.event !== 'typing') return;
        const who = payload.payload?.user_id;
        if (!who || who === this.userId) return;
        clearTimeout(c.typing.get(who));
        if (payload.payload.typing === false) c.typing.delete(who);
        else c.typing.set(who, setTimeout(() => { c.typing.delete(who); this.emit('typing:' + id); }, 6000));
        this.emit('typing:' + id);
      },
    }).join();
    return c;
  }

  closeConvChannel(c) {
    c.channel?.leave();
    c.channel = null;
    for (const timer of c.typing.values()) clearTimeout(timer);
    c.typing.clear();
  }

  typing(id, on) {
    const c = this.convs.get(id);
    if (!c?.channel) return;
    const now = Date.now();
    if (on && now - (c.typedAt || 0) < 3000) return;
    c.typedAt = on ? now : 0;
    c.channel.broadcast('typing', { typing: on });
  }

  /** Forgets a conversation that is no longer on screen (keeps memory small). */
  leaveConv(id) {
    const c = this.convs.get(id);
    if (!c) return;
    this.closeConvChannel(c);
    if (![...c.pending.values()].length) this.convs.delete(id);
  }
}
