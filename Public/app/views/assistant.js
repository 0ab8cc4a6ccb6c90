// #/insurance/assistant: the insurance assistant chat. POST insurance-assistant answers as
// server-sent events (OpenAI chat-completion chunks, then "data: [DONE]"); the answer is shown
// as it arrives, Stop keeps what came so far, errors offer a retry, 429 shows the wait.
// The conversation is kept in this tab's memory, per account.
import { h, clear, icon, focus, countdown } from '../util.js';
import { t } from '../i18n.js';
import { errorText } from './common.js';
import { readEvents } from '../sse.js';
import { ApiError } from '../api.js';
import { sectionHead, insuranceAssets } from './insurance.js';
import { calcParam, CALC_ROUTE } from './osago-card.js';

const PATH = '/functions/v1/insurance-assistant';
const LIMITS = { turns: 40, chars: 4000, total: 16000 };
const IDLE_MS = 45000; // no byte (not even a keep-alive) for this long: the answer is given up
const SUGGESTIONS = ['suggestPremium', 'suggestAccident', 'suggestDocuments', 'suggestKbm'];

const chats = new Map(); // userId → { messages: [{role, content, state, error, engine}], until }

function chatOf(userId) {
  if (!chats.has(userId)) chats.set(userId, { messages: [], until: 0 });
  return chats.get(userId);
}

/** What is sent: user/assistant turns with text, oldest dropped to fit the server's limits. */
export function payload(messages) {
  let list = messages
    .filter(m => (m.role === 'user' || m.role === 'assistant') && m.content && !['streaming', 'error', 'limited'].includes(m.state))
    .map(m => ({ role: m.role, content: m.content.slice(0, LIMITS.chars) }));
  const total = () => list.reduce((n, m) => n + m.content.length, 0);
  while (list.length > 1 && (list.length > LIMITS.turns || total() > LIMITS.total)) list.shift();
  while (list.length > 1 && list[0].role !== 'user') list.shift();
  return list;
}

