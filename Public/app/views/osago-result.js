// The OSAGO result card: the price (one premium with a base rate; otherwise the range insurers
// may charge and the price at the typical base rate — all from the server's quote), the cap,
// the formula and every coefficient with its reason and confidence, the tariff version, the
// КБМ forecast, and saving. Also the phone's sticky price bar.
import { h } from '../util.js';
import { t } from '../i18n.js';
import { errorText } from './common.js';
import { rub, dec, whole, isoDate } from './insurance.js';

const COEFS = ['tb', 'kt', 'kbm', 'kvs', 'ko', 'km', 'ks', 'kp', 'kn', 'kpr'];

/** The price of a result as one line: "9 441,80 ₽" or "от … до …". */
export function priceText(r) {
  if (r?.premium != null) return rub(r.premium);
  if (r?.range) return t('rangeValue', { min: rub(r.range.min), max: rub(r.range.max) });
  return '';
}

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

function priceBlock(r) {
  if (r.premium != null) {
    return [h('p', { class: 'premium' }, h('span', { class: 'premium-label', text: t('premiumLabel') }),
      h('strong', { class: 'premium-value', testid: 'osago-premium', 'data-value': r.premium, text: rub(r.premium) }))];
  }
  if (!r.range) return [];
  const parts = [h('p', { class: 'premium' }, h('span', { class: 'premium-label', text: t('rangeLabelSimple') }),
    h('strong', { class: 'premium-value', testid: 'osago-range', 'data-min': r.range.min, 'data-max': r.range.max },
      t('rangeValue', { min: rub(r.range.min), max: rub(r.range.max) })))];
  if (r.typical) {
    parts.push(h('p', { class: 'typical', testid: 'osago-typical', 'data-value': r.typical.premium, 'data-tb': r.typical.tb },
      h('span', { class: 'premium-label', text: t('typicalLabel') }),
      h('strong', { class: 'typical-value', text: rub(r.typical.premium) }),
      h('span', { class: 'hint', text: t('typicalNote', { tb: whole(r.typical.tb) }) })));
  }
  parts.push(h('p', { class: 'hint', testid: 'osago-range-note', text: t('rangeNoteSimple', { min: whole(r.range.tbMin), max: whole(r.range.tbMax) }) }));
  return parts;
}

function spokenOf(r) {
  if (r.premium != null) return t('premiumSpoken', { amount: rub(r.premium) });
  if (r.range) return t('rangeSpoken', { min: rub(r.range.min), max: rub(r.range.max) });
  return t('resultTitle');
}

function forecastBlock(uid, fc) {
  if (!fc?.nextYear?.length) return null;
  return h('section', { class: 'forecast', testid: 'osago-forecast', 'aria-labelledby': uid + '-fc-h' },
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
        h('td', { class: 'num', text: dec(y.kbm) })))))));
}

/**
 * The result section. opts: {uid, request, result, saved (bool), title (auto title), save(title) → Promise}.
 * Returns {el, head, spoken}.
 */
export function resultCard({ uid, request, result: r, saved, title, save }) {
  const head = h('h2', { tabindex: '-1', id: uid + '-res-h', text: t('resultTitle') });
  const parts = [head, h('p', { class: 'alert info stale-note', testid: 'osago-result-stale', hidden: true, text: t('resultStale') }), ...priceBlock(r)];
  if (r.capped) {
    parts.push(h('div', { class: 'alert info cap', testid: 'osago-cap-notice', role: 'note' },
      t('capNotice', { m: r.cap?.multiplier ?? '', amount: rub(r.cap?.amount), uncapped: rub(r.uncapped) })));
  } else if (r.range && (r.range.minCapped || r.range.maxCapped)) {
    parts.push(h('div', { class: 'alert info cap', testid: 'osago-cap-notice', role: 'note' }, t('capNoticeRange')));
  } else if (r.cap) {
    parts.push(h('p', { class: 'hint', testid: 'osago-cap', text: t('capNotReached', { m: r.cap.multiplier, amount: rub(r.cap.amount) }) }));
  }
  const co = r.coefficients || {};
  const used = COEFS.filter(k => co[k] != null);
  const extra = Object.keys(co).filter(k => !COEFS.includes(k) && co[k] != null);
  if (used.length) {
    parts.push(h('p', { class: 'formula', testid: 'osago-formula' },
      h('span', { class: 'muted', text: t('formulaLabel') + ' ' }),
      [...(co.tb == null ? [t('tbSymbol')] : []), ...[...used, ...extra].map(k => (k === 'tb' ? whole(co[k]) : dec(co[k])))].join(' × '),
      r.premium != null ? ' = ' + rub(r.premium) : ''));
  }
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
  parts.push(forecastBlock(uid, r.forecast));

  // Save
  const saveTitle = h('input', { class: 'input', id: uid + '-save-title', testid: 'osago-save-title', maxlength: 100, placeholder: title, autocomplete: 'off' });
  const saveBtn = h('button', { class: 'btn btn-primary', type: 'button', testid: 'osago-save' }, t('saveCalculation'));
  const saveStatus = h('div', { class: 'hint', role: 'status', testid: 'osago-save-status' });
  const markSaved = () => { saveBtn.disabled = true; saveBtn.textContent = t('calculationSaved'); saveTitle.disabled = true; };
  if (saved) markSaved();
  saveBtn.addEventListener('click', async () => {
    saveBtn.disabled = true;
    saveStatus.className = 'hint';
    saveStatus.textContent = t('saving');
    try {
      if (await save(saveTitle.value.trim() || title)) { markSaved(); saveStatus.textContent = t('calculationSavedHint'); }
    } catch (err) {
      saveBtn.disabled = false;
      saveStatus.className = 'hint bad';
      saveStatus.textContent = err.status === 409 ? t('errSaveLimit') : errorText(err);
    }
  });
  parts.push(h('div', { class: 'save-row' },
    h('div', { class: 'field' }, h('label', { for: saveTitle.id, text: t('saveTitleLabel') }), saveTitle),
    saveBtn, saveStatus));
  const el = h('section', { class: 'section osago-result', testid: 'osago-result', 'aria-labelledby': head.id }, parts);
  return { el, head, spoken: spokenOf(r) };
}

/** The phone's sticky bar: the current price and a button to the details. Returns {el, show(result), hide()}. */
export function priceBar(onDetails) {
  const price = h('strong', { class: 'price-bar-value' });
  const typical = h('span', { class: 'price-bar-typical' });
  const label = h('span', { class: 'price-bar-label', text: t('priceBarLabel') });
  const el = h('div', { class: 'osago-price-bar', testid: 'osago-price-bar', hidden: true, role: 'region', 'aria-label': t('priceBarLabel') },
    h('div', { class: 'price-bar-text', testid: 'osago-price-bar-value' }, label, price, typical),
    h('button', { class: 'btn btn-primary btn-small', type: 'button', testid: 'osago-price-bar-details', onClick: onDetails }, t('priceBarDetails')));
  return {
    el,
    show(r) {
      price.textContent = priceText(r);
      typical.textContent = r?.premium == null && r?.typical ? t('typicalShort', { amount: rub(r.typical.premium) }) : '';
      typical.hidden = !typical.textContent;
      el.hidden = !r;
    },
    hide() { el.hidden = true; },
  };
}
