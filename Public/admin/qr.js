/**
 * A small QR code encoder (ISO/IEC 18004) for the enrolment screen's otpauth:// link: byte mode
 * (UTF-8), error correction level M, versions 1–10 (up to 213 bytes), Reed–Solomon over GF(256)
 * with the polynomial 0x11D, and the mask chosen by the standard's four penalty rules, scored
 * on the finished symbol (format and version information drawn, as ZXing and Nayuki's
 * encoder do): runs of five or more, 2×2 blocks, finder-like 1:1:3:1:1 patterns with four
 * light modules on a side (outside the symbol counts as light, as the quiet zone is) and the
 * dark/light balance; the lowest mask number wins a tie. Pure: no DOM; `qrPathData` gives an
 * SVG path of the dark modules. Checked module for module against python-qrcode (every mask,
 * versions 1–10) in Tests/e2e/web/test_admin_console.py.
 *
 *   const qr = encodeQR('otpauth://totp/…');  // {version, size, mask, modules: boolean[][]}
 */

// Level M per version: [error correction codewords per block, [blocks, data codewords each], …].
const BLOCKS_M = [
  null,
  [10, [1, 16]], [16, [1, 28]], [26, [1, 44]], [18, [2, 32]], [24, [2, 43]],
  [16, [4, 27]], [18, [4, 31]], [22, [2, 38], [2, 39]], [22, [3, 36], [2, 37]], [26, [4, 43], [1, 44]],
];
// Centres of the alignment patterns per version.
const ALIGNMENT = [null, [], [6, 18], [6, 22], [6, 26], [6, 30], [6, 34], [6, 22, 38], [6, 24, 42], [6, 26, 46], [6, 28, 50]];
const MAX_VERSION = 10;
const FORMAT_LEVEL_M = 0b00;

// GF(256) arithmetic for Reed–Solomon.
const EXP = new Uint8Array(512);
const LOG = new Uint8Array(256);
for (let i = 0, x = 1; i < 255; i++) {
  EXP[i] = x;
  LOG[x] = i;
  x <<= 1;
  if (x & 0x100) x ^= 0x11d;
}
for (let i = 255; i < 512; i++) EXP[i] = EXP[i - 255];
const mul = (a, b) => (a && b ? EXP[LOG[a] + LOG[b]] : 0);

/** The generator polynomial of `degree` (roots α^0 … α^(degree-1)), highest power first, leading 1 left out. */
function generator(degree) {
  let poly = [1];
  for (let i = 0; i < degree; i++) {
    const next = new Array(poly.length + 1).fill(0);
    for (let j = 0; j < poly.length; j++) {
      next[j] ^= poly[j];
      next[j + 1] ^= mul(poly[j], EXP[i]);
    }
    poly = next;
  }
  return poly.slice(1);
}

/** The `degree` error correction codewords of `data` (remainder of data·x^degree by the generator). */
function reedSolomon(data, degree) {
  const gen = generator(degree);
  const rem = new Array(degree).fill(0);
  for (const byte of data) {
    const factor = byte ^ rem.shift();
    rem.push(0);
    for (let i = 0; i < degree; i++) rem[i] ^= mul(gen[i], factor);
  }
  return rem;
}

function dataCodewords(version) {
  const [, ...groups] = BLOCKS_M[version];
  return groups.reduce((sum, [count, size]) => sum + count * size, 0);
}

/** The bytes (mode, count, data, terminator, padding) for `version`. */
function dataBytes(bytes, version) {
  const bits = [];
  const put = (value, length) => { for (let i = length - 1; i >= 0; i--) bits.push((value >>> i) & 1); };
  put(0b0100, 4);
  put(bytes.length, version < 10 ? 8 : 16);
  for (const b of bytes) put(b, 8);
  const capacity = dataCodewords(version) * 8;
  put(0, Math.min(4, capacity - bits.length));
  put(0, (8 - (bits.length % 8)) % 8);
  const out = [];
  for (let i = 0; i < bits.length; i += 8) out.push(bits.slice(i, i + 8).reduce((v, b) => (v << 1) | b, 0));
  for (let pad = 0xec; out.length < capacity / 8; pad ^= 0xec ^ 0x11) out.push(pad);
  return out;
}

/** Data and error correction codewords split into blocks and interleaved. */
function codewords(data, version) {
  const [ecLength, ...groups] = BLOCKS_M[version];
  const blocks = [];
  let offset = 0;
  for (const [count, size] of groups) {
    for (let i = 0; i < count; i++) {
      const part = data.slice(offset, offset + size);
      offset += size;
      blocks.push({ data: part, ec: reedSolomon(part, ecLength) });
    }
  }
  const out = [];
  const longest = Math.max(...blocks.map(b => b.data.length));
  for (let i = 0; i < longest; i++) for (const b of blocks) if (i < b.data.length) out.push(b.data[i]);
  for (let i = 0; i < ecLength; i++) for (const b of blocks) out.push(b.ec[i]);
  return out;
}

