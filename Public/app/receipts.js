// Delivery and read receipts from the server's cursors, so ticks are the same on every device
// and after signing in again: the other members' `delivered_up_to_seq` / `read_up_to_seq`
// come with the inbox and with their participants UPDATEs; this device acks delivery of what
// it receives (`ack_delivered_v1`), the conversation view acks reading.
import { debounce } from './util.js';

export class Receipts {
  /** `session` gives rpc(), item(id), userId and emit(). */
  constructor(session) {
    this.s = session;
    this.cursors = new Map(); // conversation id → Map(user id → { read, delivered })
    this.acks = new Map(); // conversation id → { want, sent }
    this.flush = debounce(() => this.sendAcks(), 300);
  }

  /** Takes the other members' cursors and acks delivery of what the page brought. */
  fromInbox(items) {
    for (const it of items) {
      for (const p of it.participants || []) this.set(it.conversation_id, p.id, p.read_up_to_seq, p.delivered_up_to_seq);
      if ((it.last_seq || 0) > (it.delivered_up_to_seq || 0)) this.arrived(it.conversation_id, it.last_seq);
    }
  }

  /** A participants UPDATE of another member (realtime). */
  update(convId, p) {
    if (this.set(convId, p.user_id, p.read_up_to_seq, p.delivered_up_to_seq)) this.s.emit('conv:' + convId, { type: 'reads' });
  }

  set(convId, userId, read = 0, delivered = 0) {
    let conv = this.cursors.get(convId);
    if (!conv) this.cursors.set(convId, conv = new Map());
    const was = conv.get(userId) || { read: 0, delivered: 0 };
    const now = { read: Math.max(was.read, read || 0), delivered: Math.max(was.delivered, delivered || 0, read || 0) };
    if (now.read === was.read && now.delivered === was.delivered && conv.has(userId)) return false;
    conv.set(userId, now);
    return true;
  }

  /** A message of another member reached this device: ack delivery (batched per conversation). */
  arrived(convId, seq) {
    const a = this.acks.get(convId) || { want: 0, sent: 0 };
    if (seq <= a.want) return;
    a.want = seq;
    this.acks.set(convId, a);
    this.flush();
  }

  async sendAcks() {
    for (const [convId, a] of this.acks) {
      if (a.want <= a.sent) continue;
      const upTo = a.want;
      a.sent = upTo;
      try {
        await this.s.rpc('ack_delivered_v1', { conversation_id: convId, up_to_seq: upTo });
      } catch { a.sent = 0; /* sent again with the next message or inbox load */ }
    }
  }

  /**
   * The state of an own message: 'failed', 'sending', 'sent', 'delivered' (every other
   * member's device has it) or 'read' (every other member read it); `readers` of `members`.
   */
  status(convId, m) {
    if (m.state === 'failed') return { state: 'failed' };
    if (!m.seq) return { state: 'sending' };
    const others = (this.s.item(convId)?.participants || []).filter(p => p.id !== this.s.userId);
    const conv = this.cursors.get(convId);
    let readers = 0;
    let delivered = 0;
    for (const p of others) {
      const c = conv?.get(p.id);
      if (!c) continue;
      if (c.read >= m.seq) readers++;
      if (c.delivered >= m.seq) delivered++;
    }
    const members = others.length;
    const state = members && readers === members ? 'read' : members && delivered === members ? 'delivered' : 'sent';
    return { state, readers, members };
  }
}
