// A WebSocket that stays connected, shared by the realtime client (realtime.js, Phoenix
// channels) and the calls signalling (calls-signal.js). It connects, reconnects after a drop
// with a capped backoff with jitter, sends heartbeats and treats a connection whose heartbeat
// goes unanswered as dead, reconnects at once when the browser comes back online or the tab
// becomes visible, and reports its state: 'connecting' | 'open' | 'down' (no connection;
// waiting to retry, or parked) | 'closed' (stopped). The protocol on top plugs in by hooks:
// its hello, its frames, its heartbeat frame, what a close code means, token refreshes.

const DEFAULTS = {
  backoff: [500, 1000, 2000, 5000, 10000, 20000, 30000], // ms per attempt; the last one is the cap
  heartbeatMs: 25000, // a number, or a function (the protocol may learn it from the server)
  missedBeatMs: 10000, // a heartbeat unanswered this long: the connection is dead
  idleBeats: false, // true: no heartbeat while other frames were sent within heartbeatMs
  autoHeartbeat: true, // false: the protocol calls startHeartbeat() itself (after its hello)
  openResetsBackoff: true, // false: the protocol calls connected() once its hello succeeded
};

export class ReconnectingSocket {
  /**
   * url: the WebSocket URL. hooks (all optional):
   * - onOpen(ws): the connection opened (say hello, join channels);
   * - onMessage(data): a frame arrived on the current connection;
   * - onDown(ws): the connection is gone (fail what waited for it), before the state 'down';
   * - onClose(code): it closed by itself (not by stop()/drop()); return nothing to retry with
   *   backoff, 'park' to stay down until reconnectNow() (e.g. "replaced": do not retry), 'slow'
   *   to retry at the longest backoff, or a Promise to retry once it settles (token refresh);
   * - onState(state): the state changed;
   * - heartbeat(): send one heartbeat frame, returning a Promise settled by its answer;
   * - onToken(token): a fresh access token arrived (setToken).
   * opts: see DEFAULTS.
   */
  constructor(url, hooks = {}, opts = {}) {
    this.url = url;
    this.hooks = hooks;
    this.opts = { ...DEFAULTS, ...opts };
    this.ws = null;
    this.state = 'closed';
    this.attempt = 0;
    this.parked = false;
    this.lastSentAt = 0;
    this.beatAt = 0; // when the unanswered heartbeat was sent (0: none outstanding)
    this.onOnline = () => this.wake(true);
    this.onOffline = () => this.checkBeat();
    this.onVisible = () => { if (document.visibilityState === 'visible') this.wake(false); };
  }

  isOpen() {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Connects, and keeps connecting until stop(). */
  start() {
    if (this.state !== 'closed') return;
    addEventListener('online', this.onOnline);
    addEventListener('offline', this.onOffline);
    document.addEventListener('visibilitychange', this.onVisible);
    this.parked = false;
    this.setState('down');
    this.open();
  }

  /** Closes the connection for good (until start() again). */
  stop(code = 1000, reason = 'bye') {
    if (this.state === 'closed') return;
    removeEventListener('online', this.onOnline);
    removeEventListener('offline', this.onOffline);
    document.removeEventListener('visibilitychange', this.onVisible);
    clearTimeout(this.retryTimer);
    const ws = this.ws;
    this.forget(ws);
    try { ws?.close(code, reason); } catch { /* ignore */ }
    this.parked = false;
    this.setState('closed');
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.hooks.onState?.(state);
  }

  /** A fresh access token: the protocol re-authenticates with it. */
  setToken(token) {
    this.hooks.onToken?.(token);
  }

  /** Sends a text frame; false when there is no open connection or the send failed. */
  send(text) {
    if (!this.isOpen()) return false;
    try {
      this.ws.send(text);
    } catch {
      return false;
    }
    this.lastSentAt = Date.now();
    return true;
  }

  open() {
    if (this.ws || this.state === 'closed' || this.parked) return;
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.retry();
      return;
    }
    this.ws = ws;
    this.setState('connecting');
    ws.onopen = () => {
      if (this.ws !== ws) return;
      if (this.opts.openResetsBackoff) this.attempt = 0;
      this.setState('open');
      if (this.opts.autoHeartbeat) this.startHeartbeat();
      this.hooks.onOpen?.(ws);
    };
    ws.onmessage = e => { if (this.ws === ws) this.hooks.onMessage?.(e.data); };
    ws.onclose = e => {
      if (this.ws !== ws) return;
      this.forget(ws);
      this.closed(e.code);
    };
    ws.onerror = () => {};
  }