/** BCH remainder of `value` (already shifted) by `poly` of degree `degree`. */
function bch(value, poly, degree) {
  let rem = value;
  for (let i = 0; i < degree; i++) rem = (rem << 1) ^ ((rem >>> (degree - 1)) * poly);
  return rem;
}

class Grid {
  constructor(version) {
    this.version = version;
    this.size = version * 4 + 17;
    this.dark = Array.from({ length: this.size }, () => new Array(this.size).fill(false));
    this.fixed = Array.from({ length: this.size }, () => new Array(this.size).fill(false));
  }

  set(x, y, dark) {
    this.dark[y][x] = dark;
    this.fixed[y][x] = true;
  }

  drawFunctionPatterns() {
    const { size, version } = this;
    for (let i = 0; i < size; i++) {
      this.set(6, i, i % 2 === 0);
      this.set(i, 6, i % 2 === 0);
    }
    for (const [cx, cy] of [[3, 3], [size - 4, 3], [3, size - 4]]) {
      for (let dy = -4; dy <= 4; dy++) {
        for (let dx = -4; dx <= 4; dx++) {
          const x = cx + dx, y = cy + dy;
          if (x < 0 || y < 0 || x >= size || y >= size) continue;
          const ring = Math.max(Math.abs(dx), Math.abs(dy));
          this.set(x, y, ring !== 2 && ring !== 4);
        }
      }
    }
    const centres = ALIGNMENT[version];
    const last = centres.length - 1;
    for (let i = 0; i <= last; i++) {
      for (let j = 0; j <= last; j++) {
        if ((i === 0 && j === 0) || (i === 0 && j === last) || (i === last && j === 0)) continue;
        for (let dy = -2; dy <= 2; dy++) {
          for (let dx = -2; dx <= 2; dx++) this.set(centres[i] + dx, centres[j] + dy, Math.max(Math.abs(dx), Math.abs(dy)) !== 1);
        }
      }
    }
    this.drawFormat(0); // reserves the format areas; drawn for real once the mask is chosen
    if (version >= 7) {
      const bits = (version << 12) | bch(version, 0x1f25, 12);
      for (let i = 0; i < 18; i++) {
        const dark = ((bits >>> i) & 1) === 1;
        const a = size - 11 + (i % 3), b = Math.floor(i / 3);
        this.set(a, b, dark);
        this.set(b, a, dark);
      }
    }
  }

  drawFormat(mask) {
    const { size } = this;
    const value = (FORMAT_LEVEL_M << 3) | mask;
    const bits = ((value << 10) | bch(value, 0x537, 10)) ^ 0x5412;
    const bit = i => ((bits >>> i) & 1) === 1;
    for (let i = 0; i <= 5; i++) this.set(8, i, bit(i));
    this.set(8, 7, bit(6));
    this.set(8, 8, bit(7));
    this.set(7, 8, bit(8));
    for (let i = 9; i < 15; i++) this.set(14 - i, 8, bit(i));
    for (let i = 0; i < 8; i++) this.set(size - 1 - i, 8, bit(i));
    for (let i = 8; i < 15; i++) this.set(8, size - 15 + i, bit(i));
    this.set(8, size - 8, true); // the dark module
  }

  /** Places the codewords in the two-column zigzag from the bottom right, skipping column 6. */
  drawCodewords(words) {
    const { size } = this;
    let i = 0;
    const total = words.length * 8;
    for (let right = size - 1; right >= 1; right -= 2) {
      if (right === 6) right = 5;
      const upward = ((right + 1) & 2) === 0;
      for (let step = 0; step < size; step++) {
        const y = upward ? size - 1 - step : step;
        for (let j = 0; j < 2; j++) {
          const x = right - j;
          if (this.fixed[y][x]) continue;
          this.dark[y][x] = i < total && ((words[i >>> 3] >>> (7 - (i & 7))) & 1) === 1;
          i++;
        }
      }
    }
  }

  applyMask(mask) {
    const flip = MASKS[mask];
    for (let y = 0; y < this.size; y++) {
      for (let x = 0; x < this.size; x++) if (!this.fixed[y][x] && flip(x, y)) this.dark[y][x] = !this.dark[y][x];
    }
  }
}

