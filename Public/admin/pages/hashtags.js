// The hashtag blocklist (moderation.hashtags): the blocked tags (GET /moderation/hashtags), a
// form to block one with a reason (its reels go back to review; the server's 409 when blocked
// already and 400 for a tag captions would not yield are shown at the form), and Unblock with a reason.
import { h, clear, focus } from '../../app/util.js';
import { t } from '../i18n.js';
import { loading, errorState, emptyState, card, resultLine, field, announce, fact, timeTag } from '../ui.js';
import { formDialog, reasonField } from '../dialog.js';

/** The section; `pageResult` is the page's result line (for unblocks). */
export function hashtagsCard(ctx, pageResult) {
  const body = h('div', { class: 'adm-card-body' });
  const tag = h('input', { class: 'adm-input', type: 'text', testid: 'hashtag-input', maxlength: 101, autocomplete: 'off', spellcheck: 'false', required: true });
  const reason = h('textarea', { class: 'adm-input', rows: 2, maxlength: 500, testid: 'hashtag-reason', required: true });
  const line = resultLine('hashtag-result');
  const form = h('form', { class: 'adm-form adm-inline-form', novalidate: true, testid: 'hashtag-form' },
    field(t('hashtag'), tag, t('hashtagHint')),
    field(t('reason'), reason, t('reasonHint')),
    h('div', { class: 'adm-actions start' }, h('button', { type: 'submit', class: 'adm-btn adm-btn-danger', testid: 'hashtag-submit', text: t('hashtagBlock') })),
    line.el);
  form.addEventListener('submit', async e => {
    e.preventDefault();
    line.clear();
    const value = tag.value.trim(), why = reason.value.trim();
    const okTag = value.replace(/^#/, '').length > 0; // the server judges the rest (400 naming `tag`)
    tag.setAttribute('aria-invalid', String(!okTag));
    reason.setAttribute('aria-invalid', String(!why));
    if (!okTag || !why) {
      line.fail(!okTag ? t('hashtagInvalid') : t('fieldRequired', { field: t('reason') }));
      focus(!okTag ? tag : reason);
      return;
    }
    const submit = form.querySelector('[type=submit]');
    submit.disabled = true;
    try {
      await ctx.api.blockHashtag(value, why);
      const text = t('hashtagBlocked', { tag: value.replace(/^#/, '') });
      line.ok(text);
      announce(text);
      tag.value = '';
      reason.value = '';
      await load();
    } catch (err) {
      line.fail(err);
      if (err.status === 400 || err.code === 'admin_hashtag_blocked') tag.setAttribute('aria-invalid', 'true');
    } finally {
      submit.disabled = false;
    }
  });

  async function load() {
    clear(body, loading());
    try {
      const list = await ctx.api.hashtags();
      clear(body, list.length ? h('ul', { class: 'adm-rows', testid: 'hashtag-list' }, list.map(row)) : emptyState(t('noHashtags'), 'hashtags-empty'));
    } catch (e) {
      clear(body, errorState(e, load));
    }
  }

  function row(item) {
    return h('li', { class: 'adm-row', testid: 'hashtag-row', 'data-tag': item.tag },
      h('div', { class: 'adm-row-main' },
        h('div', { class: 'adm-row-title' }, h('strong', { class: 'adm-break', text: '#' + item.tag })),
        h('ul', { class: 'adm-facts' },
          fact(t('reason'), h('span', { class: 'adm-reason', text: item.reason })),
          fact(t('hashtagAddedBy'), ctx.people.label(item.added_by)),
          fact(t('hashtagAddedAt'), timeTag(item.added_at)))),
      h('div', { class: 'adm-row-actions' },
        h('button', { type: 'button', class: 'adm-btn adm-btn-small', testid: 'hashtag-unblock', 'data-tag': item.tag,
          'aria-label': t('hashtagUnblockLabel', { tag: item.tag }), text: t('hashtagUnblock'), onClick: () => unblock(item) })));
  }

  async function unblock(item) {
    const done = await formDialog({
      title: t('hashtagUnblockTitle', { tag: item.tag }), description: t('hashtagUnblockText'), confirmLabel: t('hashtagUnblock'),
      testid: 'unblock-dialog', fields: [reasonField()],
      submit: ({ reason }) => ctx.api.unblockHashtag(item.tag, reason),
    });
    if (!done) return;
    const text = t('hashtagUnblocked', { tag: item.tag });
    pageResult.ok(text);
    announce(text);
    await load();
    focus(tag);
  }

  load();
  return card(t('hashtagsTitle'), 'hashtags-card', h('p', { class: 'adm-muted', text: t('hashtagsLead') }), form, body);
}