  /** The protocol's hello succeeded (with openResetsBackoff: false): the backoff starts over. */
  connected() {
    this.attempt = 0;
  }

  /** Forgets a connection at once (a dead socket may take long to report its close). */
  forget(ws) {
    if (!ws || this.ws !== ws) return;
    ws.onopen = ws.onmessage = ws.onclose = null;
    this.ws = null;
    this.stopHeartbeat();
    try { this.hooks.onDown?.(ws); } catch (e) { console.error(e); }
    if (this.state !== 'closed') this.setState('down');
  }

  closed(code) {
    const verdict = this.hooks.onClose?.(code);
    if (verdict === 'park') { this.parked = true; return; }
    if (verdict === 'slow') this.attempt = Math.max(this.attempt, this.opts.backoff.length - 1);
    if (verdict && typeof verdict.then === 'function') {
      verdict.catch(() => {}).finally(() => this.retry());
      return;
    }
    this.retry();
  }

  /** Treats the current connection as dead (the protocol saw no answer) and reconnects. */
  drop(code = 4000, reason = 'dead') {
    const ws = this.ws;
    if (!ws) return;
    this.forget(ws);
    try { ws.close(code, reason); } catch { /* ignore */ }
    this.retry();
  }

  /** Connects after the backoff of this attempt: base × (0.75…1.25). */
  retry() {
    if (this.state === 'closed' || this.parked) return;
    clearTimeout(this.retryTimer);
    const { backoff } = this.opts;
    const base = backoff[Math.min(this.attempt++, backoff.length - 1)];
    this.retryTimer = setTimeout(() => this.open(), base * (0.75 + Math.random() * 0.5));
  }

  /** Connects now (also when parked): a connection that is not open yet is replaced. */
  reconnectNow() {
    if (this.state === 'closed') return;
    clearTimeout(this.retryTimer);
    this.parked = false;
    const ws = this.ws;
    if (ws && !this.isOpen()) {
      this.forget(ws);
      try { ws.close(4000, 'reconnect'); } catch { /* ignore */ }
    }
    this.open();
  }

  /**
   * Back online (online: a connection still opening may hang: replaced) or visible again:
   * connect now when down, else make sure the open connection still answers.
   */
  wake(online) {
    if (this.state === 'closed' || this.parked) return;
    if (this.isOpen()) { this.checkBeat(); return; }
    if (this.ws && !online) return;
    this.attempt = 0;
    this.reconnectNow();
  }

  // Heartbeat

  heartbeatMs() {
    const every = this.opts.heartbeatMs;
    return typeof every === 'function' ? every() : every;
  }

  startHeartbeat() {
    this.stopHeartbeat();
    const ws = this.ws;
    const every = this.heartbeatMs();
    this.hbTimer = setInterval(() => {
      if (this.ws !== ws) { this.stopHeartbeat(); return; }
      if (this.opts.idleBeats && Date.now() - this.lastSentAt < every) return;
      this.checkBeat();
    }, every);
  }

  stopHeartbeat() {
    clearInterval(this.hbTimer);
    clearTimeout(this.missTimer);
    this.hbTimer = 0;
    this.beatAt = 0;
  }

  /** Sends a heartbeat unless one is outstanding; one unanswered for missedBeatMs kills the connection. */
  checkBeat() {
    if (!this.isOpen() || !this.hbTimer || !this.hooks.heartbeat) return;
    if (this.beatAt) {
      if (Date.now() - this.beatAt >= this.opts.missedBeatMs) this.drop(4000, 'heartbeat');
      return;
    }
    const ws = this.ws;
    const at = Date.now();
    this.beatAt = at;
    clearTimeout(this.missTimer);
    this.missTimer = setTimeout(() => { if (this.ws === ws && this.beatAt === at) this.drop(4000, 'heartbeat'); }, this.opts.missedBeatMs);
    Promise.resolve()
      .then(() => this.hooks.heartbeat())
      .then(() => { if (this.ws === ws && this.beatAt === at) { this.beatAt = 0; clearTimeout(this.missTimer); } }, () => {});
  }
}