// Mask conditions (x: column, y: row); a module is flipped where the condition holds.
const MASKS = [
  (x, y) => (x + y) % 2 === 0,
  (x, y) => y % 2 === 0,
  x => x % 3 === 0,
  (x, y) => (x + y) % 3 === 0,
  (x, y) => (Math.floor(x / 3) + Math.floor(y / 2)) % 2 === 0,
  (x, y) => ((x * y) % 2) + ((x * y) % 3) === 0,
  (x, y) => (((x * y) % 2) + ((x * y) % 3)) % 2 === 0,
  (x, y) => (((x + y) % 2) + ((x * y) % 3)) % 2 === 0,
];

/** The standard penalty score of a finished matrix (lower is better). */
export function penalty(dark) {
  const size = dark.length;
  const at = (line, i, horizontal) => (horizontal ? dark[line][i] : dark[i][line]);
  let score = 0;
  for (const horizontal of [true, false]) {
    for (let line = 0; line < size; line++) {
      // Rule 1: five or more in a row of one colour: 3, plus 1 for each one more.
      let run = 1;
      for (let i = 1; i <= size; i++) {
        if (i < size && at(line, i, horizontal) === at(line, i - 1, horizontal)) {
          run++;
        } else {
          if (run >= 5) score += run - 2;
          run = 1;
        }
      }
      // Rule 3: dark-light-dark×3-light-dark with four light modules before or after it.
      const light = (from, to) => {
        for (let i = Math.max(from, 0); i < Math.min(to, size); i++) if (at(line, i, horizontal)) return false;
        return true;
      };
      for (let i = 0; i + 6 < size; i++) {
        const p = k => at(line, i + k, horizontal);
        if (p(0) && !p(1) && p(2) && p(3) && p(4) && !p(5) && p(6) && (light(i - 4, i) || light(i + 7, i + 11))) score += 40;
      }
    }
  }
  // Rule 2: each 2×2 block of one colour: 3.
  for (let y = 0; y + 1 < size; y++) {
    for (let x = 0; x + 1 < size; x++) {
      const c = dark[y][x];
      if (dark[y][x + 1] === c && dark[y + 1][x] === c && dark[y + 1][x + 1] === c) score += 3;
    }
  }
  // Rule 4: 10 for each full 5 % the dark share is away from 50 %.
  let count = 0;
  for (const row of dark) for (const d of row) if (d) count++;
  const total = size * size;
  score += Math.floor((Math.abs(count * 2 - total) * 10) / total) * 10;
  return score;
}

/**
 * Encodes `text` (UTF-8, byte mode, level M) in the smallest version from 1 to 10.
 * `options.mask` (0–7) forces a mask instead of choosing the lowest penalty. Throws a
 * RangeError when the text does not fit in version 10 (213 bytes).
 */
export function encodeQR(text, options = {}) {
  const bytes = Array.from(new TextEncoder().encode(String(text)));
  let version = 1;
  while (version <= MAX_VERSION && 4 + (version < 10 ? 8 : 16) + bytes.length * 8 > dataCodewords(version) * 8) version++;
  if (version > MAX_VERSION) throw new RangeError(`QR: ${bytes.length} bytes do not fit in version ${MAX_VERSION} at level M`);
  const words = codewords(dataBytes(bytes, version), version);
  const build = mask => {
    const grid = new Grid(version);
    grid.drawFunctionPatterns();
    grid.drawCodewords(words);
    grid.applyMask(mask);
    grid.drawFormat(mask);
    return grid;
  };
  let best = null;
  let bestMask = 0;
  if (Number.isInteger(options.mask) && options.mask >= 0 && options.mask < 8) {
    best = build(options.mask);
    bestMask = options.mask;
  } else {
    let bestScore = Infinity;
    for (let mask = 0; mask < 8; mask++) {
      const grid = build(mask);
      const score = penalty(grid.dark);
      if (score < bestScore) {
        bestScore = score;
        best = grid;
        bestMask = mask;
      }
    }
  }
  return { version, size: best.size, mask: bestMask, modules: best.dark };
}

/** An SVG path (1 unit per module) of the dark modules, offset by a quiet zone of `border` modules. */
export function qrPathData(qr, border = 4) {
  const parts = [];
  for (let y = 0; y < qr.size; y++) {
    for (let x = 0; x < qr.size; x++) {
      if (!qr.modules[y][x]) continue;
      let end = x;
      while (end + 1 < qr.size && qr.modules[y][end + 1]) end++;
      parts.push(`M${x + border} ${y + border}h${end - x + 1}v1h${-(end - x + 1)}z`);
      x = end;
    }
  }
  return parts.join('');
}
