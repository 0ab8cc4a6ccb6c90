// HTTP client for the auth (GoTrue) and RPC (PostgREST) surfaces: the requests and errors
// the sign-in screens need. A signed-in account's client (token refresh, streams) is Api in
// account-api.js, loaded with the first session.

export class ApiError extends Error {
  constructor(o) {
    super(o.message || o.code || 'error');
    Object.assign(this, o);
  }
}

let cfg = { base: location.origin, anonKey: '' };
export function configure(c) {
  cfg = { ...cfg, ...c };
}
export const config = () => cfg;

/** One JSON request; resolves with the parsed answer, throws an ApiError for a failure. */
export async function request(path, { method = 'POST', body, token, signal } = {}) {
  const headers = { apikey: cfg.anonKey };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = 'Bearer ' + token;
  // A request that hangs (dead connection) fails after 20 s like a network error.
  const limit = AbortSignal.timeout ? AbortSignal.timeout(20000) : null;
  const signals = [signal, limit].filter(Boolean);
  const combined = signals.length > 1 && AbortSignal.any ? AbortSignal.any(signals) : signals[0];
  let res;
  try {
    res = await fetch(cfg.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: combined, cache: 'no-store' });
  } catch (e) {
    if (e.name === 'AbortError' && !limit?.aborted) throw e;
    throw new ApiError({ status: 0, code: 'network', message: e.message, network: true });
  }
  const text = await res.text();
  let data = null;
  if (text) try { data = JSON.parse(text); } catch { data = null; }
  if (!res.ok) throw httpError(res, data);
  return data;
}

/** An ApiError from a failed response and its parsed JSON body (PostgREST, GoTrue or functions shape). */
export function httpError(res, data) {
  const fnError = typeof data?.error === 'string' ? data.error : data?.error?.message;
  return new ApiError({
    status: res.status,
    code: data?.code || (typeof data?.error === 'string' ? data.error : data?.error?.code) || 'http_' + res.status,
    message: data?.message || data?.error_description || fnError || res.statusText,
    details: data?.details, hint: data?.hint,
    field: data?.field, // functions (e.g. osago-quote): the request field that was refused
    retryAfter: Number(res.headers.get('Retry-After')) || 0,
  });
}

// Sign-in (no account yet)
export const requestCode = phone => request('/auth/v1/otp', { body: { phone, create_user: true } });
export const verifyCode = (phone, token) => request('/auth/v1/verify', { body: { phone, token, type: 'sms' } });

/** Logs a stored session out on the server (best effort; the account is removed anyway). */
export async function logoutSession(session, scope = 'local') {
  try {
    await request('/auth/v1/logout?scope=' + scope, { token: session.access_token });
  } catch { /* an expired token or no network: the refresh token is dropped locally */ }
}
