// «Добавить людей» on the 1:1 call screen (views/call.js): a modal dialog with a labelled list
// of checkboxes of the people this user chats with (the participants of the inbox's chats, as
// the calls controller knows them), minus the other side of the call. Confirming asks the
// calls controller to make the call a group call (calls-upgrade.js); its errors are shown in
// the dialog. Focus stays inside (Tab wraps), Escape closes, focus returns to the opener.
import { h, avatar, nameOf, focus } from '../util.js';
import { t } from '../i18n.js';
import { openDialog } from './common.js';

/** The people of the inbox's chats (each once), without this user and `exclude`. */
export function callablePeople(s, exclude) {
  const seen = new Map();
  for (const it of s.inbox?.items || []) {
    for (const p of it.participants || []) {
      if (!p?.id || p.id === s.userId || exclude.has(p.id) || seen.has(p.id)) continue;
      seen.set(p.id, p);
    }
  }
  return [...seen.values()].sort((a, b) => nameOf(a).localeCompare(nameOf(b)));
}

/** Opens the picker for the call `c`; returns its close function. */
export function addPeopleDialog(s, calls, c) {
  const d = openDialog({ title: t('callAddTitle') });
  d.dlg.classList.add('add-people');
  d.dlg.dataset.testid = 'add-people-dialog';
  const people = callablePeople(s, new Set([c.peerId]));
  const listId = 'add-people-label-' + Math.random().toString(36).slice(2);
  const error = h('p', { class: 'form-error', testid: 'add-people-error', role: 'alert', hidden: true });
  const boxes = people.map(p => h('input', { type: 'checkbox', value: p.id, testid: 'add-people-option', 'data-user-id': p.id }));
  const list = people.length
    ? h('div', { role: 'group', 'aria-labelledby': listId, testid: 'add-people-list' }, h('ul', { class: 'list add-people-list' },
      people.map((p, i) => h('li', {}, h('label', { class: 'person add-people-row' },
        boxes[i], avatar(p, { size: 'sm' }),
        h('span', { class: 'names' }, h('span', { text: nameOf(p) }), p.username ? h('span', { class: 'muted', text: '@' + p.username }) : null))))))
    : h('p', { class: 'muted', testid: 'add-people-empty', text: t('callAddNobody') });
  const cancel = h('button', { class: 'btn', type: 'button', testid: 'add-people-cancel', onClick: () => d.close() }, t('cancel'));
  const ok = h('button', { class: 'btn btn-primary', type: 'button', testid: 'add-people-confirm', disabled: !people.length, onClick: confirm }, t('callAddConfirm'));
  d.body.append(h('p', { id: listId, class: 'add-people-label', text: t('callAddListLabel') }), list, error);
  d.foot.append(cancel, ok);

  // Tab and Shift+Tab wrap inside the dialog.
  d.dlg.addEventListener('keydown', e => {
    if (e.key !== 'Tab') return;
    const all = [...d.dlg.querySelectorAll('button, input, [tabindex]:not([tabindex="-1"])')].filter(el => !el.disabled && !el.closest('[hidden]'));
    if (!all.length) return;
    const first = all[0], last = all[all.length - 1];
    if (e.shiftKey && document.activeElement === first) { e.preventDefault(); focus(last); }
    else if (!e.shiftKey && document.activeElement === last) { e.preventDefault(); focus(first); }
  });

  function showError(text) {
    error.textContent = text;
    error.hidden = !text;
  }

  async function confirm() {
    const ids = boxes.filter(b => b.checked).map(b => b.value);
    if (!ids.length) { showError(t('callAddPickSome')); focus(boxes[0]); return; }
    showError('');
    ok.disabled = true;
    ok.textContent = t('callAddSending');
    try {
      await calls.addPeople(ids);
      d.close();
    } catch (e) {
      if (!d.dlg.isConnected) return;
      const key = 'callAddErr_' + (typeof e?.code === 'string' ? e.code : '');
      showError(t(key) !== key ? t(key) : t('callAddErr_other'));
      ok.disabled = false;
      ok.textContent = t('callAddConfirm');
      focus(ok);
    }
  }

  focus(boxes[0] || cancel);
  return () => { if (d.dlg.isConnected) d.dlg.close(); };
}
