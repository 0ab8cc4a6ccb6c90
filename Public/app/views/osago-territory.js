// The territory field of the OSAGO form: a combobox over GET osago-territories with a
// keyboard listbox, the chosen place's КТ as its hint, and names remembered per code.
import { h, clear, debounce } from '../util.js';
import { t, getLang } from '../i18n.js';
import { errorText } from './common.js';
import { dec } from './insurance.js';

const names = new Map(); // code → {name, nameEn}, learnt from the search answers

/** A territory's name in the page's language (the code when not seen yet). */
export function territoryLabel(code) {
  const n = names.get(code);
  if (!n) return code;
  return getLang() === 'en' ? n.nameEn || n.name : n.name;
}

/**
 * The territory combobox. opts: {s, kit, uid, main, date(), closed(), required(), edited()}.
 * Returns {field, input, terr, set(raw), read(), refresh(), cancel()}.
 */
export function territoryPicker({ s, kit, uid, main, date, closed, required, edited }) {
  const terr = { code: null, name: '', info: null };
  const input = kit.text('territory-input', {
    role: 'combobox', 'aria-autocomplete': 'list', 'aria-expanded': 'false', 'aria-controls': uid + '-terr-list',
    placeholder: t('territoryPlaceholder'), maxlength: 80,
  });
  const listbox = h('ul', { class: 'listbox', id: uid + '-terr-list', role: 'listbox', testid: 'territory-listbox', 'aria-label': t('territory'), hidden: true });
  const listStatus = h('div', { class: 'sr-only', role: 'status', 'aria-live': 'polite' });
  const field = kit.field('territory', t('territory'), input, {
    hint: t('territoryHint'),
    check: final => {
      if (terr.code) return '';
      if (input.value.trim()) return final ? t('errTerritoryPick') : '';
      if (final && required()) return t('errTerritoryRequired');
      return '';
    },
  });
  const comboWrap = h('div', { class: 'combo-wrap' });
  input.replaceWith(comboWrap);
  comboWrap.append(input, listbox);
  field.box.append(listStatus);

  let seq = 0;
  let options = [];
  let active = -1;
  const openList = open => {
    listbox.hidden = !open;
    input.setAttribute('aria-expanded', String(open));
    if (!open) { active = -1; input.removeAttribute('aria-activedescendant'); listbox.removeAttribute('aria-busy'); return; }
    // Open upwards when the visible part of the page below the input is too short (phones).
    const r = input.getBoundingClientRect();
    const m = main.getBoundingClientRect();
    const below = m.bottom - r.bottom;
    const above = r.top - Math.max(m.top, 0);
    const up = below < 220 && above > below;
    listbox.classList.toggle('up', up);
    listbox.style.maxHeight = Math.max(120, Math.min(280, (up ? above : below) - 12)) + 'px';
  };
  function paintOptions(list, q) {
    options = list;
    active = list.length ? 0 : -1;
    clear(listbox, list.length
      ? list.map((o, i) => h('li', {
        role: 'option', id: `${uid}-opt-${i}`, class: 'option', testid: 'territory-option', 'data-code': o.code,
        'aria-selected': String(i === active),
        onPointerdown: e => { e.preventDefault(); choose(o); },
      }, h('span', { class: 'opt-name', text: getLang() === 'en' ? o.nameEn || o.name : o.name }),
      h('span', { class: 'opt-kt muted', text: t('ktShort', { kt: dec(o.kt) }) })))
      : h('li', { class: 'option empty-opt', role: 'presentation', text: t('territoryNone', { q }) }));
    setActive(active);
    listStatus.textContent = list.length ? t('territoryCount', { n: list.length }) : t('territoryNone', { q });
  }
  function setActive(i) {
    active = i;
    listbox.querySelectorAll('[role="option"]').forEach((el, j) => el.setAttribute('aria-selected', String(j === i)));
    const el = i >= 0 ? listbox.querySelector(`#${uid}-opt-${i}`) : null;
    if (el) { input.setAttribute('aria-activedescendant', el.id); el.scrollIntoView({ block: 'nearest' }); }
    else input.removeAttribute('aria-activedescendant');
  }
  function choose(o) {
    search.cancel(); // a search still pending from typing must not reopen the list
    seq++;
    names.set(o.code, { name: o.name, nameEn: o.nameEn });
    terr.code = o.code;
    terr.info = o;
    terr.name = getLang() === 'en' ? o.nameEn || o.name : o.name;
    input.value = terr.name;
    openList(false);
    paintHint();
    field.touched = true;
    kit.validate(field, false);
    edited();
    input.dispatchEvent(new Event('change', { bubbles: true }));
  }
  function paintHint() {
    const o = terr.info;
    if (!terr.code || !o) { field.hintEl.textContent = t('territoryHint'); return; }
    field.hintEl.textContent = o.correction && o.correction !== '1'
      ? t('territoryKtCorrected', { kt: dec(o.kt), base: dec(o.baseKt), corr: dec(o.correction), tag: o.confidence || '' })
      : t('territoryKt', { kt: dec(o.kt), tag: o.confidence || '' });
  }
  async function run(q) {
    const mine = ++seq;
    // Options already on screen stay there until the next answer replaces them: blanking the
    // list would move what the pointer is about to press.
    if (listbox.hidden || !options.length) clear(listbox, h('li', { class: 'option empty-opt', role: 'presentation', text: t('loading') }));
    listbox.setAttribute('aria-busy', 'true');
    openList(true);
    try {
      const r = await fetchAll(q);
      if (mine !== seq || closed()) return;
      listbox.removeAttribute('aria-busy');
      paintOptions(r.territories || [], q);
      if (document.activeElement !== input) openList(false);
    } catch (e) {
      if (mine !== seq || closed()) return;
      listbox.removeAttribute('aria-busy');
      options = [];
      clear(listbox, h('li', { class: 'option empty-opt', role: 'presentation' }, errorText(e), ' ',
        h('button', { class: 'btn-link', type: 'button', testid: 'territory-retry', onPointerdown: ev => { ev.preventDefault(); run(q); } }, t('retry'))));
      listStatus.textContent = errorText(e);
    }
  }
  function fetchAll(q) {
    return s.api.call(`/functions/v1/osago-territories?q=${encodeURIComponent(q)}&date=${encodeURIComponent(date())}`, { method: 'GET' })
      .then(r => { for (const o of r.territories || []) names.set(o.code, { name: o.name, nameEn: o.nameEn }); return r; });
  }
  /** Fetches the chosen territory's row again (after a date change or a restored form). */
  async function refresh() {
    if (!terr.code) return;
    try {
      const r = await fetchAll('');
      const o = (r.territories || []).find(x => x.code === terr.code);
      if (o && !closed() && terr.code === o.code) {
        terr.info = o;
        if (document.activeElement !== input) { terr.name = getLang() === 'en' ? o.nameEn || o.name : o.name; input.value = terr.name; }
        paintHint();
      }
    } catch { /* the hint keeps the previous value */ }
  }
  const search = debounce(q => run(q), 250);
  input.addEventListener('input', () => {
    if (terr.code && input.value !== terr.name) { terr.code = null; terr.info = null; paintHint(); }
    if (!field.err.hidden) kit.validate(field, false);
    search(input.value.trim());
  });
  input.addEventListener('click', () => { if (listbox.hidden) { search.cancel(); run(input.value.trim()); } });
  input.addEventListener('keydown', e => {
    const open = !listbox.hidden;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      if (!open) { search.cancel(); run(input.value.trim()); return; }
      if (!options.length) return;
      setActive(e.key === 'ArrowDown' ? (active + 1) % options.length : (active - 1 + options.length) % options.length);
    } else if (e.key === 'Enter' && open) {
      e.preventDefault();
      if (active >= 0 && options[active]) choose(options[active]);
    } else if (e.key === 'Escape' && open) {
      e.preventDefault();
      openList(false);
    }
  });
  input.addEventListener('blur', () => {
    search.cancel();
    seq++;
    // A name typed in full counts as choosing it.
    if (!terr.code) {
      const typed = input.value.trim().toLowerCase();
      const exact = options.find(o => o.name.toLowerCase() === typed || (o.nameEn || '').toLowerCase() === typed);
      if (exact) choose(exact);
    }
    openList(false);
    if (field.touched || input.value.trim()) { field.touched = true; kit.validate(field, true); }
  });

  return {
    field, input, terr, paintHint, refresh,
    cancel: () => search.cancel(),
    read: () => ({ code: terr.code, name: terr.name, info: terr.info, text: input.value }),
    /** Restores a saved state ({code, name, info, text}); a code alone is named when known. */
    set(raw) {
      terr.code = raw.code;
      terr.info = raw.info;
      const chosen = terr.code && (raw.text === raw.name || !raw.text) && names.has(terr.code);
      terr.name = chosen ? territoryLabel(terr.code) : raw.name || '';
      input.value = chosen ? terr.name : raw.text || '';
      paintHint();
      if (terr.code && !terr.info) refresh();
    },
  };
}
