// #/reels/new (issue 15): pick a video (its duration read in the browser by
// reel-duration.js: longer than 90 s is refused here with a hint to trim it first, larger
// than 500 MB too), a caption (≤ 2200 characters, #hashtags) and who sees it; then the
// original is uploaded to `reels/<uid>/<uuid>-<name>` with progress and cancel (storage.js,
// as chat attachments are), `create_reel` makes the reel, and its processing is followed
// live (`reel_progress`, polled as a fallback) until it is ready or failed.
import { h, clear, focus, uuid } from '../util.js';
import { t } from '../i18n.js';
import { go } from '../router.js';
import { announce } from '../toast.js';
import { errorText } from './common.js';
import { videoDuration } from './reel-duration.js';
import { stateText, failureText, unfinished, watchReels } from './reel-states.js';

export const MAX_SECONDS = 90;
export const MAX_BYTES = 500 * 1024 * 1024;
const MAX_CAPTION = 2200;

/** Why create_reel refused, in words: the rule it named, else the usual error text. */
function refusal(e) {
  if (e?.code === 'reels_uploads_disabled' || e?.status === 503) return t('reelUploadsDisabled');
  if (e?.status === 429) return t('reelFailLimit');
  if (e?.status === 400 && e.message) return failureText(e.message);
  return errorText(e);
}

const fmt = sec => `${Math.floor(sec / 60)}:${String(Math.floor(sec % 60)).padStart(2, '0')}`;

