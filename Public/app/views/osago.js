// #/insurance/osago: the OSAGO calculator. Territory search (a keyboard listbox), vehicle,
// period, drivers (a list or "unlimited"), optional base rate; validation as typed, server
// field errors shown on their input; the result with the coefficient breakdown, cap, range
// (no base rate), tariff version and КБМ forecast; saving and the saved calculations.
import { h, clear, icon, focus, debounce, fullTime } from '../util.js';
import { t, getLang } from '../i18n.js';
import { announce, toastError } from '../toast.js';
import { errorState, errorText, emptyState, skeletonList, confirmDialog } from './common.js';
import { sectionHead, rub, dec, whole, isoDate, parseDecimal } from './insurance.js';

const CLASSES = ['M', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12', '13'];
// КБМ of each class (6007-У scale), for the option labels only: the server's result is what counts.
const KBM = { M: '3.92', 0: '2.94', 1: '2.25', 2: '1.76', 3: '1.17', 4: '1', 5: '0.91', 6: '0.83', 7: '0.78', 8: '0.74', 9: '0.68', 10: '0.63', 11: '0.57', 12: '0.52', 13: '0.46' };
const CATEGORIES = ['B', 'BE', 'A', 'M'];
const REGISTRATIONS = ['russia', 'foreign', 'transit'];
const COEFS = ['tb', 'kt', 'kbm', 'kvs', 'ko', 'km', 'ks', 'kp', 'kn', 'kpr'];
const MAX_DRIVERS = 10;
// Base-rate corridors for the hint (roubles), newest first; the server checks the real ones.
const CORRIDORS = [
  ['2025-12-09', { car: [1399, 8665], legal: [724, 6580], taxi: [1267, 18119], moto: [155, 4260] }],
  ['2025-01-27', { car: [1646, 7535], legal: [852, 5722], taxi: [1490, 15756], moto: [259, 3043] }],
  ['2022-09-01', { car: [1646, 7535], legal: [852, 5722], taxi: [1490, 15756] }],
];

const drafts = new Map(); // userId → the form and result as last left (this tab's memory only)
const territoryNames = new Map(); // code → {name, nameEn}, learnt from the search answers

function today() {
  const d = new Date();
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
}

const isInt = v => /^\d+$/.test(v);
const num = v => (/^\d+$/.test(v) ? Number(v) : v); // whole numbers as JSON numbers, fractions as exact strings

function territoryLabel(code) {
  const n = territoryNames.get(code);
  if (!n) return code;
  return getLang() === 'en' ? n.nameEn || n.name : n.name;
}

export function osagoView(main, s) {
  let closed = false;
  const uid = 'o' + Math.random().toString(36).slice(2, 7);
  const fields = new Map(); // request path → field (static fields; driver rows resolve their own)

  /** A labelled control with a hint and an inline error (data-field = the request path). */
  function field(path, label, control, { hint, check, cls } = {}) {
    const id = control.id || (control.id = uid + '-' + path.replace(/\W+/g, '-'));
    const hintEl = h('div', { class: 'hint', id: id + '-hint', text: hint || '', hidden: !hint });
    const err = h('div', { class: 'hint bad field-msg', id: id + '-err', testid: 'field-error', 'data-field': path, hidden: true });
    control.setAttribute('aria-describedby', id + '-hint ' + id + '-err');
    const box = h('div', { class: 'field' + (cls ? ' ' + cls : '') }, h('label', { for: id, text: label }), control, hintEl, err);
    const f = { path, label, control, hintEl, err, box, check, touched: false };
    return f;
  }

  function setError(f, msg) {
    f.err.textContent = msg || '';
    f.err.hidden = !msg;
    if (msg) f.control.setAttribute('aria-invalid', 'true');
    else f.control.removeAttribute('aria-invalid');
  }

  const shown = f => f.box.isConnected && !f.box.closest('[hidden]');

  /** Runs a field's check: while typing (not final) an empty required field is not an error yet. */
  function validate(f, final) {
    if (!f.check || !shown(f)) { setError(f, ''); return true; }
    const msg = f.check(final);
    setError(f, msg);
    return !msg;
  }

  function watch(f, ...also) {
    const run = final => { f.touched = true; validate(f, final); for (const g of also) if (g().touched) validate(g(), final); };
    f.control.addEventListener('input', () => { run(false); formError(null); });
    f.control.addEventListener('change', () => run(true));
    return f;
  }

  // ---------------------------------------------------------------- the form controls

  const select = (testid, options, value) => h('select', { class: 'input', testid },
    options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)));
  const text = (testid, attrs = {}) => h('input', { class: 'input', type: 'text', autocomplete: 'off', spellcheck: 'false', testid, ...attrs });
  const checkbox = (testid, label, hintText) => {
    const input = h('input', { type: 'checkbox', id: uid + '-' + testid, testid });
    const hintId = input.id + '-hint';
    if (hintText) input.setAttribute('aria-describedby', hintId);
    return {
      input,
      el: h('div', { class: 'check-field' },
        h('div', { class: 'check' }, input, h('label', { for: input.id, text: label })),
        hintText && h('div', { class: 'hint', id: hintId, text: hintText })),
    };
  };
  const radios = (name, legend, options, value, testidPrefix) => {
    const inputs = options.map(([v, label]) => {
      const input = h('input', { type: 'radio', name: uid + '-' + name, id: `${uid}-${name}-${v}`, value: v, checked: v === value });
      return { input, el: h('label', { class: 'seg', for: input.id, testid: `${testidPrefix}-${v}` }, input, h('span', { text: label })) };
    });
    return {
      inputs,
      get value() { return inputs.find(i => i.input.checked)?.input.value; },
      set value(v) { for (const i of inputs) i.input.checked = i.input.value === v; },
      el: h('fieldset', { class: 'segmented' }, h('legend', { text: legend }), h('div', { class: 'seg-row' }, inputs.map(i => i.el))),
    };
  };

  // Territory: a combobox over GET osago-territories.
  const terr = { code: null, name: '', info: null };
  const territoryInput = text('territory-input', {
    role: 'combobox', 'aria-autocomplete': 'list', 'aria-expanded': 'false', 'aria-controls': uid + '-terr-list',
    placeholder: t('territoryPlaceholder'), maxlength: 80,
  });
  const listbox = h('ul', { class: 'listbox', id: uid + '-terr-list', role: 'listbox', testid: 'territory-listbox', 'aria-label': t('territory'), hidden: true });
  const listStatus = h('div', { class: 'sr-only', role: 'status', 'aria-live': 'polite' });
  const fTerritory = field('territory', t('territory'), territoryInput, {
    hint: t('territoryHint'),
    check: final => {
      if (terr.code) return '';
      if (territoryInput.value.trim()) return final ? t('errTerritoryPick') : '';
      if (final && registration.value === 'russia' && !ktInput.value.trim()) return t('errTerritoryRequired');
      return '';
    },
  });
  const comboWrap = h('div', { class: 'combo-wrap' });
  territoryInput.replaceWith(comboWrap);
  comboWrap.append(territoryInput, listbox);
  fTerritory.box.append(listStatus);

  const ktInput = text('kt-input', { inputmode: 'decimal', maxlength: 8, placeholder: t('ktPlaceholder') });
  const fKt = field('kt', t('ktLabel'), ktInput, {
    hint: t('ktHint'),
    check: () => {
      const v = parseDecimal(ktInput.value);
      if (v === null) return t('errKtNumber');
      if (v !== '' && Number(v) <= 0) return t('errKtPositive');
      return '';
    },
  });

  const owner = radios('owner', t('ownerLabel'), [['individual', t('owner_individual')], ['legal_entity', t('owner_legal_entity')]], 'individual', 'owner');
  const category = select('category-select', CATEGORIES.map(c => [c, t('category_' + c)]), 'B');
  const fCategory = field('vehicle.category', t('categoryLabel'), category);
  const powerInput = text('power-input', { inputmode: 'decimal', maxlength: 7, placeholder: '150' });
  const fPower = field('vehicle.powerHp', t('powerLabel'), powerInput, {
    hint: t('powerHint'),
    check: final => {
      const v = parseDecimal(powerInput.value);
      if (v === null) return t('errPowerNumber');
      if (v === '') return final && isCar() ? t('errPowerRequired') : '';
      if (Number(v) <= 0) return t('errPowerPositive');
      if (Number(v) > 5000) return t('errPowerLarge');
      return '';
    },
  });
  const registration = select('registration-select', REGISTRATIONS.map(r => [r, t('registration_' + r)]), 'russia');
  const fRegistration = field('vehicle.registration', t('registrationLabel'), registration);
  const taxi = checkbox('taxi-toggle', t('taxiLabel'));

  const months = select('period-select', Array.from({ length: 10 }, (_, i) => [String(i + 3), t('monthsN', { n: i + 3 })]), '12');
  const fMonths = field('periodMonths', t('periodLabel'), months, {
    hint: t('periodHint'),
    check: () => (owner.value === 'legal_entity' && Number(months.value) < 6 ? t('errPeriodLegal') : ''),
  });
  const termUnit = radios('term-unit', t('termLabel'), [['days', t('termDays')], ['months', t('termMonthsOpt')]], 'months', 'term-unit');
  const termDays = text('term-days-input', { inputmode: 'numeric', maxlength: 2, placeholder: '15' });
  const fTermDays = field('termDays', t('termDaysLabel'), termDays, {
    check: final => {
      const v = termDays.value.trim();
      if (!v) return final ? t('errTermDays') : '';
      if (!final && v === '1') return ''; // may become 10…15
      return isInt(v) && Number(v) >= 5 && Number(v) <= 15 ? '' : t('errTermDays');
    },
  });
  const termMonths = select('term-months-select', Array.from({ length: 12 }, (_, i) => [String(i + 1), t('monthsN', { n: i + 1 })]), '12');
  const fTermMonths = field('termMonths', t('termMonthsLabel'), termMonths);
  const transitNote = h('p', { class: 'hint note', text: t('transitNote') });

  // Drivers
  const mode = radios('drivers', t('driversLabel'), [['list', t('driversList')], ['unlimited', t('driversUnlimited')]], 'list', 'driver-mode');
  const rowsBox = h('div', { class: 'driver-rows' });
  const rows = [];
  const addBtn = h('button', { class: 'btn btn-small', type: 'button', testid: 'add-driver', onClick: () => { const r = addRow({}); focus(r.age.control); announce(t('driverAdded', { n: rows.length })); } }, icon('plus'), t('addDriver'));
  const driversMsg = h('div', { class: 'hint bad field-msg', testid: 'field-error', 'data-field': 'drivers', hidden: true });
  const fDrivers = { path: 'drivers', label: t('driversLabel'), control: addBtn, err: driversMsg, box: rowsBox };
  const ownerClass = select('owner-class-select', CLASSES.map(c => [c, t('kbmClassOption', { c, k: dec(KBM[c]) })]), '3');
  const fOwnerClass = field('ownerKbmClass', t('ownerClassLabel'), ownerClass, { hint: t('ownerClassHint') });

  function addRow(d) {
    const n = Math.random().toString(36).slice(2, 7);
    const r = { n };
    const age = text('driver-age-input', { id: `${uid}-d${n}-age`, inputmode: 'numeric', maxlength: 3, value: d.age ?? '' });
    const exp = text('driver-experience-input', { id: `${uid}-d${n}-exp`, inputmode: 'numeric', maxlength: 2, value: d.exp ?? '' });
    const cls = select('driver-class-select', CLASSES.map(c => [c, t('kbmClassOption', { c, k: dec(KBM[c]) })]), d.cls ?? '3');
    cls.id = `${uid}-d${n}-cls`;
    r.age = field('drivers[].age', t('ageLabel'), age, {
      check: final => {
        const v = age.value.trim();
        if (!v) return final ? t('errAgeRequired') : '';
        if (!isInt(v)) return t('errAgeWhole');
        if (Number(v) < 16) return final || v.length > 1 ? t('errAgeMin') : ''; // "3" may become "35"
        if (Number(v) > 110) return t('errAgeMax');
        return '';
      },
    });
    r.exp = field('drivers[].experienceYears', t('experienceLabel'), exp, {
      check: final => {
        const v = exp.value.trim();
        if (!v) return final ? t('errExpRequired') : '';
        if (!isInt(v)) return t('errExpWhole');
        const a = age.value.trim();
        if (isInt(a) && Number(a) >= 16 && Number(v) > Number(a) - 16) return t('errExpMax', { max: Number(a) - 16 });
        return '';
      },
    });
    r.cls = field('drivers[].kbmClass', t('kbmClassLabel'), cls, { hint: t('kbmClassHint') });
    watch(r.age, () => r.exp);
    watch(r.exp);
    const title = h('legend', {});
    const remove = h('button', {
      class: 'icon-btn', type: 'button', testid: 'driver-remove',
      onClick: () => {
        const i = rows.indexOf(r);
        rows.splice(i, 1);
        r.el.remove();
        renumber();
        announce(t('driverRemoved', { n: i + 1 }));
        focus(rows[Math.min(i, rows.length - 1)]?.age.control || addBtn);
      },
    }, icon('trash'));
    r.title = title;
    r.remove = remove;
    r.el = h('fieldset', { class: 'driver-row', testid: 'driver-row' },
      title, h('div', { class: 'driver-head' }, h('span', { class: 'driver-name', 'aria-hidden': 'true' }), remove),
      h('div', { class: 'driver-grid' }, r.age.box, r.exp.box, r.cls.box));
    rows.push(r);
    rowsBox.append(r.el);
    renumber();
    return r;
  }

  function renumber() {
    rows.forEach((r, i) => {
      const name = t('driverN', { n: i + 1 });
      r.title.textContent = name;
      r.title.className = 'sr-only';
      r.el.querySelector('.driver-name').textContent = name;
      r.el.dataset.index = String(i);
      r.remove.setAttribute('aria-label', t('removeDriver', { n: i + 1 }));
      r.remove.disabled = rows.length === 1;
      for (const f of [r.age, r.exp, r.cls]) {
        f.path = f.path.replace(/^drivers\[\d*\]/, `drivers[${i}]`);
        f.err.dataset.field = f.path;
      }
    });
    addBtn.disabled = rows.length >= MAX_DRIVERS;
  }

  // Base rate, other options, date
  const tbInput = text('tb-input', { inputmode: 'decimal', maxlength: 9, placeholder: t('tbPlaceholder') });
  const fTb = field('tb', t('tbLabel'), tbInput, {
    hint: ' ',
    check: () => {
      const v = parseDecimal(tbInput.value);
      if (v === null) return t('errTbNumber');
      if (v !== '' && Number(v) <= 0) return t('errTbPositive');
      return '';
    },
  });
  const kn = checkbox('kn-toggle', t('knLabel'), t('knHint'));
  const trailer = checkbox('trailer-toggle', t('trailerLabel'), t('trailerHint'));
  const dateInput = h('input', { class: 'input', type: 'date', testid: 'date-input', value: today(), min: '2022-09-01' });
  const fDate = field('date', t('dateLabel'), dateInput, {
    hint: t('dateHint'),
    check: () => (dateInput.value && !/^\d{4}-\d{2}-\d{2}$/.test(dateInput.value) ? t('errDate') : ''),
  });

  for (const f of [fTerritory, fKt, fCategory, fPower, fRegistration, fMonths, fTermDays, fTermMonths, fOwnerClass, fTb, fDate]) fields.set(f.path, f);
  fields.set('drivers', fDrivers);
  const ownerErr = h('div', { class: 'hint bad field-msg', testid: 'field-error', 'data-field': 'owner', hidden: true });
  owner.el.append(ownerErr);
  fields.set('owner', { path: 'owner', label: t('ownerLabel'), control: owner.inputs[0].input, err: ownerErr, box: owner.el });
  watch(fKt, () => fTerritory);
  watch(fPower);
  watch(fTermDays);
  watch(fTb);
  watch(fDate);
  months.addEventListener('change', () => validate(fMonths, true));

  const isCar = () => category.value === 'B' || category.value === 'BE';

  // Groups shown by registration / category / mode
  const russiaBox = h('div', {}, fMonths.box);
  const foreignBox = h('div', {}, termUnit.el, h('div', { class: 'grid-2' }, fTermDays.box, fTermMonths.box));
  const transitBox = h('div', {}, transitNote);
  const listBox = h('div', {}, rowsBox, driversMsg, h('div', { class: 'actions-row' }, addBtn));
  const unlimitedBox = h('div', {}, h('p', { class: 'hint note', text: t('unlimitedNote') }), fOwnerClass.box);
  const territoryBox = h('div', {}, fTerritory.box, fKt.box);
  const foreignKtNote = h('p', { class: 'hint note', text: t('foreignKtNote') });

  function sync() {
    const reg = registration.value;
    russiaBox.hidden = reg !== 'russia';
    foreignBox.hidden = reg !== 'foreign';
    transitBox.hidden = reg !== 'transit';
    territoryBox.hidden = reg !== 'russia';
    foreignKtNote.hidden = reg !== 'foreign';
    const days = termUnit.value === 'days';
    fTermDays.box.hidden = !days;
    fTermMonths.box.hidden = days;
    taxi.el.hidden = !isCar();
    if (!isCar()) taxi.input.checked = false;
    fPower.hintEl.textContent = isCar() ? t('powerHint') : t('powerHintMoto');
    listBox.hidden = mode.value !== 'list';
    unlimitedBox.hidden = mode.value !== 'unlimited';
    paintCorridor();
    for (const f of [fMonths, fTermDays, fTerritory]) if (f.touched || !f.err.hidden) validate(f, f.touched);
  }
  for (const el of [registration, category, taxi.input, dateInput, ...owner.inputs.map(i => i.input), ...termUnit.inputs.map(i => i.input), ...mode.inputs.map(i => i.input)]) {
    el.addEventListener('change', sync);
  }
  for (const i of owner.inputs) i.input.addEventListener('change', () => validate(fMonths, true));

  const serverCorridors = new Map(); // "date|owner|category|taxi" → [min, max] from a range answer
  const corridorKey = () => [dateInput.value || today(), owner.value, category.value, taxi.input.checked].join('|');
  function corridor() {
    const known = serverCorridors.get(corridorKey());
    if (known) return known;
    const date = dateInput.value || today();
    const table = CORRIDORS.find(([from]) => date >= from)?.[1];
    if (!table) return null;
    if (!isCar()) return table.moto || null;
    if (taxi.input.checked) return table.taxi;
    return owner.value === 'legal_entity' ? table.legal : table.car;
  }
  function paintCorridor() {
    const c = corridor();
    fTb.hintEl.hidden = false;
    fTb.hintEl.textContent = c ? t('tbHint', { min: whole(c[0]), max: whole(c[1]) }) : t('tbHintNone');
  }

  // ---------------------------------------------------------------- territory search

  let terrSeq = 0;
  let options = [];
  let active = -1;
  const openList = open => {
    listbox.hidden = !open;
    territoryInput.setAttribute('aria-expanded', String(open));
    if (!open) { active = -1; territoryInput.removeAttribute('aria-activedescendant'); return; }
    // Open upwards when the visible part of the page below the input is too short (phones).
    const r = territoryInput.getBoundingClientRect();
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
    if (el) { territoryInput.setAttribute('aria-activedescendant', el.id); el.scrollIntoView({ block: 'nearest' }); }
    else territoryInput.removeAttribute('aria-activedescendant');
  }
  function choose(o) {
    search.cancel(); // a search still pending from typing must not reopen the list
    terrSeq++;
    territoryNames.set(o.code, { name: o.name, nameEn: o.nameEn });
    terr.code = o.code;
    terr.info = o;
    terr.name = getLang() === 'en' ? o.nameEn || o.name : o.name;
    territoryInput.value = terr.name;
    openList(false);
    paintTerritoryHint();
    fTerritory.touched = true;
    validate(fTerritory, false);
    formError(null);
  }
  function paintTerritoryHint() {
    const o = terr.info;
    if (!terr.code || !o) { fTerritory.hintEl.textContent = t('territoryHint'); return; }
    fTerritory.hintEl.textContent = o.correction && o.correction !== '1'
      ? t('territoryKtCorrected', { kt: dec(o.kt), base: dec(o.baseKt), corr: dec(o.correction), tag: o.confidence || '' })
      : t('territoryKt', { kt: dec(o.kt), tag: o.confidence || '' });
  }
  async function searchTerritories(q) {
    const mine = ++terrSeq;
    clear(listbox, h('li', { class: 'option empty-opt', role: 'presentation', text: t('loading') }));
    openList(true);
    try {
      const r = await fetchTerritories(q);
      if (mine !== terrSeq || closed) return;
      paintOptions(r.territories || [], q);
      if (document.activeElement !== territoryInput) openList(false);
    } catch (e) {
      if (mine !== terrSeq || closed) return;
      options = [];
      clear(listbox, h('li', { class: 'option empty-opt', role: 'presentation' }, errorText(e), ' ',
        h('button', { class: 'btn-link', type: 'button', testid: 'territory-retry', onPointerdown: ev => { ev.preventDefault(); searchTerritories(q); } }, t('retry'))));
      listStatus.textContent = errorText(e);
    }
  }
  function fetchTerritories(q) {
    const date = dateInput.value || today();
    return s.api.call(`/functions/v1/osago-territories?q=${encodeURIComponent(q)}&date=${encodeURIComponent(date)}`, { method: 'GET' })
      .then(r => { for (const o of r.territories || []) territoryNames.set(o.code, { name: o.name, nameEn: o.nameEn }); return r; });
  }
  const search = debounce(q => searchTerritories(q), 250);
  territoryInput.addEventListener('input', () => {
    if (terr.code && territoryInput.value !== terr.name) { terr.code = null; terr.info = null; paintTerritoryHint(); }
    if (!fTerritory.err.hidden) validate(fTerritory, false);
    search(territoryInput.value.trim());
  });
  territoryInput.addEventListener('click', () => { if (listbox.hidden) { search.cancel(); searchTerritories(territoryInput.value.trim()); } });
  territoryInput.addEventListener('keydown', e => {
    const open = !listbox.hidden;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      if (!open) { search.cancel(); searchTerritories(territoryInput.value.trim()); return; }
      if (!options.length) return;
      setActive(e.key === 'ArrowDown' ? (active + 1) % options.length : (active - 1 + options.length) % options.length);
    } else if (e.key === 'Enter' && open) {
      e.preventDefault();
      if (active >= 0 && options[active]) choose(options[active]);
    } else if (e.key === 'Escape' && open) {
      e.preventDefault();
      openList(false);
    } else if (e.key === 'Home' && open && options.length && e.altKey) {
      setActive(0);
    }
  });
  territoryInput.addEventListener('blur', () => {
    search.cancel();
    terrSeq++;
    // A name typed in full counts as choosing it.
    if (!terr.code) {
      const typed = territoryInput.value.trim().toLowerCase();
      const exact = options.find(o => o.name.toLowerCase() === typed || (o.nameEn || '').toLowerCase() === typed);
      if (exact) choose(exact);
    }
    openList(false);
    if (fTerritory.touched || territoryInput.value.trim()) { fTerritory.touched = true; validate(fTerritory, true); }
  });
  dateInput.addEventListener('change', async () => {
    if (!terr.code) return;
    try {
      const r = await fetchTerritories('');
      const o = (r.territories || []).find(x => x.code === terr.code);
      if (o && !closed) { terr.info = o; paintTerritoryHint(); }
    } catch { /* the hint keeps the previous value */ }
  });

  // ---------------------------------------------------------------- layout

  const formAlert = h('div', { class: 'alert', testid: 'form-error', role: 'alert', hidden: true });
  function formError(msg) {
    formAlert.textContent = msg || '';
    formAlert.hidden = !msg;
  }
  const calcBtn = h('button', { class: 'btn btn-primary btn-block', type: 'submit', testid: 'calculate' }, t('calculate'));
  const form = h('form', { class: 'osago-form', testid: 'osago-form', novalidate: true, 'aria-labelledby': uid + '-form-h' },
    h('h2', { id: uid + '-form-h', class: 'sr-only', text: t('osagoFormTitle') }),
    h('section', { class: 'section', 'aria-labelledby': uid + '-veh-h' },
      h('h2', { id: uid + '-veh-h', text: t('vehicleSection') }),
      owner.el,
      h('div', { class: 'grid-2' }, fCategory.box, fPower.box),
      fRegistration.box,
      taxi.el,
      territoryBox, foreignKtNote,
      russiaBox, foreignBox, transitBox),
    h('section', { class: 'section', 'aria-labelledby': uid + '-drv-h' },
      h('h2', { id: uid + '-drv-h', text: t('driversSection') }),
      mode.el, listBox, unlimitedBox),
    h('section', { class: 'section', 'aria-labelledby': uid + '-more-h' },
      h('h2', { id: uid + '-more-h', text: t('tariffSection') }),
      fTb.box,
      h('div', { class: 'grid-2 checks' }, kn.el, trailer.el),
      fDate.box),
    formAlert,
    calcBtn);

  const resultBox = h('div', { class: 'osago-result-box' });
  // Editing the form after a result marks that result as describing other inputs.
  const markStale = () => {
    const el = resultBox.querySelector('.osago-result');
    if (el && !el.classList.contains('stale')) { el.classList.add('stale'); el.querySelector('.stale-note').hidden = false; }
  };
  form.addEventListener('input', markStale);
  form.addEventListener('change', markStale);
  const savedBox = h('div');
  const savedSection = h('section', { class: 'section', testid: 'osago-saved', 'aria-labelledby': uid + '-saved-h' },
    h('h2', { id: uid + '-saved-h', text: t('savedTitle') }), savedBox);

  clear(main, h('div', { class: 'page wide' },
    sectionHead('osago', t('osagoTitle')),
    h('p', { class: 'lead-text muted', text: t('osagoLead') }),
    h('div', { class: 'osago-grid' },
      form,
      h('div', { class: 'osago-side' }, resultBox, savedSection))));

  // ---------------------------------------------------------------- request

  function allFields() {
    const list = [fTerritory, fKt, fCategory, fPower, fRegistration, fMonths, fTermDays, fTermMonths];
    if (mode.value === 'list') for (const r of rows) list.push(r.age, r.exp, r.cls);
    else list.push(fOwnerClass);
    list.push(fTb, fDate);
    return list;
  }

  function buildRequest() {
    const reg = registration.value;
    const req = {
      date: dateInput.value || today(),
      owner: owner.value,
      vehicle: { category: category.value, registration: reg, taxi: isCar() && taxi.input.checked },
    };
    const power = parseDecimal(powerInput.value);
    if (power) req.vehicle.powerHp = num(power);
    if (reg === 'russia') {
      if (terr.code) req.territory = terr.code;
      const kt = parseDecimal(ktInput.value);
      if (kt) req.kt = num(kt);
      req.periodMonths = Number(months.value);
    } else if (reg === 'foreign') {
      req.territory = 'foreign';
      if (termUnit.value === 'days') req.termDays = Number(termDays.value.trim());
      else req.termMonths = Number(termMonths.value);
    }
    const tb = parseDecimal(tbInput.value);
    if (tb) req.tb = num(tb);
    if (mode.value === 'unlimited') {
      req.drivers = 'unlimited';
      req.ownerKbmClass = ownerClass.value;
    } else {
      req.drivers = rows.map(r => ({
        age: Number(r.age.control.value.trim()),
        experienceYears: Number(r.exp.control.value.trim()),
        kbmClass: r.cls.control.value,
      }));
    }
    req.kn = kn.input.checked;
    req.trailer = trailer.input.checked;
    return req;
  }

  /** The field for a server error path ("drivers[1].age"), or null. */
  function fieldFor(path) {
    const m = /^drivers\[(\d+)\]\.(\w+)$/.exec(path || '');
    if (m) {
      const r = rows[Number(m[1])];
      if (!r) return fields.get('drivers');
      return { age: r.age, experienceYears: r.exp, kbmClass: r.cls }[m[2]] || r.age;
    }
    if (path === 'territory' && registration.value !== 'russia') return null;
    return fields.get(path) || null;
  }

  // ---------------------------------------------------------------- calculate

  let current = null; // {request, result, savedId}
  let calcSeq = 0;

  form.addEventListener('submit', e => {
    e.preventDefault();
    calculate();
  });

  async function calculate() {
    formError(null);
    let first = null;
    let count = 0;
    for (const f of allFields()) {
      f.touched = true;
      if (!validate(f, true)) { count++; first ||= f; }
    }
    setError(fDrivers, '');
    if (first) {
      // No result for inputs that cannot be priced (an older one would describe other inputs).
      calcSeq++;
      current = null;
      clear(resultBox);
      formError(t('errFixFields', { n: count }));
      first.box.scrollIntoView?.({ block: 'center' });
      focus(first.control);
      return;
    }
    const request = buildRequest();
    const mine = ++calcSeq;
    calcBtn.disabled = true;
    form.setAttribute('aria-busy', 'true');
    if (!current) clear(resultBox, resultSkeleton());
    else resultBox.querySelector('.osago-result')?.classList.add('updating');
    try {
      const result = await s.api.call('/functions/v1/osago-quote', { body: request });
      if (mine !== calcSeq || closed) return;
      showResult(request, result, null, true);
    } catch (err) {
      if (mine !== calcSeq || closed) return;
      resultBox.querySelector('.osago-result')?.classList.remove('updating');
      if (err.status === 400 && err.field) {
        const msg = String(err.message || '').replace(/^[\w.[\]]+:\s*/, '');
        const f = fieldFor(err.field);
        if (f && f.box && !f.box.closest('[hidden]')) {
          setError(f, t('serverFieldError', { label: f.label, msg }));
          f.touched = true;
          formError(t('errFixFields', { n: 1 }));
          focus(f.control);
        } else {
          formError(t('serverFieldError', { label: err.field, msg }));
          focus(formAlert);
        }
        // The inputs cannot be priced: no result (an older one would describe other inputs).
        current = null;
        clear(resultBox);
      } else {
        clear(resultBox, h('section', { class: 'section' }, errorState(err, calculate)));
      }
    } finally {
      if (mine === calcSeq) { calcBtn.disabled = false; form.removeAttribute('aria-busy'); }
    }
  }

  function resultSkeleton() {
    return h('section', { class: 'section', 'aria-busy': 'true', role: 'status', 'aria-label': t('calculating') },
      h('div', { class: 'skel l big' }), h('div', { class: 'skel l' }), h('div', { class: 'skel l short' }), h('div', { class: 'skel l' }),
      h('span', { class: 'sr-only', text: t('calculating') }));
  }

  // ---------------------------------------------------------------- result

  function coefName(k) {
    const key = 'coef_' + k;
    const name = t(key);
    return name === key ? k.toUpperCase() : name;
  }

  function confTag(c) {
    if (!c) return null;
    const desc = t('conf_' + c) !== 'conf_' + c ? t('conf_' + c) : c;
    return h('span', { class: 'tag conf conf-' + String(c).toLowerCase(), title: desc, testid: 'confidence-tag' },
      h('span', { 'aria-hidden': 'true', text: c }), h('span', { class: 'sr-only', text: desc }));
  }

  function showResult(request, r, savedId, fresh) {
    current = { request, result: r, savedId: savedId || null };
    if (r.range && r.range.tbMin && r.range.tbMax) {
      serverCorridors.set([request.date, request.owner, request.vehicle.category, !!request.vehicle.taxi].join('|'), [r.range.tbMin, r.range.tbMax]);
      paintCorridor();
    }
    const head = h('h2', { tabindex: '-1', id: uid + '-res-h', text: t('resultTitle') });
    const parts = [head, h('p', { class: 'alert info stale-note', testid: 'osago-result-stale', hidden: true, text: t('resultStale') })];
    let spoken;
    if (r.premium != null) {
      parts.push(h('p', { class: 'premium' }, h('span', { class: 'premium-label', text: t('premiumLabel') }),
        h('strong', { class: 'premium-value', testid: 'osago-premium', 'data-value': r.premium, text: rub(r.premium) })));
      spoken = t('premiumSpoken', { amount: rub(r.premium) });
    } else if (r.range) {
      parts.push(h('p', { class: 'premium' }, h('span', { class: 'premium-label', text: t('rangeLabel') }),
        h('strong', { class: 'premium-value', testid: 'osago-range', 'data-min': r.range.min, 'data-max': r.range.max },
          t('rangeValue', { min: rub(r.range.min), max: rub(r.range.max) }))),
      h('p', { class: 'hint', testid: 'osago-range-note', text: t('rangeNote', { min: whole(r.range.tbMin), max: whole(r.range.tbMax) }) }));
      spoken = t('rangeSpoken', { min: rub(r.range.min), max: rub(r.range.max) });
    }
    // Cap (40-ФЗ art. 9)
    if (r.capped) {
      parts.push(h('div', { class: 'alert info cap', testid: 'osago-cap-notice', role: 'note' },
        t('capNotice', { m: r.cap?.multiplier ?? '', amount: rub(r.cap?.amount), uncapped: rub(r.uncapped) })));
    } else if (r.range && (r.range.minCapped || r.range.maxCapped)) {
      parts.push(h('div', { class: 'alert info cap', testid: 'osago-cap-notice', role: 'note' }, t('capNoticeRange')));
    } else if (r.cap) {
      parts.push(h('p', { class: 'hint', testid: 'osago-cap', text: t('capNotReached', { m: r.cap.multiplier, amount: rub(r.cap.amount) }) }));
    }
    // Formula with the values used
    const co = r.coefficients || {};
    const used = COEFS.filter(k => co[k] != null);
    const extra = Object.keys(co).filter(k => !COEFS.includes(k) && co[k] != null);
    if (used.length) {
      parts.push(h('p', { class: 'formula', testid: 'osago-formula' },
        h('span', { class: 'muted', text: t('formulaLabel') + ' ' }),
        [...(co.tb == null ? [t('tbSymbol')] : []), ...[...used, ...extra].map(k => (k === 'tb' ? whole(co[k]) : dec(co[k])))].join(' × '),
        r.premium != null ? ' = ' + rub(r.premium) : ''));
    }
    // Breakdown table
    const rowsData = r.breakdown?.length ? r.breakdown : [...used, ...extra].map(k => ({ coefficient: k, value: co[k] }));
    parts.push(h('div', { class: 'table-wrap' }, h('table', { class: 'coef-table', testid: 'osago-breakdown' },
      h('caption', { class: 'sr-only', text: t('breakdownCaption') }),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col', text: t('colCoefficient') }),
        h('th', { scope: 'col', class: 'num', text: t('colValue') }))),
      h('tbody', {}, rowsData.map(b => h('tr', { testid: 'coef-row', 'data-coefficient': b.coefficient },
        h('th', { scope: 'row' }, h('span', { class: 'coef-name' }, coefName(b.coefficient), ' ', confTag(b.confidence)),
          b.reason && h('span', { class: 'coef-reason', text: b.reason })),
        h('td', { class: 'num', testid: 'coef-value', text: b.value == null ? '—' : (b.coefficient === 'tb' ? whole(b.value) : dec(b.value)) })))))));
    parts.push(h('p', { class: 'hint legend', text: t('confLegend') }));
    if (r.driver && request.drivers !== 'unlimited' && request.drivers?.length > 1) {
      parts.push(h('p', { class: 'hint', testid: 'osago-driver', text: t('driverUsed', {
        n: (r.driver.index ?? 0) + 1, age: r.driver.age, exp: r.driver.experienceYears, c: r.driver.kbmClass,
      }) }));
    }
    parts.push(h('p', { class: 'hint', testid: 'osago-tariff-version', 'data-version': r.tariffVersion || '', text: t('tariffVersion', { date: isoDate(r.tariffVersion) }) }));
    // КБМ forecast
    const fc = r.forecast;
    if (fc?.nextYear?.length) {
      parts.push(h('section', { class: 'forecast', testid: 'osago-forecast', 'aria-labelledby': uid + '-fc-h' },
        h('h3', { id: uid + '-fc-h', text: t('forecastTitle') }),
        h('p', { class: 'hint', text: t('forecastLead', { c: fc.kbmClass, k: dec(fc.kbm) }) }),
        h('div', { class: 'table-wrap' }, h('table', { class: 'coef-table forecast-table' },
          h('thead', {}, h('tr', {},
            h('th', { scope: 'col', text: t('colClaims') }),
            h('th', { scope: 'col', text: t('colNextClass') }),
            h('th', { scope: 'col', class: 'num', text: t('colNextKbm') }))),
          h('tbody', {}, fc.nextYear.map((y, i) => h('tr', { testid: 'forecast-row', 'data-claims': y.claims },
            h('th', { scope: 'row', text: i === fc.nextYear.length - 1 && y.claims >= 4 ? t('claimsOrMore', { n: y.claims }) : String(y.claims) }),
            h('td', { text: y.kbmClass }),
            h('td', { class: 'num', text: dec(y.kbm) }))))))));
    }
    // Save
    const saveTitle = h('input', { class: 'input', id: uid + '-save-title', testid: 'osago-save-title', maxlength: 100, placeholder: autoTitle(request), autocomplete: 'off' });
    const saveBtn = h('button', { class: 'btn btn-primary', type: 'button', testid: 'osago-save' }, t('saveCalculation'));
    const saveStatus = h('div', { class: 'hint', role: 'status', testid: 'osago-save-status' });
    const markSaved = () => { saveBtn.disabled = true; saveBtn.textContent = t('calculationSaved'); saveTitle.disabled = true; };
    if (current.savedId) markSaved();
    saveBtn.addEventListener('click', async () => {
      const mine = current;
      saveBtn.disabled = true;
      saveStatus.className = 'hint';
      saveStatus.textContent = t('saving');
      try {
        const item = await s.rpc('save_osago_calculation', { request: mine.request, title: saveTitle.value.trim() || autoTitle(mine.request) });
        if (closed) return;
        mine.savedId = item.id;
        if (current === mine) { markSaved(); saveStatus.textContent = t('calculationSavedHint'); }
        saved.prepend(item);
      } catch (err) {
        if (closed) return;
        saveBtn.disabled = false;
        saveStatus.className = 'hint bad';
        saveStatus.textContent = err.status === 409 ? t('errSaveLimit') : errorText(err);
      }
    });
    parts.push(h('div', { class: 'save-row' },
      h('div', { class: 'field' }, h('label', { for: saveTitle.id, text: t('saveTitleLabel') }), saveTitle),
      saveBtn, saveStatus));

    clear(resultBox, h('section', { class: 'section osago-result', testid: 'osago-result', 'aria-labelledby': head.id }, parts));
    if (fresh) {
      announce(spoken || t('resultTitle'));
      const reduce = matchMedia('(prefers-reduced-motion: reduce)').matches;
      resultBox.scrollIntoView?.({ block: 'start', behavior: reduce ? 'auto' : 'smooth' });
      focus(head);
    }
  }

  function autoTitle(req) {
    const bits = [];
    if (req.vehicle?.registration === 'foreign') bits.push(t('registrationShort_foreign'));
    else if (req.vehicle?.registration === 'transit') bits.push(t('registrationShort_transit'));
    else if (req.territory) bits.push(territoryLabel(req.territory));
    else if (req.kt != null) bits.push(t('ktShort', { kt: dec(req.kt) }));
    bits.push(req.vehicle?.category);
    if (req.vehicle?.powerHp != null) bits.push(t('hpShort', { hp: dec(req.vehicle.powerHp) }));
    bits.push(req.tb != null ? t('tbShort', { tb: whole(req.tb) }) : t('noTbShort'));
    return bits.filter(Boolean).join(', ').slice(0, 100);
  }

  // ---------------------------------------------------------------- saved calculations

  const saved = (() => {
    let cursor = null;
    const list = h('ul', { class: 'list saved-list', testid: 'osago-saved-list' });
    const more = h('button', { class: 'btn btn-small', type: 'button', hidden: true, text: t('loadMore'), onClick: () => load(false) });
    const items = new Map();

    function row(item) {
      const r = item.result || {};
      const price = r.premium != null ? rub(r.premium) : r.range ? t('rangeValue', { min: rub(r.range.min), max: rub(r.range.max) }) : '';
      const title = item.title || autoTitle(item.request || {});
      const li = h('li', { class: 'saved-item', testid: 'saved-calc', 'data-id': item.id },
        h('div', { class: 'saved-main' },
          h('span', { class: 'saved-title', testid: 'saved-calc-title', text: title }),
          h('span', { class: 'saved-price', testid: 'saved-calc-price', text: price }),
          h('time', { class: 'muted saved-time', datetime: item.created_at, text: fullTime(item.created_at) })),
        h('span', { class: 'actions' },
          h('button', {
            class: 'btn btn-small', type: 'button', testid: 'saved-calc-open', 'aria-label': t('openCalculation', { title }),
            onClick: () => open(item),
          }, t('open')),
          h('button', {
            class: 'icon-btn', type: 'button', testid: 'saved-calc-delete', 'aria-label': t('deleteCalculation', { title }),
            onClick: e => remove(item, title, e.currentTarget),
          }, icon('trash'))));
      items.set(item.id, li);
      return li;
    }

    async function load(reset) {
      if (reset) { cursor = null; clear(savedBox, skeletonList(2)); }
      more.disabled = true;
      try {
        const page = await s.rpc('list_osago_calculations', { limit: 20, ...(cursor && { cursor }) });
        if (closed) return;
        if (reset) { items.clear(); clear(list); }
        for (const item of page.items || []) if (!items.has(item.id)) list.append(row(item));
        cursor = page.next_cursor || null;
        more.hidden = !cursor;
        paint();
      } catch (e) {
        if (closed) return;
        if (reset || !list.children.length) clear(savedBox, errorState(e, () => load(true)));
        else toastError(e);
      } finally {
        more.disabled = false;
      }
    }

    function paint() {
      if (!list.children.length) clear(savedBox, emptyState(t('savedEmpty')));
      else if (!list.isConnected) clear(savedBox, list, h('div', { class: 'notice-line' }, more));
    }

    async function remove(item, title, btn) {
      if (!(await confirmDialog(t('deleteCalculationConfirm', { title }), t('delete')))) return;
      btn.disabled = true;
      try {
        await s.rpc('delete_osago_calculation', { id: item.id });
      } catch (e) {
        if (e.code !== 'PGRST116' && e.status !== 404) { btn.disabled = false; toastError(e); return; }
      }
      if (closed) return;
      const li = items.get(item.id);
      const next = li?.nextElementSibling || li?.previousElementSibling;
      li?.remove();
      items.delete(item.id);
      if (current?.savedId === item.id) { current.savedId = null; }
      paint();
      announce(t('calculationDeleted'));
      focus(next?.querySelector('[data-testid="saved-calc-open"]') || savedSection.querySelector('h2'));
    }

    function open(item) {
      writeRaw(rawFromRequest(item.request || {}));
      if (item.result) showResult(item.request, item.result, item.id, true);
    }

    return {
      load,
      prepend(item) {
        if (items.has(item.id)) return;
        list.prepend(row(item));
        paint();
      },
    };
  })();

  // ---------------------------------------------------------------- form state (kept per account)

  function readRaw() {
    return {
      owner: owner.value, category: category.value, power: powerInput.value, registration: registration.value,
      taxi: taxi.input.checked, territory: { code: terr.code, name: terr.name, info: terr.info, text: territoryInput.value },
      kt: ktInput.value, months: months.value, termUnit: termUnit.value, termDays: termDays.value, termMonths: termMonths.value,
      mode: mode.value, drivers: rows.map(r => ({ age: r.age.control.value, exp: r.exp.control.value, cls: r.cls.control.value })),
      ownerClass: ownerClass.value, tb: tbInput.value, kn: kn.input.checked, trailer: trailer.input.checked, date: dateInput.value,
    };
  }

  function rawFromRequest(q) {
    const str = v => (v == null ? '' : dec(v));
    const code = q.territory && q.territory !== 'foreign' ? q.territory : null;
    return {
      owner: q.owner || 'individual', category: q.vehicle?.category || 'B', power: str(q.vehicle?.powerHp),
      registration: q.vehicle?.registration || 'russia', taxi: !!q.vehicle?.taxi,
      territory: { code, name: code ? territoryLabel(code) : '', info: null, text: code ? territoryLabel(code) : '' },
      kt: str(q.kt), months: String(q.periodMonths || 12), termUnit: q.termDays ? 'days' : 'months',
      termDays: q.termDays ? String(q.termDays) : '', termMonths: String(q.termMonths || 12),
      mode: q.drivers === 'unlimited' ? 'unlimited' : 'list',
      drivers: Array.isArray(q.drivers) && q.drivers.length
        ? q.drivers.map(d => ({ age: String(d.age ?? ''), exp: String(d.experienceYears ?? ''), cls: String(d.kbmClass ?? '3') }))
        : [{}],
      ownerClass: String(q.ownerKbmClass || '3'), tb: q.tb == null ? '' : String(q.tb), kn: !!q.kn, trailer: !!q.trailer, date: q.date || today(),
    };
  }

  function writeRaw(raw) {
    owner.value = raw.owner;
    category.value = raw.category;
    powerInput.value = raw.power;
    registration.value = raw.registration;
    taxi.input.checked = raw.taxi;
    terr.code = raw.territory.code;
    terr.info = raw.territory.info;
    // The name in this page's language (the language may have changed since).
    const chosen = terr.code && raw.territory.text === raw.territory.name && territoryNames.has(terr.code);
    terr.name = chosen ? territoryLabel(terr.code) : raw.territory.name;
    territoryInput.value = chosen ? terr.name : raw.territory.text;
    ktInput.value = raw.kt;
    months.value = raw.months;
    termUnit.value = raw.termUnit;
    termDays.value = raw.termDays;
    termMonths.value = raw.termMonths;
    mode.value = raw.mode;
    for (const r of rows.splice(0)) r.el.remove();
    for (const d of raw.drivers) addRow(d);
    ownerClass.value = raw.ownerClass;
    tbInput.value = raw.tb;
    kn.input.checked = raw.kn;
    trailer.input.checked = raw.trailer;
    dateInput.value = raw.date;
    for (const f of allFields()) { f.touched = false; setError(f, ''); }
    formError(null);
    sync();
    paintTerritoryHint();
    if (terr.code && !terr.info) {
      fetchTerritories('').then(r => {
        const o = (r.territories || []).find(x => x.code === terr.code);
        if (o && !closed && terr.code === o.code) {
          terr.info = o;
          terr.name = getLang() === 'en' ? o.nameEn || o.name : o.name;
          territoryInput.value = terr.name;
          paintTerritoryHint();
        }
      }).catch(() => {});
    }
  }

  const draft = drafts.get(s.userId);
  if (draft) {
    writeRaw(draft.raw);
    if (draft.current) showResult(draft.current.request, draft.current.result, draft.current.savedId, false);
  } else {
    addRow({});
    sync();
  }
  saved.load(true);

  return {
    cleanup() {
      closed = true;
      search.cancel();
      drafts.set(s.userId, { raw: readRaw(), current });
    },
  };
}
