// The message menu: a proper menu (role=menu, menuitems; ↑/↓/Home/End move, Escape and Tab
// close, focus returns to what opened it), opened from a message's «⋯» button, by right-click,
// a 500 ms long-press on touch, or the ContextMenu key / Shift+F10 on a message.
import { h, focus } from '../util.js';
import { t } from '../i18n.js';

const PATHS = {
  reply: 'M10 8L4 13l6 5M4 13h10a6 6 0 0 1 6 6',
  copy: 'M8 8h12v12H8zM4 16V4h12',
  forward: 'M14 8l6 5-6 5M20 13H10a6 6 0 0 0-6 6',
  pin: 'M9 4h6l-1 6 3 3v2H7v-2l3-3zM12 15v6',
  edit: 'M4 20h4L19 9l-4-4L4 16zM14 6l4 4',
  trash: 'M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13',
  hide: 'M3 12s3.5-6 9-6 9 6 9 6-3.5 6-9 6-9-6-9-6zM12 14.5a2.5 2.5 0 1 0 0-5 2.5 2.5 0 0 0 0 5zM4 4l16 16',
  flag: 'M5 21V4h11l-1.5 4H20l-2 7H10l1-3H5',
  smile: 'M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18zM8.5 14.5c1.8 2 5.2 2 7 0M9 9.5h.01M15 9.5h.01',
};

function glyph(name) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const p = document.createElementNS(ns, 'path');
  p.setAttribute('d', PATHS[name] || '');
  svg.append(p);
  return svg;
}

let open = null; // the menu on screen: { el, close }

/** Closes the menu on screen, if any (without moving focus). */
export function closeMessageMenu() {
  open?.close(false);
}

/**
 * Shows a menu of `items` ([{label, icon, testid, danger, run}], falsy ones skipped) next to
 * `anchor`, or at the point {x, y} when given. Focus goes to the first item and returns to
 * `returnTo` (default: the anchor) when the menu closes without choosing, and before `run`.
 */
export function openMessageMenu({ anchor, point, items, returnTo, label }) {
  open?.close(false);
  const back = returnTo || anchor;
  const list = items.filter(Boolean);
  const buttons = list.map(item => h('button', {
    type: 'button', role: 'menuitem', tabindex: '-1', class: item.danger ? 'danger' : null, testid: item.testid,
    onClick: () => { close(true); item.run(); },
  }, item.icon && glyph(item.icon), h('span', { text: item.label })));
  const el = h('div', { class: 'msg-menu', role: 'menu', testid: 'message-menu', 'aria-label': label || t('messageMenu') }, buttons);
  document.body.append(el);
  const w = el.offsetWidth, ht = el.offsetHeight;
  let x, y;
  if (point) { x = point.x; y = point.y; } else {
    const r = anchor.getBoundingClientRect();
    x = r.right - w;
    y = r.top - ht - 4 > 8 ? r.top - ht - 4 : r.bottom + 4;
  }
  el.style.left = Math.max(8, Math.min(innerWidth - w - 8, x)) + 'px';
  el.style.top = Math.max(8, Math.min(innerHeight - ht - 8, y)) + 'px';

  function close(refocus = true) {
    if (!el.isConnected) return;
    el.remove();
    document.removeEventListener('pointerdown', outside, true);
    document.removeEventListener('keydown', onEscape, true);
    removeEventListener('resize', onAway);
    removeEventListener('scroll', onAway, true);
    if (open?.el === el) open = null;
    if (refocus && back?.isConnected) focus(back);
  }
  const outside = e => { if (!el.contains(e.target)) close(false); };
  // Escape closes the menu wherever focus went (a tap on its padding leaves focus on the page).
  const onEscape = e => { if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); close(true); } };
  document.addEventListener('keydown', onEscape, true);
  // A resize (target: the window) or a scroll outside the menu closes it; its own scroll does not.
  const onAway = e => { if (!(e?.target instanceof Node) || !el.contains(e.target)) close(false); };
  document.addEventListener('pointerdown', outside, true);
  addEventListener('resize', onAway);
  addEventListener('scroll', onAway, true);
  el.addEventListener('keydown', e => {
    const i = buttons.indexOf(document.activeElement);
    const n = buttons.length;
    const to = { ArrowDown: i + 1, ArrowUp: i - 1, Home: 0, End: n - 1 }[e.key];
    if (to !== undefined) { e.preventDefault(); focus(buttons[(to + n) % n]); }
    else if (e.key === 'Tab') { e.preventDefault(); close(true); }
    else if (e.key.length === 1 && /\S/.test(e.key)) {
      // Type-ahead: the next item whose label starts with the letter.
      const k = e.key.toLowerCase();
      for (let j = 1; j <= n; j++) {
        const b = buttons[(Math.max(i, 0) + j) % n];
        if (b.textContent.trim().toLowerCase().startsWith(k)) { focus(b); break; }
      }
    }
  });
  el.addEventListener('focusout', e => { if (e.relatedTarget && !el.contains(e.relatedTarget)) close(false); });
  open = { el, close };
  focus(buttons[0]);
  return open;
}

