// What the console reads from GET /admin/v1/requests rows: which ones wait for this admin,
// and what each one asks for, in words.
import { t } from '../i18n.js';

export const STATUSES = ['pending', 'approved', 'denied', 'consumed', 'expired'];

/** Rows this admin can act on: decide others' pending ones (not about themselves), execute own approved ones. */
export function requestBuckets(list, myId, canDecide) {
  const decidedByMe = r => (r.decisions || []).some(d => d.approver === myId);
  return {
    toDecide: canDecide ? list.filter(r => r.status === 'pending' && r.requester !== myId && r.user_id !== myId && !decidedByMe(r)) : [],
    minePending: list.filter(r => r.status === 'pending' && r.requester === myId),
    toExecute: list.filter(r => r.status === 'approved' && r.requester === myId),
  };
}

export const isJIT = r => r.minutes != null || String(r.operation || '').startsWith('jit:');

/** «Роль owner для …» / «JIT security_admin на 30 мин»: the request's subject, without the person. */
export function describe(r) {
  const role = t('role_' + r.role);
  return isJIT(r) ? t('requestJit', { role, n: r.minutes, minutes: r.minutes }) : t('requestGrant', { role });
}
