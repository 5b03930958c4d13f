import * as zlib from 'node:zlib';

// Hostile binary inputs, built byte by byte: pickles that exhaust an interpreter (stack, memo, MARK
// frames, containers, items, text numbers, self-referencing calls) and archives that lie about their
// sizes. Shared by the budget tests and `npm run bench` (bench/hostileBinary.ts), so the figures in the
// README are measured on exactly what the tests check.

const PROTO2 = [0x80, 0x02];

function repeat(prefix: number[], unit: number[], count: number, suffix: number[]): Uint8Array {
  const out = new Uint8Array(prefix.length + unit.length * count + suffix.length);
  out.set(prefix, 0);
  let p = prefix.length;
  if (unit.length === 1) {
    out.fill(unit[0], p, p + count);
    p += count;
  } else {
    for (let i = 0; i < count; i++, p += unit.length) out.set(unit, p);
  }
  out.set(suffix, p);
  return out;
}

const text = (s: string): number[] => [...Buffer.from(s, 'latin1')];

/** `\x80\x02N` + `count` DUP + STOP: one value duplicated onto the stack. */
export function dupPickle(count: number): Uint8Array {
  return repeat([...PROTO2, 0x4e], [0x32], count, [0x2e]);
}

/** Protocol 4 `N` + `count` MEMOIZE + STOP: the memo grows by one entry per byte. */
export function memoizePickle(count: number): Uint8Array {
  return repeat([0x80, 0x04, 0x4e], [0x94], count, [0x2e]);
}

/** A text INT of `digits` digits (CPython refuses more than 4300). */
export function longIntPickle(digits: number): Uint8Array {
  return repeat([...PROTO2, 0x49], [0x31], digits, [0x0a, 0x2e]);
}

/** `count` EMPTY_LIST, each popped again: many containers, constant stack. */
export function emptyListPickle(count: number): Uint8Array {
  return repeat([...PROTO2, 0x4e], [0x5d, 0x30], count, [0x2e]);
}

/** One list with `count` APPENDs of None: many items in one container. */
export function appendPickle(count: number): Uint8Array {
  return repeat([...PROTO2, 0x5d], [0x4e, 0x61], count, [0x2e]);
}

/** `depth` MARKs opened and never closed. */
export function markPickle(depth: number): Uint8Array {
  return repeat([...PROTO2], [0x28], depth, [0x4e, 0x2e]);
}

/**
 * `_rebuild_from_type_v2` nested `depth` deep: each level's arguments are (func, torch.Tensor, (next
 * level's call), None), the globals memoized once — 10,000 levels in a few tens of kilobytes.
 */
export function nestedRebuildPickle(depth: number): Uint8Array {
  const head = [
    ...PROTO2,
    0x63,
    ...text('torch._tensor\n_rebuild_from_type_v2\n'),
    0x71,
    0x00,
    0x30, // BINPUT 0, POP
    0x63,
    ...text('torch\nTensor\n'),
    0x71,
    0x01,
    0x30,
  ];
  const open = [0x68, 0x00, 0x28, 0x68, 0x00, 0x68, 0x01]; // GET func, MARK, GET func, GET Tensor
  const close = [0x4e, 0x74, 0x52]; // None, TUPLE, REDUCE
  const out: number[] = [...head];
  for (let i = 0; i < depth; i++) out.push(...open);
  out.push(0x29); // innermost args: ()
  for (let i = 0; i < depth; i++) out.push(...close);
  out.push(0x2e);
  return Uint8Array.from(out);
}

/**
 * `_rebuild_from_type_v2(func, Tensor, L, None)` where L is a list holding itself in the args place:
 * an interpreter that follows the arguments recurses without end (610 bytes in the campaign's file).
 */
export function selfReferencingRebuildPickle(): Uint8Array {
  return Uint8Array.from([
    ...PROTO2,
    0x63,
    ...text('torch._tensor\n_rebuild_from_type_v2\n'),
    0x71,
    0x00, // BINPUT 0 = func (left on the stack as REDUCE's callable)
    0x5d,
    0x71,
    0x01, // L = [], BINPUT 1
    0x28,
    0x68,
    0x00,
    0x63,
    ...text('torch\nTensor\n'),
    0x68,
    0x01,
    0x4e,
    0x65, // L.extend([func, Tensor, L, None])
    0x30, // POP L
    0x28,
    0x68,
    0x00,
    0x63,
    ...text('torch\nTensor\n'),
    0x68,
    0x01,
    0x4e,
    0x74, // args = (func, Tensor, L, None)
    0x52,
    0x2e,
  ]);
}

// ---- zip archives ------------------------------------------------------------------------------------

export interface ZipMember {
  name: string;
  data: Uint8Array;
  /** Deflate the member (method 8). */
  deflate?: boolean;
  /** Write this uncompressed size instead of the true one (a lying archive). */
  declaredSize?: number;
}

/** A zip archive (no zip64) of the members; data offsets aligned to 64 bytes like torch.save's. */
export function zipArchive(members: ZipMember[]): Buffer {
  const chunks: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const m of members) {
    const nameBytes = Buffer.from(m.name, 'utf8');
    const stored = m.deflate ? zlib.deflateRawSync(m.data, { level: 9 }) : Buffer.from(m.data);
    const fixed = 30 + nameBytes.length;
    const pad = (64 - ((offset + fixed + 4) % 64)) % 64;
    const extra = Buffer.alloc(4 + pad);
    extra.writeUInt16LE(0x4246, 0);
    extra.writeUInt16LE(pad, 2);
    const crc = zlib.crc32(m.data) >>> 0;
    const size = m.declaredSize ?? m.data.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(m.deflate ? 8 : 0, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(stored.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(extra.length, 28);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(20, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(m.deflate ? 8 : 0, 10);
    c.writeUInt32LE(crc, 16);
    c.writeUInt32LE(stored.length, 20);
    c.writeUInt32LE(size, 24);
    c.writeUInt16LE(nameBytes.length, 28);
    c.writeUInt32LE(offset, 42);
    central.push(c, nameBytes);
    chunks.push(local, nameBytes, extra, stored);
    offset += 30 + nameBytes.length + extra.length + stored.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(members.length, 8);
  end.writeUInt16LE(members.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...chunks, cd, end]);
}

/** A torch.save-shaped archive whose data.pkl is `pickle`, deflated (so a huge pickle is a small file). */
export function torchZipOfPickle(pickle: Uint8Array, deflate = true): Buffer {
  return zipArchive([
    { name: 'archive/data.pkl', data: pickle, deflate },
    { name: 'archive/version', data: Buffer.from('3\n') },
  ]);
}

/** The npy bytes of a float32 array of `elements` zeros (header v1). */
export function npyZeros(elements: number): Uint8Array {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${elements},), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + elements * 4);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  out[8] = header.length & 0xff;
  out[9] = header.length >> 8;
  out.set(Buffer.from(header, 'latin1'), 10);
  return out;
}

/** An npz of `members` deflated float32 zero arrays of `elements` each: a few KB that inflate to GBs. */
export function npzBomb(members: number, elements: number): Buffer {
  const one = npyZeros(elements);
  return zipArchive(Array.from({ length: members }, (_, i) => ({ name: `param/w${i}.npy`, data: one, deflate: true })));
}

/** A safetensors file of `count` float32 tensors that all claim the same 8 data bytes. */
export function overlappingSafetensors(count: number): Buffer {
  const header: Record<string, unknown> = {};
  for (let i = 0; i < count; i++) header[`layers.${i}.weight`] = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const out = Buffer.alloc(8 + json.length + 8);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  out.write(json, 8, 'latin1');
  return out;
}
