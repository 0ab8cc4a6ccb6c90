// Which tab holds an account's calls socket: the server allows one socket per device, and all
// tabs of a browser are one device. The holder of a Web Lock per account is the leader; a tab
// the user returns to may steal it, unless the leader is in a call (it keeps a fresh
// "callBusy" mark in localStorage while it is).
import * as store from './store.js';

const BUSY_FRESH_MS = 12000;

export class TabLeadership {
  /** hooks: onLead() when this tab becomes the leader, onLost() when another tab took over. */
  constructor(userId, hooks) {
    this.userId = userId;
    this.hooks = hooks;
    this.lockName = 'eco-calls-' + userId;
    this.leader = false;
    this.destroyed = false;
  }

  /** Waits for the lock (or takes it from its holder with steal) and leads while holding it. */
  follow(steal = false) {
    if (this.destroyed) return;
    if (!navigator.locks?.request) { this.lead(); return; }
    this.lockAbort?.abort();
    const abort = new AbortController();
    this.lockAbort = abort;
    navigator.locks.request(this.lockName, steal ? { steal: true } : { signal: abort.signal }, () => new Promise(release => {
      this.release = release;
      this.lead();
    })).catch(() => {
      // Stolen by another tab, or our wait was cancelled for a steal.
      if (this.lockAbort !== abort || this.destroyed) return;
      this.resign();
      this.hooks.onLost();
      this.follow();
    });
  }

  lead() {
    if (this.destroyed) return;
    this.leader = true;
    this.hooks.onLead();
  }

  resign() {
    this.leader = false;
    this.release?.();
    this.release = null;
    clearInterval(this.busyTimer);
  }

  destroy() {
    this.destroyed = true;
    this.lockAbort?.abort();
    this.resign();
  }

  /** Whether a tab of this account is in a call (its mark is fresh). */
  busyElsewhere() {
    return Date.now() - store.userGet(this.userId, 'callBusy', 0) < BUSY_FRESH_MS;
  }

  /** Marks this tab as in a call (refreshed every 4 s) or not. */
  markBusy(on) {
    clearInterval(this.busyTimer);
    if (!on) { store.userSet(this.userId, 'callBusy', null); return; }
    store.userSet(this.userId, 'callBusy', Date.now());
    this.busyTimer = setInterval(() => store.userSet(this.userId, 'callBusy', Date.now()), 4000);
  }
}
