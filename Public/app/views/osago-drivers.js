// The drivers part of the OSAGO form: a list of drivers (age, years of experience, КБМ
// class) or «любой водитель» with the owner's class, and what КБМ is and how to look it up.
// The class list and its КБМ come from the server's tariff tables.
import { h, icon, focus } from '../util.js';
import { t } from '../i18n.js';
import { announce } from '../toast.js';
import { dec } from './insurance.js';
import { isInt } from './osago-fields.js';
import { classesOf, kbmOf, startClassOf } from './osago-tariff.js';

const RSA_URL = 'https://autoins.ru/';

/** КБМ class options: the start class says it is the one to keep when unsure. */
export function classOptions(tariff) {
  const start = startClassOf(tariff);
  return classesOf(tariff).map(c => [c, c === start
    ? t('kbmStartOption', { c, k: dec(kbmOf(tariff, c)) })
    : t('kbmClassOption', { c, k: dec(kbmOf(tariff, c)) })]);
}

/** The «if you do not know your class» explanation (a disclosure with how to look it up). */
export function kbmHelp(tariff) {
  return h('details', { class: 'kbm-help', testid: 'kbm-help' },
    h('summary', { testid: 'kbm-help-toggle', text: t('kbmHelpSummary', { c: startClassOf(tariff) }) }),
    h('p', { text: t('kbmHelpWhat') }),
    h('ul', {},
      h('li', {}, t('kbmHelpRsa'), ' ',
        h('a', { href: RSA_URL, target: '_blank', rel: 'noopener noreferrer', testid: 'kbm-help-rsa', text: 'autoins.ru' })),
      h('li', { text: t('kbmHelpInsurer') }),
      h('li', { text: t('kbmHelpPolicy') })),
    h('p', { class: 'hint', text: t('kbmHelpStart', { c: startClassOf(tariff), k: dec(kbmOf(tariff, startClassOf(tariff))) }) }));
}

