// The duration of a picked video, read in the browser without playing it (the
// content-security policy allows no blob: media URLs): the `mvhd` box of an MP4/MOV
// (ISO BMFF) — top-level boxes are walked by their headers (a few bytes each, `moov` may be
// at the end), then `moov`'s children until `mvhd` — or the `Duration` of a WebM/Matroska
// `Info` element in its first megabyte. Resolves seconds, or null when it cannot tell.

const MAX_BOXES = 4096;

async function bytes(file, start, length) {
  return new DataView(await file.slice(start, start + length).arrayBuffer());
}

/** A box header at `pos`: {type, size, header} (size 0 = to the end), or null. */
async function boxAt(file, pos, end) {
  if (pos + 8 > end) return null;
  const v = await bytes(file, pos, 16);
  if (v.byteLength < 8) return null;
  let size = v.getUint32(0);
  const type = String.fromCharCode(v.getUint8(4), v.getUint8(5), v.getUint8(6), v.getUint8(7));
  let header = 8;
  if (size === 1) {
    if (v.byteLength < 16) return null;
    size = v.getUint32(8) * 2 ** 32 + v.getUint32(12);
    header = 16;
  } else if (size === 0) size = end - pos;
  if (size < header) return null;
  return { type, size, header };
}

async function mp4Duration(file) {
  let pos = 0;
  for (let n = 0; n < MAX_BOXES; n++) {
    const box = await boxAt(file, pos, file.size);
    if (!box) return null;
    if (box.type === 'moov') {
      const end = Math.min(file.size, pos + box.size);
      let child = pos + box.header;
      for (let m = 0; m < MAX_BOXES; m++) {
        const c = await boxAt(file, child, end);
        if (!c) return null;
        if (c.type === 'mvhd') {
          const v = await bytes(file, child + c.header, 32);
          const version = v.getUint8(0);
          const scale = version === 1 ? v.getUint32(20) : v.getUint32(12);
          const duration = version === 1 ? v.getUint32(24) * 2 ** 32 + v.getUint32(28) : v.getUint32(16);
          return scale > 0 ? duration / scale : null;
        }
        child += c.size;
      }
      return null;
    }
    pos += box.size;
  }
  return null;
}

/** EBML: the Info element's TimecodeScale (2AD7B1, default 1 ms) and Duration (4489, float). */
async function webmDuration(file) {
  const v = new Uint8Array(await file.slice(0, 1 << 20).arrayBuffer());
  const find = (sig, from = 0) => {
    outer: for (let i = from; i < v.length - sig.length; i++) {
      for (let j = 0; j < sig.length; j++) if (v[i + j] !== sig[j]) continue outer;
      return i + sig.length;
    }
    return -1;
  };
  const sizeAt = i => { // an EBML variable-size integer → [value, length]
    const first = v[i];
    let len = 1;
    while (len <= 8 && !(first & (0x80 >> (len - 1)))) len++;
    if (len > 8) return [0, 0];
    let value = first & (0xff >> len);
    for (let k = 1; k < len; k++) value = value * 256 + v[i + k];
    return [value, len];
  };
  let scale = 1e6;
  const ts = find([0x2a, 0xd7, 0xb1]);
  if (ts > 0) {
    const [n, l] = sizeAt(ts);
    if (n > 0 && n <= 8) { let x = 0; for (let k = 0; k < n; k++) x = x * 256 + v[ts + l + k]; if (x > 0) scale = x; }
  }
  const d = find([0x44, 0x89]);
  if (d < 0) return null;
  const [n, l] = sizeAt(d);
  const view = new DataView(v.buffer, d + l, Math.min(n, v.length - d - l));
  const ticks = n === 4 ? view.getFloat32(0) : n === 8 ? view.getFloat64(0) : NaN;
  return Number.isFinite(ticks) && ticks > 0 ? ticks * scale / 1e9 : null;
}

/** Seconds of a video file, or null when its container is not read here or is damaged. */
export async function videoDuration(file) {
  try {
    const head = new Uint8Array(await file.slice(0, 12).arrayBuffer());
    if (head.length >= 4 && head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3) return await webmDuration(file);
    if (head.length >= 8 && String.fromCharCode(...head.slice(4, 8)).match(/^(ftyp|moov|mdat|free|wide|skip)$/)) return await mp4Duration(file);
    return null;
  } catch {
    return null;
  }
}
