// Call events in a conversation (messages of kind `call`, written by the server when a 1:1
// call ends): a centred system row «Пропущенный звонок» / «Отклонённый звонок» /
// «Отменённый звонок» / «Аудиозвонок · 3:25» (video variants) with the time and
// «Перезвонить». Not editable; their menu only hides them.
import { h, clear, icon, clockTime, fullTime } from '../util.js';
import { t } from '../i18n.js';

const OUTCOMES = new Set(['missed', 'declined', 'cancelled', 'ended']);

/** «3:25» or «1:02:03». */
export function callDuration(sec) {
  const s = Math.max(0, Math.round(Number(sec) || 0));
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  const two = n => String(n).padStart(2, '0');
  return hh ? `${hh}:${two(mm)}:${two(ss)}` : `${mm}:${two(ss)}`;
}

/** The words of a call event: «Пропущенный видеозвонок», «Аудиозвонок · 3:25», «Звонок». */
export function callText(m) {
  const c = m?.call;
  if (!c || !OUTCOMES.has(c.outcome)) return t('kind_call');
  const base = t('call_' + c.outcome + (c.video ? '_video' : ''));
  return c.outcome === 'ended' && c.duration_s != null ? `${base} · ${callDuration(c.duration_s)}` : base;
}

/**
 * Fills a call event row: `other()` is the DM's other person (null in a group), `dial(kind)`
 * starts a call back, `busy()` says whether a call is already on.
 */
export function fillCallEvent(row, m, { me, other, dial, busy }) {
  const c = m.call || {};
  const text = callText(m);
  const outgoing = c.caller_id ? c.caller_id === me : m.sender_id === me;
  const sig = JSON.stringify([text, outgoing, m.created_at, !!other()]);
  row.className = 'msg call-event' + (c.outcome === 'missed' && !outgoing ? ' missed' : '');
  row.dataset.callOutcome = c.outcome || '';
  if (row.dataset.sig === sig) {
    const btn = row.querySelector('[data-testid="call-back"]');
    if (btn) btn.disabled = busy();
    return;
  }
  row.dataset.sig = sig;
  const kind = c.video ? 'video' : 'audio';
  clear(row, h('div', { class: 'call-card', testid: 'call-event' },
    icon(c.video ? 'video' : 'phone'),
    h('span', { class: 'sr-only', text: (outgoing ? t('callOutgoing') : t('callIncoming')) + ': ' }),
    h('span', { class: 'call-text', testid: 'call-event-text', text }),
    h('time', { dateTime: m.created_at, title: fullTime(m.created_at), text: clockTime(m.created_at) }),
    other() && h('button', {
      class: 'btn btn-small', type: 'button', testid: 'call-back', 'data-call-type': kind, disabled: busy(),
      onClick: () => dial(kind),
    }, c.video ? t('callBackVideo') : t('callBack'))));
}
