// #/insurance/osago: the OSAGO calculator. Reads the tariff tables from the server
// (osago-tariff.js; loading and retry states), builds the form (osago-form.js: simple mode,
// «Для профессионалов»), prices on the server (osago-quote), shows the result
// (osago-result.js; a sticky price bar on phones) and the saved calculations
// (osago-saved.js, shared to chats by osago-share.js). `?calc=<base64url request>` (a shared
// calculation or the assistant's link) fills the form and prices it.
import { h, clear, focus } from '../util.js';
import { t } from '../i18n.js';
import { announce } from '../toast.js';
import { errorState } from './common.js';
import { sectionHead, dec, whole, insuranceAssets } from './insurance.js';
import { osagoForm, rawFromRequest } from './osago-form.js';
import { today } from './osago-fields.js';
import { territoryLabel } from './osago-territory.js';
import { resultCard, priceBar } from './osago-result.js';
import { savedList } from './osago-saved.js';
import { loadTariff } from './osago-tariff.js';
import { decodeCalc } from './osago-card.js';

const drafts = new Map(); // userId → the form and result as last left (this tab's memory only)

/** A short title of a request: place, category, power, base rate. */
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

/** The calc parameter of the route's query ('' when absent). */
function calcOf(route) {
  const q = route?.query ?? (location.hash.split('?')[1] || '');
  return new URLSearchParams(q).get('calc');
}

