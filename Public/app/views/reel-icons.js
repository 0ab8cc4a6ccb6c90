// The reels' own icons (24×24 strokes, like util.js's): heart, comment, bookmark, share,
// more, sound on/off, play. Decorative: the buttons carry the words.
const PATHS = {
  heart: 'M12 20.5S3.5 15.3 3.5 9.2A4.7 4.7 0 0 1 12 6.6a4.7 4.7 0 0 1 8.5 2.6c0 6.1-8.5 11.3-8.5 11.3z',
  comment: 'M4 5h16v11h-9l-5 4v-4H4z',
  bookmark: 'M6.5 3.5h11v17L12 16.5l-5.5 4z',
  share: 'M21 3L10 14M21 3l-7 18-4-7-7-4z',
  more: 'M5 12h.01M12 12h.01M19 12h.01',
  sound: 'M4 9.5h3.5L12 5.5v13l-4.5-4H4zM15.5 9a4 4 0 0 1 0 6M18 6.5a7.5 7.5 0 0 1 0 11',
  muted: 'M4 9.5h3.5L12 5.5v13l-4.5-4H4zM16 9.5l5 5M21 9.5l-5 5',
  upload: 'M12 16V4M7 9l5-5 5 5M4 15v5h16v-5',
};

/** An <svg> icon, hidden from assistive technology. */
export function reelIcon(name) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', 'ri-' + name);
  const p = document.createElementNS(ns, 'path');
  p.setAttribute('d', PATHS[name] || '');
  svg.append(p);
  return svg;
}