/**
 * Opens `show(row, how)` for the message rows of `listEl` by right-click, long-press on
 * touch (500 ms) and the ContextMenu key / Shift+F10. `how` is {point} or {keyboard: el}.
 * Links, media and a selection inside the bubble keep the browser's own menu on right-click.
 */
export function menuTriggers(listEl, show) {
  const rowOf = target => target?.closest?.('[data-testid="message"]');
  let press = null;
  let pressedOpen = 0;
  const cancel = () => { if (press) { clearTimeout(press.timer); press = null; } };

  listEl.addEventListener('contextmenu', e => {
    const row = rowOf(e.target);
    if (!row || !row._m) return;
    cancel();
    if (Date.now() - pressedOpen < 1000) { e.preventDefault(); return; } // the long-press already opened it
    const sel = getSelection();
    if (e.target.closest('a, img, video, audio, input, textarea') && e.pointerType !== 'touch') return;
    if (sel && !sel.isCollapsed && row.contains(sel.anchorNode)) return;
    if (show(row, { point: { x: e.clientX, y: e.clientY } })) e.preventDefault();
  });

  listEl.addEventListener('pointerdown', e => {
    if (e.pointerType !== 'touch') return;
    const row = rowOf(e.target);
    if (!row || !row._m) return;
    const start = { x: e.clientX, y: e.clientY };
    clearTimeout(press?.timer);
    press = {
      start,
      timer: setTimeout(() => {
        press = null;
        if (show(row, { point: start })) {
          pressedOpen = Date.now();
          // Lifting the finger taps whatever is under it now (the menu): that tap is not a choice.
          const swallow = ev => {
            ev.preventDefault();
            ev.stopPropagation();
            if (open && !open.el.contains(document.activeElement)) focus(open.el.querySelector('[role="menuitem"]'));
          };
          document.addEventListener('click', swallow, { capture: true, once: true });
          setTimeout(() => document.removeEventListener('click', swallow, true), 1500);
        }
      }, 500),
    };
  }, { passive: true });
  listEl.addEventListener('pointermove', e => {
    if (press && Math.hypot(e.clientX - press.start.x, e.clientY - press.start.y) > 10) cancel();
  }, { passive: true });
  listEl.addEventListener('pointerup', cancel);
  listEl.addEventListener('pointercancel', cancel);
  listEl.addEventListener('scroll', cancel, { passive: true });

  listEl.addEventListener('keydown', e => {
    if (!(e.key === 'ContextMenu' || (e.shiftKey && e.key === 'F10'))) return;
    const row = rowOf(e.target);
    if (!row || !row._m) return;
    if (show(row, { keyboard: e.target })) e.preventDefault();
  });
}