export function uploadView(main, s) {
  let closed = false;
  let storage = null;
  let file = null;
  let seconds = null;
  let task = null; // the running upload ({abort})
  let reel = null;
  let stopWatch = null;

  const fileInput = h('input', { type: 'file', id: 'reel-file', class: 'reel-file', accept: 'video/mp4,video/quicktime,video/webm,video/*', testid: 'reel-file', 'aria-describedby': 'reel-file-hint reel-file-info' });
  const fileHint = h('p', { class: 'hint', id: 'reel-file-hint', text: t('reelFileHint') });
  const fileInfo = h('div', { class: 'reel-file-info', id: 'reel-file-info', testid: 'reel-file-info', 'aria-live': 'polite' });
  const caption = h('textarea', { class: 'input', id: 'reel-caption', rows: 3, maxlength: MAX_CAPTION, testid: 'reel-caption-input', 'aria-describedby': 'reel-caption-hint' });
  const captionHint = h('p', { class: 'hint', id: 'reel-caption-hint', text: t('reelCaptionHint', { n: MAX_CAPTION }) });
  const visibility = h('select', { class: 'input', id: 'reel-visibility', testid: 'reel-visibility' },
    ['public', 'followers', 'private'].map(v => h('option', { value: v, text: t('reelVisibility_' + v) })));
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', testid: 'reel-submit', disabled: true }, t('reelPublish'));
  const form = h('form', { class: 'reel-form', testid: 'reel-upload-form', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'reel-file', text: t('reelFileLabel') }), fileInput, fileHint, fileInfo),
    h('div', { class: 'field' }, h('label', { for: 'reel-caption', text: t('reelCaptionLabel') }), caption, captionHint),
    h('div', { class: 'field' }, h('label', { for: 'reel-visibility', text: t('reelVisibilityLabel') }), visibility),
    submit);
  const bar = h('progress', { class: 'reel-progress', max: 100, value: 0, testid: 'reel-progress', 'aria-labelledby': 'reel-progress-label' });
  const barLabel = h('p', { id: 'reel-progress-label', class: 'reel-progress-label', testid: 'reel-progress-label' });
  const detail = h('p', { class: 'hint reel-progress-detail', testid: 'reel-progress-detail' });
  const actions = h('div', { class: 'reel-progress-actions' });
  const progress = h('section', { class: 'reel-progress-box', testid: 'reel-upload-progress', hidden: true, 'aria-live': 'polite' }, barLabel, bar, detail, actions);
  clear(main, h('div', { class: 'page reel-upload' },
    h('p', {}, h('a', { href: '#/reels', class: 'reels-bar-link' }, t('reelsBack'))),
    h('h1', { tabindex: '-1', text: t('reelNewTitle') }), form, progress));

  const setInfo = (lines, bad) => {
    clear(fileInfo, lines.map(l => h('p', { class: bad && l === lines[lines.length - 1] ? 'hint bad' : 'hint', text: l })));
  };

  fileInput.addEventListener('change', async () => {
    file = fileInput.files?.[0] || null;
    seconds = null;
    submit.disabled = true;
    if (!file) { clear(fileInfo); return; }
    storage ||= await import('../storage.js');
    await storage.ready();
    const size = storage.humanSize(file.size);
    setInfo([t('reelFileChosen', { name: file.name, size }), t('reelReadingDuration')]);
    const picked = file;
    const d = await videoDuration(file);
    if (closed || picked !== file) return;
    seconds = d;
    const lines = [t('reelFileChosen', { name: file.name, size })];
    let bad = false;
    if (!/^video\//.test(file.type || '') && !/\.(mp4|m4v|mov|webm|mkv)$/i.test(file.name)) { lines.push(t('reelNotVideo')); bad = true; }
    else if (file.size > MAX_BYTES) { lines.push(t('reelTooBig', { max: storage.humanSize(MAX_BYTES) })); bad = true; }
    else if (d != null && d > MAX_SECONDS) { lines.push(t('reelTrimHint', { length: fmt(d), max: fmt(MAX_SECONDS) })); bad = true; }
    else lines.push(d != null ? t('reelDuration', { length: fmt(d) }) : t('reelDurationUnknown'));
    setInfo(lines, bad);
    fileInfo.dataset.state = bad ? 'refused' : 'ok';
    if (d != null) fileInfo.dataset.seconds = String(Math.round(d * 10) / 10);
    submit.disabled = bad;
  });

  function phase(label, value, more = '') {
    progress.hidden = false;
    barLabel.textContent = label;
    if (value == null) bar.removeAttribute('value'); else bar.value = value;
    detail.textContent = more;
  }

  function showReel(r) {
    reel = { ...reel, ...r };
    const pct = reel.state === 'ready' ? 100 : Number(reel.progress) || 0;
    progress.dataset.state = reel.state;
    if (reel.state === 'failed') {
      phase(stateText(reel), 0, failureText(reel.failure_reason) || '');
      bar.hidden = true;
      clear(actions, h('a', { class: 'btn', href: '#/reels/mine', testid: 'reel-to-mine' }, t('reelsMine')),
        h('button', { class: 'btn btn-primary', type: 'button', onClick: () => { go('#/reels'); go('#/reels/new'); } }, t('reelTryAgain')));
    } else if (reel.state === 'ready') {
      phase(stateText(reel), 100, '');
      clear(actions, h('a', { class: 'btn btn-primary', href: '#/reels/' + reel.id, testid: 'reel-open' }, t('reelOpen')),
        h('a', { class: 'btn', href: '#/reels/mine', testid: 'reel-to-mine' }, t('reelsMine')));
      announce(stateText(reel));
    } else {
      phase(stateText(reel), reel.state === 'uploaded' ? null : pct, t('reelProcessingHint'));
      clear(actions, h('a', { class: 'btn', href: '#/reels/mine', testid: 'reel-to-mine' }, t('reelsMine')));
    }
  }

  form.addEventListener('submit', async e => {
    e.preventDefault();
    if (!file || submit.disabled) return;
    form.hidden = true;
    const path = `${s.userId}/${uuid()}-${storage.safeName(file.name)}`;
    phase(t('reelUploading', { n: 0 }), 0, storage.humanSize(file.size));
    clear(actions, h('button', { class: 'btn', type: 'button', testid: 'reel-upload-cancel', onClick: () => task?.abort() }, t('cancel')));
    focus(barLabel);
    try {
      task = storage.upload(s.api, 'reels', path, file, {
        onProgress: (loaded, total) => {
          const n = total ? Math.floor(loaded / total * 100) : 0;
          bar.value = n;
          barLabel.textContent = t('reelUploading', { n });
          detail.textContent = `${storage.humanSize(loaded)} / ${storage.humanSize(total)}`;
        },
      });
      await task.promise;
      task = null;
      if (closed) return;
      phase(t('reelCreating'), null);
      clear(actions);
      const r = await s.rpc('create_reel', { object_path: path, caption: caption.value.trim(), visibility: visibility.value });
      if (closed) return;
      showReel(r);
      stopWatch = watchReels(s, {
        needed: () => unfinished(reel),
        onRecord: async rec => {
          if (rec.id !== reel.id || closed) return;
          if (rec.live) progress.dataset.live = 'true'; // a realtime report arrived (tests read it)
          if (rec.live && rec.state === 'ready') rec = await s.rpc('get_reel', { reel_id: reel.id }).catch(() => rec);
          if (!closed) showReel(rec);
        },
      });
    } catch (err) {
      task = null;
      if (closed) return;
      form.hidden = false;
      progress.hidden = false;
      bar.hidden = false;
      phase(err?.name === 'AbortError' ? t('reelUploadCanceled') : t('reelUploadFailed'), 0,
        err?.name === 'AbortError' ? '' : (err?.storage || err?.network ? storage.uploadErrorText(err) : refusal(err)));
      progress.dataset.state = 'error';
      clear(actions);
      focus(submit);
    }
  });

  return {
    cleanup() {
      closed = true;
      task?.abort();
      stopWatch?.();
    },
  };
}
