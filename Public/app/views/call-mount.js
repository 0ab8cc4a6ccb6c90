// Puts the call screen (views/call.js, loaded when first needed) on the page whenever the
// session's calls have a call to show — the calls controller only emits 'call' events — and
// takes it down when the session's calls end (sign-out, account switch). The shell calls
// mountCalls(session) once; more calls for the same session do nothing.
const watched = new WeakSet();

export function mountCalls(s) {
  if (watched.has(s)) return;
  watched.add(s);
  let closeUI = null;
  let loading = false;
  const show = () => {
    const calls = s.calls;
    if (calls.destroyed) { closeUI?.(); return; }
    if (!calls.current() || loading || closeUI) return;
    loading = true;
    import('./call.js').then(m => {
      loading = false;
      if (!calls.destroyed) closeUI = m.mountCallUI(s, calls, () => { closeUI = null; });
    }).catch(e => { loading = false; console.error(e); });
  };
  s.on('call', show);
  show();
}
