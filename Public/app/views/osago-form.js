// The OSAGO form. Simple mode asks only what a driver knows (car type, engine power, place of
// registration, drivers or «любой водитель», period); the insurer's and the lawyer's inputs
// (owner kind, registration abroad or transit, taxi, КТ override, base rate ТБ, КН, trailer,
// policy date) sit behind «Для профессионалов». Builds the quote request and keeps the state.
import { h } from '../util.js';
import { t } from '../i18n.js';
import { dec, whole, parseDecimal } from './insurance.js';
import { fieldKit, num, today } from './osago-fields.js';
import { territoryPicker, territoryLabel } from './osago-territory.js';
import { driversPart } from './osago-drivers.js';
import { corridorOf, minMonthsOf } from './osago-tariff.js';

const REGISTRATIONS = ['russia', 'foreign', 'transit'];

/**
 * The form. opts: {s, uid, main, tariff, closed(), dateChanged(date)}.
 * Returns {el, calcBtn, formAlert, formError(msg), allFields(), fieldFor(path), request(),
 * read(), write(raw), kit, openExpert(), setTariff(t)}.
 */
export function osagoForm({ s, uid, main, tariff: initial, closed, dateChanged }) {
  let tariff = initial;
  const formAlert = h('div', { class: 'alert', testid: 'form-error', role: 'alert', hidden: true });
  const formError = msg => { formAlert.textContent = msg || ''; formAlert.hidden = !msg; };
  const kit = fieldKit(uid, () => formError(null));
  const { field, text, select, checkbox, radios, watch, validate } = kit;
  const fields = new Map();

  // Vehicle (simple)
  const categoryOptions = () => (tariff.categories || []).map(c => [c, t('category_' + c)]);
  const category = select('category-select', categoryOptions(), (tariff.categories || [])[0] || 'B');
  const fCategory = field('vehicle.category', t('carTypeLabel'), category);
  const isCar = () => category.value === 'B' || category.value === 'BE';
  const powerInput = text('power-input', { inputmode: 'decimal', maxlength: 7, placeholder: '150' });
  const fPower = field('vehicle.powerHp', t('powerLabel'), powerInput, {
    hint: t('powerHint'),
    check: final => {
      const v = parseDecimal(powerInput.value);
      if (v === null) return t('errPowerNumber');
      if (v === '') return final && isCar() ? t('errPowerRequired') : '';
      if (Number(v) <= 0) return t('errPowerPositive');
      if (Number(v) > 3000) return t('errPowerLarge');
      return '';
    },
  });

  // Expert controls first (the simple fields' checks read them)
  const owner = radios('owner', t('ownerLabel'), [['individual', t('owner_individual')], ['legal_entity', t('owner_legal_entity')]], 'individual', 'owner');
  const registration = select('registration-select', REGISTRATIONS.map(r => [r, t('registration_' + r)]), 'russia');
  const fRegistration = field('vehicle.registration', t('registrationLabel'), registration);
  const taxi = checkbox('taxi-toggle', t('taxiLabel'));
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
  const tbInput = text('tb-input', { inputmode: 'decimal', maxlength: 9, placeholder: t('tbPlaceholderSimple') });
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
  const termUnit = radios('term-unit', t('termLabel'), [['days', t('termDays')], ['months', t('termMonthsOpt')]], 'months', 'term-unit');
  const termDays = text('term-days-input', { inputmode: 'numeric', maxlength: 2, placeholder: '15' });
  const fTermDays = field('termDays', t('termDaysLabel'), termDays, {
    check: final => {
      const v = termDays.value.trim();
      if (!v) return final ? t('errTermDays') : '';
      if (!final && v === '1') return ''; // may become 10…15
      return /^\d+$/.test(v) && Number(v) >= 5 && Number(v) <= 15 ? '' : t('errTermDays');
    },
  });
  const termMonths = select('term-months-select', Array.from({ length: 12 }, (_, i) => [String(i + 1), t('monthsN', { n: i + 1 })]), '12');
  const fTermMonths = field('termMonths', t('termMonthsLabel'), termMonths);

  // Place of registration and period (simple)
  const territory = territoryPicker({
    s, kit, uid, main, closed,
    date: () => dateInput.value || today(),
    required: () => registration.value === 'russia' && !ktInput.value.trim(),
    edited: () => formError(null),
  });
  const fTerritory = territory.field;
  const months = select('period-select', Array.from({ length: 10 }, (_, i) => [String(i + 3), t('monthsN', { n: i + 3 })]), '12');
  const fMonths = field('periodMonths', t('periodLabel'), months, {
    hint: t('periodHint'),
    check: () => (Number(months.value) < minMonthsOf(tariff, owner.value) ? t('errPeriodLegal') : ''),
  });

  const drivers = driversPart({ kit, uid, tariff });

  for (const f of [fTerritory, fKt, fCategory, fPower, fRegistration, fMonths, fTermDays, fTermMonths, drivers.fOwnerClass, fTb, fDate]) fields.set(f.path, f);
  fields.set('drivers', drivers.fDrivers);
  const ownerErr = h('div', { class: 'hint bad field-msg', testid: 'field-error', 'data-field': 'owner', hidden: true });
  owner.el.append(ownerErr);
  fields.set('owner', { path: 'owner', label: t('ownerLabel'), control: owner.inputs[0].input, err: ownerErr, box: owner.el });
  watch(fKt, () => fTerritory);
  watch(fPower);
  watch(fTermDays);
  watch(fTb);
  watch(fDate);
  months.addEventListener('change', () => validate(fMonths, true));

  // Groups shown by registration / category
  const russiaBox = h('div', {}, fMonths.box);
  const foreignBox = h('div', {}, termUnit.el, h('div', { class: 'grid-2' }, fTermDays.box, fTermMonths.box));
  const transitBox = h('div', {}, h('p', { class: 'hint note', text: t('transitNote') }));
  const territoryBox = h('div', {}, fTerritory.box);
  const foreignKtNote = h('p', { class: 'hint note', text: t('foreignKtNote') });
  const changedTag = h('span', { class: 'tag expert-changed', testid: 'osago-expert-changed', hidden: true, text: t('expertChanged') });
  const expert = h('details', { class: 'section expert', testid: 'osago-expert' },
    h('summary', { testid: 'osago-expert-toggle' }, h('span', { class: 'expert-title', text: t('expertTitle') }), changedTag),
    h('p', { class: 'hint', text: t('expertLead') }),
    owner.el, fRegistration.box, taxi.el, foreignKtNote, foreignBox, transitBox, fKt.box, fTb.box,
    h('div', { class: 'grid-2 checks' }, kn.el, trailer.el), fDate.box);

  function corridor() {
    return corridorOf(tariff, { owner: owner.value, category: category.value, taxi: isCar() && taxi.input.checked });
  }
  function paintCorridor() {
    const c = corridor();
    fTb.hintEl.hidden = false;
    fTb.hintEl.textContent = c ? t('tbHintTypical', { min: whole(c.min), max: whole(c.max), typical: whole(c.typical) }) : t('tbHintNone');
  }
  const isExpertChanged = () => owner.value !== 'individual' || registration.value !== 'russia' || taxi.input.checked
    || !!ktInput.value.trim() || !!tbInput.value.trim() || kn.input.checked || trailer.input.checked || (dateInput.value && dateInput.value !== today());

  function sync() {
    const reg = registration.value;
    russiaBox.hidden = reg !== 'russia';
    foreignBox.hidden = reg !== 'foreign';
    transitBox.hidden = reg !== 'transit';
    territoryBox.hidden = reg !== 'russia';
    fKt.box.hidden = reg !== 'russia';
    foreignKtNote.hidden = reg !== 'foreign';
    const days = termUnit.value === 'days';
    fTermDays.box.hidden = !days;
    fTermMonths.box.hidden = days;
    taxi.el.hidden = !isCar();
    if (!isCar()) taxi.input.checked = false;
    fPower.hintEl.textContent = isCar() ? t('powerHint') : t('powerHintMoto');
    drivers.sync();
    paintCorridor();
    changedTag.hidden = !isExpertChanged();
    for (const f of [fMonths, fTermDays, fTerritory]) if (f.touched || !f.err.hidden) validate(f, f.touched);
  }
  for (const el of [registration, category, taxi.input, ...owner.inputs.map(i => i.input), ...termUnit.inputs.map(i => i.input)]) {
    el.addEventListener('change', sync);
  }
  for (const el of [ktInput, tbInput, kn.input, trailer.input]) el.addEventListener('input', () => { changedTag.hidden = !isExpertChanged(); });
  for (const el of [kn.input, trailer.input]) el.addEventListener('change', () => { changedTag.hidden = !isExpertChanged(); });
  dateInput.addEventListener('change', () => { sync(); territory.refresh(); dateChanged(dateInput.value || today()); });

  const calcBtn = h('button', { class: 'btn btn-primary btn-block', type: 'submit', testid: 'calculate' }, t('calculate'));
  const el = h('form', { class: 'osago-form', testid: 'osago-form', novalidate: true, 'aria-labelledby': uid + '-form-h' },
    h('h2', { id: uid + '-form-h', class: 'sr-only', text: t('osagoFormTitle') }),
    h('section', { class: 'section', 'aria-labelledby': uid + '-veh-h' },
      h('h2', { id: uid + '-veh-h', text: t('carSection') }),
      h('div', { class: 'grid-2' }, fCategory.box, fPower.box),
      territoryBox, russiaBox),
    h('section', { class: 'section', 'aria-labelledby': uid + '-drv-h' },
      h('h2', { id: uid + '-drv-h', text: t('driversSection') }),
      drivers.el),
    expert,
    formAlert,
    calcBtn);

  function allFields() {
    return [fTerritory, fKt, fCategory, fPower, fRegistration, fMonths, fTermDays, fTermMonths, ...drivers.fields(), fTb, fDate];
  }

  /** The field for a server error path ("drivers[1].age"), or null. */
  function fieldFor(path) {
    const m = /^drivers\[(\d+)\]\.(\w+)$/.exec(path || '');
    if (m) return drivers.fieldFor(Number(m[1]), m[2]);
    if (path === 'territory' && registration.value !== 'russia') return null;
    return fields.get(path) || null;
  }

  function request() {
    const reg = registration.value;
    const req = {
      date: dateInput.value || today(),
      owner: owner.value,
      vehicle: { category: category.value, registration: reg, taxi: isCar() && taxi.input.checked },
    };
    const power = parseDecimal(powerInput.value);
    if (power) req.vehicle.powerHp = num(power);
    if (reg === 'russia') {
      if (territory.terr.code) req.territory = territory.terr.code;
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
    Object.assign(req, drivers.request());
    req.kn = kn.input.checked;
    req.trailer = trailer.input.checked;
    return req;
  }

  const read = () => ({
    owner: owner.value, category: category.value, power: powerInput.value, registration: registration.value,
    taxi: taxi.input.checked, territory: territory.read(), kt: ktInput.value, months: months.value,
    termUnit: termUnit.value, termDays: termDays.value, termMonths: termMonths.value, ...drivers.read(),
    tb: tbInput.value, kn: kn.input.checked, trailer: trailer.input.checked, date: dateInput.value, expert: expert.open,
  });

  function write(raw) {
    owner.value = raw.owner;
    category.value = (tariff.categories || []).includes(raw.category) ? raw.category : (tariff.categories || ['B'])[0];
    powerInput.value = raw.power;
    registration.value = REGISTRATIONS.includes(raw.registration) ? raw.registration : 'russia';
    taxi.input.checked = raw.taxi;
    territory.set(raw.territory);
    ktInput.value = raw.kt;
    months.value = raw.months;
    if (!months.value) months.value = '12';
    termUnit.value = raw.termUnit;
    termDays.value = raw.termDays;
    termMonths.value = raw.termMonths;
    if (!termMonths.value) termMonths.value = '12';
    drivers.write(raw);
    tbInput.value = raw.tb;
    kn.input.checked = raw.kn;
    trailer.input.checked = raw.trailer;
    dateInput.value = raw.date;
    expert.open = !!raw.expert || isExpertChanged();
    for (const f of allFields()) { f.touched = false; kit.setError(f, ''); }
    formError(null);
    sync();
  }

  return {
    el, calcBtn, formAlert, formError, allFields, fieldFor, request, read, write, kit, sync,
    cancel: () => territory.cancel(),
    openExpert: () => { expert.open = true; },
    date: () => dateInput.value || today(),
    setTariff(next) { tariff = next; paintCorridor(); },
  };
}

/** The form state of a quote request (a saved calculation or a calc link); unknown values fall back to defaults. */
export function rawFromRequest(q) {
  const str = v => (v == null || (typeof v !== 'number' && typeof v !== 'string') ? '' : dec(v)).replace(/^—$/, '');
  const int = (v, d) => (Number.isInteger(v) ? String(v) : d);
  const code = typeof q.territory === 'string' && q.territory !== 'foreign' ? q.territory : null;
  const v = q.vehicle || {};
  return {
    owner: q.owner === 'legal_entity' ? 'legal_entity' : 'individual', category: typeof v.category === 'string' ? v.category : 'B',
    power: str(v.powerHp), registration: v.registration || 'russia', taxi: v.taxi === true,
    territory: { code, name: code ? territoryLabel(code) : '', info: null, text: '' },
    kt: str(q.kt), months: int(q.periodMonths, '12'), termUnit: q.termDays ? 'days' : 'months',
    termDays: int(q.termDays, ''), termMonths: int(q.termMonths, '12'),
    mode: q.drivers === 'unlimited' ? 'unlimited' : 'list',
    drivers: Array.isArray(q.drivers) && q.drivers.length
      ? q.drivers.slice(0, 10).map(d => ({ age: int(d?.age, ''), exp: int(d?.experienceYears, ''), cls: String(d?.kbmClass ?? '3') }))
      : [{}],
    ownerClass: String(q.ownerKbmClass || '3'), tb: q.tb == null ? '' : str(q.tb), kn: q.kn === true, trailer: q.trailer === true,
    date: typeof q.date === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(q.date) ? q.date : today(),
  };
}