const MONEY = /\d[\d\s\u00a0\u202f]*(?:[,.]\d{1,2})?\s?₽/;
const PRICE_LINE = /^\s*(?:\*\*)?\s*(?:стоимость|цена|итого|премия|price|cost)/i;
const URL_RE = /https?:\/\/[^\s<>«»"']+[^\s<>«»"'.,;:!?)]/g;

/** Text with its http(s) URLs as links (new tab, no opener); nothing else becomes markup. */
function linkified(text) {
  const out = [];
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    out.push(h('a', { href: m[0], target: '_blank', rel: 'noopener noreferrer', testid: 'assistant-link', text: m[0] }));
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/**
 * A finished answer laid out: the line with the price first and in bold, the calculator
 * link taken out (it becomes a button), URLs clickable. Returns {nodes, calc}.
 */
export function formatAnswer(content) {
  let calc = null;
  const lines = [];
  for (const line of String(content).split('\n')) {
    const c = line.includes(CALC_ROUTE) ? calcParam(line) : null;
    if (c) calc = c;
    else lines.push(line);
  }
  // The price line: one that says what the policy costs, else a first line with an amount
  // (amounts inside a reference article stay where they are).
  let at = lines.findIndex(l => PRICE_LINE.test(l) && MONEY.test(l));
  if (at < 0 && MONEY.test(lines[0] || '')) at = 0;
  const nodes = [];
  if (at >= 0) {
    nodes.push(h('strong', { class: 'price-line', testid: 'assistant-price' }, linkified(lines[at])));
    lines.splice(at, 1);
  }
  nodes.push(...linkified(lines.join('\n').replace(/^\n+|\n+$/g, '')));
  return { nodes, calc };
}

export function assistantView(main, s) {
  main.className = 'fixed';
  const chat = chatOf(s.userId);
  let closed = false;
  let run = null; // the answer being streamed: { msg, ctl, reason }
  let tick = null;

  const log = h('div', { class: 'chat-log', testid: 'assistant-log', role: 'log', 'aria-live': 'polite', 'aria-label': t('assistantLog') });
  const scroller = h('div', { class: 'chat-scroll', tabindex: '0', role: 'region', 'aria-label': t('assistantLog') }, log);
  const input = h('textarea', {
    class: 'chat-input', id: 'assistant-input', testid: 'assistant-input', rows: 1, maxlength: LIMITS.chars,
    placeholder: t('assistantPlaceholder'), 'aria-label': t('assistantInputLabel'), autocomplete: 'off',
  });
  const sendBtn = h('button', { class: 'icon-btn send', type: 'submit', testid: 'assistant-send', 'aria-label': t('send') }, icon('send'));
  const stopBtn = h('button', { class: 'btn btn-small stop', type: 'button', testid: 'assistant-stop', hidden: true, onClick: () => stop() }, icon('stop'), t('stopAnswer'));
  const form = h('form', { class: 'chat-form' }, input, sendBtn);
  const limitNote = h('div', { class: 'chat-status', testid: 'assistant-rate-limit', role: 'status', hidden: true });
  const clearBtn = h('button', { class: 'btn btn-small new-chat', type: 'button', testid: 'assistant-clear', title: t('newChat'), onClick: () => reset() },
    icon('plus'), h('span', { class: 'btn-label', text: t('newChat') }));
  const composer = h('div', { class: 'composer chat-composer' }, limitNote, h('div', { class: 'stop-row' }, stopBtn), form,
    h('p', { class: 'hint disclaimer', text: t('assistantDisclaimer') }));

  clear(main, h('div', { class: 'assistant-page' },
    h('div', { class: 'assistant-top' }, sectionHead('assistant', t('assistantTitle'), clearBtn)),
    scroller, composer));

  // ---------------------------------------------------------------- rendering

  const els = new WeakMap(); // message → its elements

  function bubble(m) {
    const body = h('div', { class: 'text', testid: 'assistant-message-body' });
    const extra = h('div', { class: 'extra' });
    const box = h('div', { class: 'bubble' }, h('span', { class: 'sr-only', text: m.role === 'user' ? t('you') + ': ' : t('assistantName') + ': ' }), body);
    const el = h('div', { class: 'msg chat-msg ' + (m.role === 'user' ? 'own' : 'bot'), testid: 'assistant-message', 'data-role': m.role },
      h('div', { class: 'stack' }, box, extra));
    const p = { el, body, extra, box };
    els.set(m, p);
    fill(m);
    return el;
  }

  function fill(m) {
    const p = els.get(m);
    if (!p) return;
    p.el.dataset.state = m.state || 'done';
    if (m.state === 'streaming') p.el.setAttribute('aria-busy', 'true');
    else p.el.removeAttribute('aria-busy');
    if (m.role === 'assistant' && m.state === 'streaming' && !m.content) {
      clear(p.body, h('span', { class: 'typing-dots', testid: 'assistant-thinking', role: 'img', 'aria-label': t('assistantThinking') },
        h('span'), h('span'), h('span')));
    } else if (m.state === 'streaming') {
      if (p.body.textContent !== m.content || p.body.firstElementChild) p.body.textContent = m.content;
      p.shown = null;
    } else if (p.shown !== m.content) {
      p.shown = m.content;
      if (m.role === 'assistant') {
        const f = formatAnswer(m.content);
        clear(p.body, f.nodes);
        p.calc = f.calc;
      } else {
        p.body.textContent = m.content;
      }
    }
    p.box.hidden = !m.content && m.state !== 'streaming' && m.state !== 'stopped';
    const extra = [];
    if (m.state === 'stopped') extra.push(h('span', { class: 'muted note-line', testid: 'assistant-stopped', text: t('answerStopped') }));
    if (m.state === 'error') {
      extra.push(h('div', { class: 'chat-error', testid: 'assistant-error', role: 'alert' },
        h('span', { text: m.error }),
        h('button', { class: 'btn btn-small', type: 'button', testid: 'assistant-retry', onClick: () => retry(m) }, t('retry'))));
    }
    if (m.state === 'limited') {
      extra.push(h('div', { class: 'chat-error', testid: 'assistant-error', 'data-kind': 'rate-limit' },
        h('span', { text: t('assistantRateLimitedShort') }),
        h('button', { class: 'btn btn-small', type: 'button', testid: 'assistant-retry', 'data-wait': '', onClick: () => retry(m) })));
    }
    if (m.role === 'assistant' && p.calc && m.state !== 'streaming') {
      const calc = p.calc;
      extra.push(h('button', {
        class: 'btn btn-small btn-primary open-calc', type: 'button', testid: 'assistant-open-calc',
        onClick: () => { location.hash = CALC_ROUTE + calc; },
      }, t('assistantOpenCalc')));
    }
    if (m.role === 'assistant' && m.engine && (m.state || 'done') === 'done') {
      extra.push(h('span', { class: 'muted note-line', testid: 'assistant-engine', 'data-engine': m.engine, text: t('engine_' + m.engine) !== 'engine_' + m.engine ? t('engine_' + m.engine) : m.engine }));
    }
    const sig = JSON.stringify([m.state, m.error, m.engine, p.calc || null, t('assistantOpenCalc')]);
    if (p.extra.dataset.sig !== sig) { p.extra.dataset.sig = sig; clear(p.extra, extra); }
    // The rate-limit wait counts down on the same button (focus stays where it is).
    const wait = p.extra.querySelector('[data-wait]');
    if (wait) {
      const left = Math.max(0, Math.ceil((chat.until - Date.now()) / 1000));
      wait.disabled = left > 0;
      wait.textContent = left > 0 ? t('retryIn', { time: countdown(left) }) : t('retry');
    }
  }

  function emptyView() {
    return h('div', { class: 'empty chat-empty', testid: 'assistant-empty' },
      h('span', { class: 'empty-icon', 'aria-hidden': 'true' }, icon('shield')),
      h('p', { class: 'empty-title', text: t('assistantEmptyTitle') }),
      h('p', { text: t('assistantEmptyLead') }),
      h('div', { class: 'suggestions', role: 'group', 'aria-label': t('suggestedQuestions') },
        SUGGESTIONS.map(k => h('button', {
          class: 'suggestion', type: 'button', testid: 'assistant-suggestion', 'data-key': k, lang: 'ru', // the built-in assistant speaks Russian
          onClick: () => send(t(k)),
        }, t(k)))));
  }

  function renderAll() {
    paintControls();
    if (!chat.messages.length) {
      clear(log, emptyView());
      scroller.scrollTop = 0;
      stick = false; // the suggestions are read from the top
    } else {
      clear(log, chat.messages.map(bubble));
      toBottom();
    }
  }

  function append(m) {
    if (log.querySelector('[data-testid="assistant-empty"]')) clear(log);
    log.append(bubble(m));
    toBottom();
  }

  const nearBottom = () => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  function toBottom() { scroller.scrollTop = scroller.scrollHeight; stick = true; }
  // Follow the end of the conversation while the reader is there (text streaming in, a
  // resized window, late layout); scrolling up stops following until they come back down.
  let stick = true;
  scroller.addEventListener('scroll', () => { stick = nearBottom(); }, { passive: true });
  const follow = new ResizeObserver(() => { if (stick) scroller.scrollTop = scroller.scrollHeight; });
  follow.observe(log);
  follow.observe(scroller);

  function paintControls() {
    const busy = !!run;
    const limited = chat.until > Date.now();
    stopBtn.hidden = !busy;
    sendBtn.disabled = busy || limited;
    clearBtn.disabled = !chat.messages.length && !busy;
    limitNote.hidden = !limited;
    if (limited) limitNote.textContent = t('assistantRateLimited', { time: countdown((chat.until - Date.now()) / 1000) });
    main.querySelector('.assistant-page').dataset.state = busy ? 'streaming' : limited ? 'limited' : 'idle';
  }

  function startTicking() {
    if (tick) return;
    tick = setInterval(() => {
      const limitedMsg = chat.messages.filter(m => m.state === 'limited');
      limitedMsg.forEach(fill);
      paintControls();
      if (chat.until <= Date.now()) { clearInterval(tick); tick = null; limitedMsg.forEach(fill); paintControls(); }
    }, 1000);
  }

  // ---------------------------------------------------------------- sending and streaming

  function send(text) {
    const q = text.trim();
    if (!q || run || chat.until > Date.now()) return;
    const m = { role: 'user', content: q.slice(0, LIMITS.chars), state: 'done' };
    chat.messages.push(m);
    append(m);
    ask();
  }

  function retry(failed) {
    if (run || chat.until > Date.now()) return;
    const i = chat.messages.indexOf(failed);
    if (i >= 0) chat.messages.splice(i, 1);
    els.get(failed)?.el.remove();
    ask();
  }

  async function ask() {
    const history = payload(chat.messages);
    if (!history.length || history[history.length - 1].role !== 'user') return;
    const msg = { role: 'assistant', content: '', state: 'streaming' };
    chat.messages.push(msg);
    append(msg);
    const ctl = new AbortController();
    const current = { msg, ctl, reason: null };
    run = current;
    paintControls();
    let idle = null;
    const alive = () => {
      clearTimeout(idle);
      idle = setTimeout(() => { current.reason = 'idle'; ctl.abort(); }, IDLE_MS);
    };
    let painted = 0;
    const paint = () => {
      if (painted) return;
      painted = requestAnimationFrame(() => {
        painted = 0;
        fill(msg);
      });
    };
    let done = false;
    let finish = null;
    let failure = null;
    try {
      alive();
      const res = await s.api.stream(PATH, { messages: history }, ctl.signal);
      msg.engine = res.headers.get('X-Assistant-Engine') || null;
      alive();
      await readEvents(res, data => {
        if (data === '[DONE]') { done = true; return false; }
        let frame;
        try { frame = JSON.parse(data); } catch { return true; } // not JSON: skipped
        if (frame.error) {
          const err = typeof frame.error === 'object' ? frame.error : { message: String(frame.error) };
          failure = { stream: true, code: err.code || 'stream_error', message: err.message || '' };
          return true; // the server follows with [DONE]
        }
        const choice = frame.choices?.[0];
        const piece = choice?.delta?.content;
        if (piece) { msg.content += piece; paint(); }
        if (choice?.finish_reason) finish = choice.finish_reason;
        return true;
      }, alive);
      res.release?.();
      if (failure) throw failure;
      if (!done && !finish) throw { code: 'interrupted' };
      msg.state = 'done';
    } catch (e) {
      if (current.reason === 'stop' || current.reason === 'leave') {
        msg.state = 'stopped';
      } else if (e?.status === 429) {
        chat.until = Date.now() + (e.retryAfter > 0 ? e.retryAfter : 60) * 1000;
        msg.state = 'limited';
        startTicking();
      } else {
        if (e?.stream) console.warn('insurance-assistant: error in the stream', e);
        else if (!(e instanceof ApiError) && !e?.code) console.error(e); // a bug, not a refusal: keep it visible
        msg.state = 'error';
        msg.error = failureText(current.reason === 'idle' ? { code: 'idle' } : e);
      }
    } finally {
      clearTimeout(idle);
      cancelAnimationFrame(painted);
      if (run === current) run = null;
    }
    if (closed) return;
    fill(msg);
    paintControls();
    if (msg.state === 'error' || msg.state === 'limited') focus(els.get(msg)?.extra.querySelector('button:not([disabled])') || input);
    else if (document.activeElement === stopBtn || document.activeElement === document.body) focus(input);
  }

  function failureText(e) {
    if (e?.code === 'idle') return t('assistantErrIdle');
    if (e?.code === 'interrupted') return t('assistantErrInterrupted');
    if (e?.stream) return e.code === 'provider_error' ? t('assistantErrProvider') : t('assistantErrStream', { msg: e.message || e.code });
    if (e?.status === 400) return t('assistantErrInvalid');
    if (e?.status === 401 || e?.status === 403) return t('assistantErrAuth');
    if (e?.status >= 400 && e.status < 500 && e.status !== 429 && e.message) return t('assistantErrStream', { msg: e.message });
    return errorText(e);
  }

  function stop() {
    if (!run) return;
    run.reason = 'stop';
    run.ctl.abort();
  }

  function reset() {
    if (run) { run.reason = 'stop'; run.ctl.abort(); run = null; }
    chat.messages = [];
    renderAll();
    focus(input);
  }

  form.addEventListener('submit', e => {
    e.preventDefault();
    const text = input.value;
    if (!text.trim() || run || chat.until > Date.now()) return;
    input.value = '';
    autosize();
    send(text);
    focus(input);
  });
  input.addEventListener('keydown', e => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
    else if (e.key === 'Escape' && run) { e.preventDefault(); stop(); }
  });
  function autosize() {
    input.style.height = 'auto';
    input.style.height = Math.min(input.scrollHeight + 2, 160) + 'px';
  }
  input.addEventListener('input', autosize);

  // A stream left running from an earlier visit was stopped on leaving (its text is kept).
  for (const m of chat.messages) if (m.state === 'streaming') m.state = 'stopped';
  renderAll();
  // The section's strings (the calculator button) and styles; answers are laid out again once in.
  insuranceAssets().then(() => { if (!closed) chat.messages.forEach(fill); }).catch(() => {});
  if (chat.until > Date.now()) startTicking();

  return {
    cleanup() {
      closed = true;
      clearInterval(tick);
      follow.disconnect();
      if (run) { run.reason = 'leave'; run.ctl.abort(); run.msg.state = 'stopped'; run = null; }
    },
  };
}
