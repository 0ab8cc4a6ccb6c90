// Server-sent events over fetch(): a line parser that takes text in arbitrary pieces (a line,
// even a "\r\n", may be split between two network chunks), skips ':' comment lines (keep-alives)
// and hands each event's data (its data: lines joined by "\n") to onData at the blank line
// that ends the event. readEvents() drives it from a Response body with a TextDecoder in
// streaming mode, so a multi-byte UTF-8 character split between chunks stays whole.

export function sseParser(onData, onComment) {
  let buf = '';
  let data = null;
  const line = l => {
    if (l === '') {
      if (data !== null) { const d = data.join('\n'); data = null; onData(d); }
      return;
    }
    if (l[0] === ':') { onComment?.(l.slice(1).trim()); return; }
    const i = l.indexOf(':');
    const name = i < 0 ? l : l.slice(0, i);
    let value = i < 0 ? '' : l.slice(i + 1);
    if (value[0] === ' ') value = value.slice(1);
    if (name === 'data') (data ||= []).push(value);
    // event:, id:, retry: are not used by this protocol.
  };
  return {
    push(text) {
      buf += text;
      let start = 0;
      for (let i = 0; i < buf.length; i++) {
        const c = buf[i];
        if (c !== '\n' && c !== '\r') continue;
        if (c === '\r' && i === buf.length - 1) break; // maybe the first half of "\r\n": wait for more
        line(buf.slice(start, i));
        if (c === '\r' && buf[i + 1] === '\n') i++;
        start = i + 1;
      }
      buf = buf.slice(start);
    },
    /** End of stream: a last line without its newline still counts, and so does its event. */
    end() {
      if (buf) { line(buf.replace(/\r$/, '')); buf = ''; }
      line('');
    },
  };
}

/**
 * Reads a text/event-stream Response, calling onData(data) per event until onData returns
 * false (e.g. at "[DONE]") or the stream ends. onChunk() is called for every network chunk
 * (keep-alives included), e.g. to reset an idle timer. Resolves true when stopped by onData.
 */
export async function readEvents(res, onData, onChunk) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let stopped = false;
  const parser = sseParser(d => { if (!stopped && onData(d) === false) stopped = true; });
  try {
    while (!stopped) {
      const { value, done } = await reader.read();
      if (done) break;
      onChunk?.();
      parser.push(decoder.decode(value, { stream: true }));
    }
    if (!stopped) { parser.push(decoder.decode()); parser.end(); }
  } finally {
    if (stopped) reader.cancel().catch(() => {});
    else reader.releaseLock?.();
  }
  return stopped;
}