export function osagoView(main, s, route) {
  let closed = false;
  let view = null;
  const uid = 'o' + Math.random().toString(36).slice(2, 7);
  const body = h('div', { class: 'osago-body' });
  const notice = h('div', { class: 'alert info', testid: 'osago-calc-notice', role: 'status', hidden: true });
  clear(main, h('div', { class: 'page wide osago-page' },
    sectionHead('osago', t('osagoTitle')),
    h('p', { class: 'lead-text muted', text: t('osagoLead') }),
    notice, body));
  const calc = calcOf(route);
  if (calc != null) history.replaceState(null, '', '#/insurance/osago'); // applied once; a reload keeps the form

  async function start() {
    clear(body, h('div', { class: 'section', role: 'status', 'aria-busy': 'true', testid: 'osago-loading' },
      h('div', { class: 'skel l big' }), h('div', { class: 'skel l' }), h('div', { class: 'skel l short' }),
      h('span', { class: 'sr-only', text: t('loading') })));
    let tariff;
    try {
      [tariff] = await Promise.all([loadTariff(s, drafts.get(s.userId)?.raw?.date || today()), insuranceAssets()]);
    } catch (e) {
      if (!closed) clear(body, h('section', { class: 'section', testid: 'osago-tariff-error' }, h('p', { text: t('tariffLoadFailed') }), errorState(e, start)));
      return;
    }
    if (closed) return;
    view = mount(tariff);
  }

  function mount(tariff) {
    let current = null; // {request, result, savedId}
    let calcSeq = 0;
    const form = osagoForm({
      s, uid, main, tariff, closed: () => closed,
      dateChanged: date => loadTariff(s, date).then(next => { if (!closed) form.setTariff(next); }).catch(() => {}),
    });
    const resultBox = h('div', { class: 'osago-result-box' });
    const bar = priceBar(() => {
      const head = resultBox.querySelector('h2');
      head?.scrollIntoView?.({ block: 'start' });
      focus(head);
    });
    // Editing the form after a result marks that result as describing other inputs.
    const markStale = () => {
      const el = resultBox.querySelector('.osago-result');
      if (el && !el.classList.contains('stale')) { el.classList.add('stale'); el.querySelector('.stale-note').hidden = false; }
    };
    form.el.addEventListener('input', markStale);
    form.el.addEventListener('change', markStale);
    const saved = savedList({
      s, uid, closed: () => closed, title: autoTitle,
      open: item => { form.write(rawFromRequest(item.request || {})); if (item.result) showResult(item.request, item.result, item.id, true); },
      deleted: id => { if (current?.savedId === id) current.savedId = null; },
    });
    clear(body, h('div', { class: 'osago-grid' }, form.el, h('div', { class: 'osago-side' }, resultBox, saved.section)), bar.el);

    function showResult(request, r, savedId, fresh) {
      current = { request, result: r, savedId: savedId || null };
      const mine = current;
      const card = resultCard({
        uid, request, result: r, saved: !!savedId, title: autoTitle(request),
        save: async title => {
          const item = await s.rpc('save_osago_calculation', { request: mine.request, title });
          if (closed) return false;
          mine.savedId = item.id;
          saved.prepend(item);
          return current === mine;
        },
      });
      clear(resultBox, card.el);
      bar.show(r);
      if (fresh) {
        announce(card.spoken);
        const reduce = matchMedia('(prefers-reduced-motion: reduce)').matches;
        resultBox.scrollIntoView?.({ block: 'start', behavior: reduce ? 'auto' : 'smooth' });
        focus(card.head);
      }
    }

    function clearResult(cancel = true) {
      if (cancel) calcSeq++; // a quote still on its way is dropped
      current = null;
      clear(resultBox);
      bar.hide();
    }

    async function calculate() {
      form.formError(null);
      let first = null;
      let count = 0;
      for (const f of form.allFields()) {
        f.touched = true;
        if (!form.kit.validate(f, true)) { count++; first ||= f; }
      }
      if (first) {
        // No result for inputs that cannot be priced (an older one would describe other inputs).
        clearResult();
        form.formError(t('errFixFields', { n: count }));
        if (first.box.closest('details')) first.box.closest('details').open = true;
        first.box.scrollIntoView?.({ block: 'center' });
        focus(first.control);
        return;
      }
      const request = form.request();
      const mine = ++calcSeq;
      form.calcBtn.disabled = true;
      form.el.setAttribute('aria-busy', 'true');
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
          const f = form.fieldFor(err.field);
          if (f?.box?.closest('details')) f.box.closest('details').open = true;
          if (f && f.box && !f.box.closest('[hidden]')) {
            form.kit.setError(f, t('serverFieldError', { label: f.label, msg }));
            f.touched = true;
            form.formError(t('errFixFields', { n: 1 }));
            focus(f.control);
          } else {
            form.formError(t('serverFieldError', { label: err.field, msg }));
            focus(form.formAlert);
          }
          clearResult(false);
        } else {
          clear(resultBox, h('section', { class: 'section' }, errorState(err, calculate)));
          bar.hide();
        }
      } finally {
        if (mine === calcSeq) { form.calcBtn.disabled = false; form.el.removeAttribute('aria-busy'); }
      }
    }
    form.el.addEventListener('submit', e => { e.preventDefault(); calculate(); });

    const draft = drafts.get(s.userId);
    if (draft) {
      form.write(draft.raw);
      if (draft.current) showResult(draft.current.request, draft.current.result, draft.current.savedId, false);
    } else {
      form.write(rawFromRequest({}));
    }
    if (calc != null) {
      const request = decodeCalc(calc);
      if (!request) {
        notice.hidden = false;
        notice.textContent = t('calcLinkBad');
      } else {
        form.write(rawFromRequest(request));
        clearResult();
        notice.hidden = false;
        notice.textContent = t('calcLinkApplied');
        calculate();
      }
    }
    saved.load(true);
    return { cleanup: () => { form.cancel(); drafts.set(s.userId, { raw: form.read(), current }); } };
  }

  function resultSkeleton() {
    return h('section', { class: 'section', 'aria-busy': 'true', role: 'status', 'aria-label': t('calculating') },
      h('div', { class: 'skel l big' }), h('div', { class: 'skel l' }), h('div', { class: 'skel l short' }), h('div', { class: 'skel l' }),
      h('span', { class: 'sr-only', text: t('calculating') }));
  }

  start();
  return {
    cleanup() {
      closed = true;
      view?.cleanup();
    },
  };
}
