// Storage for the web app (loaded only when a feature needs it): uploads with progress and
// abort (XMLHttpRequest: fetch has no upload progress), signed download URLs (batched and
// cached until shortly before they expire), object names, error texts, and the stylesheet
// and strings of the media features.
import { ApiError, config } from './api.js';
import { extend, t, getLang } from './i18n.js';
import { stylesheet } from './util.js';

const SIGN_SECONDS = 3600;
const SIGN_MARGIN = 300; // a cached URL is renewed when less than this many seconds are left

let assets;
/** Loads styles/media.css and the media strings once; resolves when both are in. */
export function ready() {
  assets ||= Promise.all([
    stylesheet(new URL('../styles/media.css', import.meta.url)),
    extend({ ru: () => import('./i18n/media.ru.js'), en: () => import('./i18n/media.en.js') }),
  ]);
  return assets;
}

/** `a/b c.txt` → `a/b%20c.txt`: each segment percent-encoded for a URL path. */
export const encodePath = path => path.split('/').map(encodeURIComponent).join('/');

/** A file name safe as the last segment of an object name: letters and digits of any script
 *  (NFC; «Отчёт за май.docx» stays readable for the other person), other runs as `_`, at most
 *  80 characters before an extension of at most 10; `file` when nothing is left. */
export function safeName(name) {
  const text = String(name || '').normalize('NFC');
  const dot = text.lastIndexOf('.');
  const clean = part => part.replace(/[^\p{L}\p{M}\p{N}._-]+/gu, '_').replace(/_+/g, '_');
  const ext = dot > 0 ? [...clean(text.slice(dot + 1)).replace(/[._]/g, '')].slice(0, 10).join('') : '';
  const stem = clean(dot > 0 ? text.slice(0, dot) : text).replace(/^[._-]+|[._-]+$/g, '');
  return ([...stem].slice(0, 80).join('') || 'file') + (ext ? '.' + ext : '');
}

/** The declared type of an upload: the file's type without parameters, or octet-stream. */
export const typeOf = file => (file.type || 'application/octet-stream').split(';')[0].trim().toLowerCase();

/** 1536 → "1.5 KB" in the current language. */
export function humanSize(bytes) {
  const units = ['byte', 'kilobyte', 'megabyte', 'gigabyte'];
  let n = Number(bytes) || 0;
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  try {
    return new Intl.NumberFormat(getLang(), { style: 'unit', unit: units[i], unitDisplay: 'short', maximumFractionDigits: i ? 1 : 0 }).format(n);
  } catch {
    return n.toFixed(i ? 1 : 0) + ' ' + ['B', 'KB', 'MB', 'GB'][i];
  }
}

/** m:ss */
export function clock(seconds) {
  const s = Math.max(0, Math.floor(Number.isFinite(seconds) ? seconds : 0));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** An ApiError from a storage answer `{"statusCode","error","message"}` (or anything else). */
function storageError(status, text, retryAfter = 0) {
  let data = null;
  try { data = JSON.parse(text); } catch { /* not JSON */ }
  const code = Number(data?.statusCode) || status;
  return new ApiError({ status: code, httpStatus: status, code: data?.error || 'http_' + status, message: data?.message || '', storage: true, retryAfter });
}

/**
 * Uploads `file` to `<bucket>/<path>` as a raw body. `onProgress(loaded, total)` follows the
 * bytes sent. Returns {promise, abort}; the promise resolves with the answer ({Key, Id}) and
 * rejects with an ApiError (network: true when the connection failed) or an AbortError.
 */
export function upload(api, bucket, path, file, { upsert = false, onProgress } = {}) {
  const xhr = new XMLHttpRequest();
  let aborted = false;
  const promise = (async () => {
    await api.ready();
    if (aborted) throw new DOMException('upload canceled', 'AbortError');
    return new Promise((resolve, reject) => {
      xhr.open('POST', `${config().base}/storage/v1/object/${bucket}/${encodePath(path)}`);
      xhr.setRequestHeader('Authorization', 'Bearer ' + api.token);
      xhr.setRequestHeader('apikey', config().anonKey);
      xhr.setRequestHeader('x-upsert', upsert ? 'true' : 'false');
      xhr.setRequestHeader('Content-Type', typeOf(file));
      xhr.upload.onprogress = e => onProgress?.(e.loaded, e.lengthComputable ? e.total : file.size);
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) {
          try { resolve(JSON.parse(xhr.responseText)); } catch { resolve({}); }
        } else {
          reject(storageError(xhr.status, xhr.responseText, Number(xhr.getResponseHeader('Retry-After')) || 0));
        }
      };
      xhr.onerror = () => reject(new ApiError({ status: 0, code: 'network', message: 'network error', network: true }));
      xhr.onabort = () => reject(new DOMException('upload canceled', 'AbortError'));
      xhr.send(file);
    });
  })();
  return { promise, abort: () => { aborted = true; xhr.abort(); } };
}

