// Puts the call screens on the page whenever the session's calls have something to show — the
// calls controller only emits 'call' events — and takes them down when the session's calls end
// (sign-out, account switch): the 1:1 screen (views/call.js) for a call or a ringing invite,
// the group call screen (views/group-call.js) for a group call. Each is loaded when first
// needed. The shell calls mountCalls(session) once; more calls for the same session do nothing.
const watched = new WeakSet();

export function mountCalls(s) {
  if (watched.has(s)) return;
  watched.add(s);
  let closeUI = null;
  let loading = false;
  let closeGroup = null;
  let groupLoading = false;
  const show = () => {
    const calls = s.calls;
    if (calls.destroyed) { closeUI?.(); closeGroup?.(); return; }
    if (calls.group && !groupLoading && !closeGroup) {
      groupLoading = true;
      import('./group-call.js').then(m => m.mountGroupCallUI(s, calls, () => { closeGroup = null; show(); })).then(close => {
        groupLoading = false;
        closeGroup = close;
        if (calls.destroyed) closeGroup?.();
      }).catch(e => { groupLoading = false; console.error(e); });
    }
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