/** The drivers section. opts: {kit, uid, tariff, maxDrivers}. */
export function driversPart({ kit, uid, tariff }) {
  const max = Math.min(tariff?.drivers?.maximum || 10, 10);
  const mode = kit.radios('drivers', t('driversLabel'), [['list', t('driversList')], ['unlimited', t('driversAnyone')]], 'list', 'driver-mode');
  const rowsBox = h('div', { class: 'driver-rows' });
  const rows = [];
  const addBtn = h('button', {
    class: 'btn btn-small', type: 'button', testid: 'add-driver',
    onClick: () => { const r = addRow({}); focus(r.age.control); announce(t('driverAdded', { n: rows.length })); },
  }, icon('plus'), t('addDriver'));
  const driversMsg = h('div', { class: 'hint bad field-msg', testid: 'field-error', 'data-field': 'drivers', hidden: true });
  const fDrivers = { path: 'drivers', label: t('driversLabel'), control: addBtn, err: driversMsg, box: rowsBox };
  const ownerClass = kit.select('owner-class-select', classOptions(tariff), startClassOf(tariff));
  const fOwnerClass = kit.field('ownerKbmClass', t('ownerClassLabel'), ownerClass, { hint: t('ownerClassHint') });

  function addRow(d) {
    const n = Math.random().toString(36).slice(2, 7);
    const r = { n };
    const age = kit.text('driver-age-input', { id: `${uid}-d${n}-age`, inputmode: 'numeric', maxlength: 3, value: d.age ?? '' });
    const exp = kit.text('driver-experience-input', { id: `${uid}-d${n}-exp`, inputmode: 'numeric', maxlength: 2, value: d.exp ?? '' });
    const cls = kit.select('driver-class-select', classOptions(tariff), d.cls ?? startClassOf(tariff));
    cls.id = `${uid}-d${n}-cls`;
    r.age = kit.field('drivers[].age', t('ageLabel'), age, {
      check: final => {
        const v = age.value.trim();
        if (!v) return final ? t('errAgeRequired') : '';
        if (!isInt(v)) return t('errAgeWhole');
        if (Number(v) < 16) return final || v.length > 1 ? t('errAgeMin') : ''; // "3" may become "35"
        if (Number(v) > 110) return t('errAgeMax');
        return '';
      },
    });
    r.exp = kit.field('drivers[].experienceYears', t('experienceLabel'), exp, {
      check: final => {
        const v = exp.value.trim();
        if (!v) return final ? t('errExpRequired') : '';
        if (!isInt(v)) return t('errExpWhole');
        const a = age.value.trim();
        if (isInt(a) && Number(a) >= 16 && Number(v) > Number(a) - 16) return t('errExpMax', { max: Number(a) - 16 });
        return '';
      },
    });
    r.cls = kit.field('drivers[].kbmClass', t('kbmClassLabelSimple'), cls, { hint: t('kbmClassHintSimple') });
    kit.watch(r.age, () => r.exp);
    kit.watch(r.exp);
    r.title = h('legend', { class: 'sr-only' });
    r.remove = h('button', {
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
    r.el = h('fieldset', { class: 'driver-row', testid: 'driver-row' },
      r.title, h('div', { class: 'driver-head' }, h('span', { class: 'driver-name', 'aria-hidden': 'true' }), r.remove),
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
      r.el.querySelector('.driver-name').textContent = name;
      r.el.dataset.index = String(i);
      r.remove.setAttribute('aria-label', t('removeDriver', { n: i + 1 }));
      r.remove.disabled = rows.length === 1;
      for (const f of [r.age, r.exp, r.cls]) {
        f.path = f.path.replace(/^drivers\[\d*\]/, `drivers[${i}]`);
        f.err.dataset.field = f.path;
      }
    });
    addBtn.disabled = rows.length >= max;
  }

  const listBox = h('div', {}, rowsBox, driversMsg, h('div', { class: 'actions-row' }, addBtn));
  const unlimitedBox = h('div', {}, h('p', { class: 'hint note', text: t('unlimitedNote') }), fOwnerClass.box);
  const sync = () => { listBox.hidden = mode.value !== 'list'; unlimitedBox.hidden = mode.value !== 'unlimited'; };
  for (const i of mode.inputs) i.input.addEventListener('change', sync);

  return {
    el: h('div', {}, mode.el, listBox, unlimitedBox, kbmHelp(tariff)),
    mode, rows, fDrivers, fOwnerClass, sync,
    fields: () => (mode.value === 'list' ? rows.flatMap(r => [r.age, r.exp, r.cls]) : [fOwnerClass]),
    /** The field of a server error path `drivers[N].key`. */
    fieldFor(index, key) {
      const r = rows[index];
      if (!r) return fDrivers;
      return { age: r.age, experienceYears: r.exp, kbmClass: r.cls }[key] || r.age;
    },
    request() {
      if (mode.value === 'unlimited') return { drivers: 'unlimited', ownerKbmClass: ownerClass.value };
      return {
        drivers: rows.map(r => ({
          age: Number(r.age.control.value.trim()), experienceYears: Number(r.exp.control.value.trim()), kbmClass: r.cls.control.value,
        })),
      };
    },
    read: () => ({
      mode: mode.value, ownerClass: ownerClass.value,
      drivers: rows.map(r => ({ age: r.age.control.value, exp: r.exp.control.value, cls: r.cls.control.value })),
    }),
    write(raw) {
      mode.value = raw.mode;
      for (const r of rows.splice(0)) r.el.remove();
      for (const d of (raw.drivers?.length ? raw.drivers : [{}]).slice(0, max)) addRow(d);
      const cls = classesOf(tariff);
      ownerClass.value = cls.includes(raw.ownerClass) ? raw.ownerClass : startClassOf(tariff);
      for (const r of rows) if (!cls.includes(r.cls.control.value)) r.cls.control.value = startClassOf(tariff);
      sync();
    },
  };
}