/** Deletes an own object (best effort: e.g. an upload whose message was discarded). */
export function removeObject(api, bucket, path) {
  return api.call(`/storage/v1/object/${bucket}/${encodePath(path)}`, { method: 'DELETE', body: {} }).catch(() => {});
}

// Signed URLs: one batch request per tick for every path asked for, cached per bucket/path.
const cache = new Map(); // 'bucket/path' → {url, exp} | {pending: Promise}
let queue = null; // {api, bucket, items: [{path, resolve, reject}]}

/** A signed URL (absolute) for reading `path` in `bucket`; cached until shortly before expiry. */
export function signedUrl(api, bucket, path) {
  const key = bucket + '/' + path;
  const hit = cache.get(key);
  const now = Date.now() / 1000;
  if (hit?.url && hit.exp - SIGN_MARGIN > now) return Promise.resolve(hit.url);
  if (hit?.pending) return hit.pending;
  const pending = new Promise((resolve, reject) => {
    if (!queue || queue.bucket !== bucket || queue.api !== api) {
      const q = queue = { api, bucket, items: [] };
      setTimeout(() => flush(q), 0);
    }
    queue.items.push({ path, resolve, reject });
  });
  cache.set(key, { pending });
  pending.catch(() => cache.delete(key));
  return pending;
}

/** Forgets a cached URL (after the element could not load it). */
export function forget(bucket, path) {
  cache.delete(bucket + '/' + path);
}

async function flush(q) {
  if (queue === q) queue = null;
  const exp = Date.now() / 1000 + SIGN_SECONDS;
  const absolute = rel => `${config().base}/storage/v1${rel}`;
  try {
    if (q.items.length === 1) {
      const { path, resolve } = q.items[0];
      const r = await q.api.call(`/storage/v1/object/sign/${q.bucket}/${encodePath(path)}`, { body: { expiresIn: SIGN_SECONDS } });
      const url = absolute(r.signedURL);
      cache.set(q.bucket + '/' + path, { url, exp });
      resolve(url);
      return;
    }
    const list = await q.api.call(`/storage/v1/object/sign/${q.bucket}`, { body: { expiresIn: SIGN_SECONDS, paths: q.items.map(i => i.path) } });
    const byPath = new Map((Array.isArray(list) ? list : []).map(r => [r.path, r]));
    for (const { path, resolve, reject } of q.items) {
      const r = byPath.get(path);
      if (r?.signedURL) {
        const url = absolute(r.signedURL);
        cache.set(q.bucket + '/' + path, { url, exp });
        resolve(url);
      } else {
        reject(new ApiError({ status: 404, code: 'not_found', message: r?.error || 'not found', storage: true }));
      }
    }
  } catch (e) {
    for (const i of q.items) i.reject(e);
  }
}

/** A user-facing text for a failed upload or attachment send: ours, then the server's words. */
export function uploadErrorText(e) {
  if (!e) return t('uploadFailed');
  if (e.network) return t('errNetwork');
  const msg = String(e.message || '');
  let lead = '';
  if (/quota/i.test(e.code || '') || /quota/i.test(msg)) lead = t('errQuota');
  else if (e.status === 413 || e.httpStatus === 413) lead = t('errTooLarge');
  else if (e.code === 'invalid_image') lead = t('errBadImage');
  else if (e.code === 'invalid_media') lead = t('errBadMedia');
  else if (e.code === 'invalid_mime_type' || e.status === 415) {
    // "content-type: declared image/png but the bytes are text/plain": the types are the same
    // in every language, the sentence is ours.
    const mismatch = msg.match(/declared (\S+) but the bytes are (\S+)/);
    if (mismatch) return t('errTypeMismatch', { declared: mismatch[1], actual: mismatch[2] });
    lead = t('errFileType');
  }
  else if (e.code === 'rate_limited' || e.status === 429) return t('errMsgRate', { wait: t('seconds', { n: e.retryAfter || 1 }) });
  else if (/^(attachment|kind):/.test(msg)) lead = t('errAttachment');
  else if (e.status >= 500) lead = t('errServer');
  else lead = t('uploadFailed');
  // The server's detail is English: shown after the lead in English only (the console has it).
  if (msg && msg !== lead) console.warn('upload refused:', msg);
  return msg && msg !== lead && getLang() === 'en' ? `${lead}: ${msg}` : lead;
}
