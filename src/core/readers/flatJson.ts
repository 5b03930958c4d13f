// A parser for the one JSON shape scalar logs are made of — a flat object of ASCII keys whose values are
// numbers, ASCII strings without escapes, arrays of numbers, true/false/null, and Python's bare NaN /
// Infinity / -Infinity — straight from the line's bytes: no UTF-8 decoding of the line, keys and string
// values (layer names, the optimizer's name) interned once, numbers parsed from the digits. Anything else
// (nesting, escapes, non-ASCII, odd spacing of tokens, malformed input) returns undefined and the caller
// uses JSON.parse, so the result is always what JSON.parse (with the NaN tokens) would give.
//
// Measured on the 291-tensor long-form log (244 MB, 582k lines of 15 fields), interleaved in one run: this
// parser 1.3–1.5× the CPU speed of JSON.parse per decoded line, without an object per line (README, Performance).

import { sameBytes } from '../arrays';
import { decimalToDouble, POW10 } from './decimal';

const MAX_EXACT = 2 ** 53;

/** Interned strings by a hash of their bytes; a small bucket per hash, bounded in all. */
class Interner {
  private readonly buckets = new Map<number, string[]>();
  private size = 0;

  get(b: Uint8Array, a: number, e: number, slice: (a: number, e: number) => string): string {
    let h = e - a;
    for (let i = a; i < e; i++) h = (Math.imul(h, 31) + b[i]!) | 0;
    let bucket = this.buckets.get(h);
    if (bucket !== undefined) {
      outer: for (const s of bucket) {
        if (s.length !== e - a) continue;
        for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== b[a + i]) continue outer;
        return s;
      }
    }
    const s = slice(a, e);
    // A log with ever new strings (a free-text field) must not grow this without bound.
    if (this.size < MAX_INTERNED) {
      if (bucket === undefined) this.buckets.set(h, (bucket = []));
      if (bucket.length < 8) {
        bucket.push(s);
        this.size++;
      }
    }
    return s;
  }
}
const MAX_INTERNED = 65536;

/** `s` is the text of bytes [a, e) of `b` (ASCII). */
export function sameText(s: string, b: Uint8Array, a: number, e: number): boolean {
  if (s.length !== e - a) return false;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== b[a + i]) return false;
  return true;
}

/** Parses flat JSON objects from byte ranges; one instance per file (it keeps the interned strings). */
export class FlatJsonParser {
  private readonly interner = new Interner();
  private b: Buffer = Buffer.alloc(0);
  private p = 0;
  private end = 0;
  private readonly slice = (a: number, e: number): string => this.b.toString('latin1', a, e);
  /**
   * The string last seen at each position of the record (key i at 2i, its string value at 2i + 1): lines of
   * one log repeat their keys in order, so one byte comparison usually finds the string without hashing.
   */
  private readonly atPosition: string[] = [];

  /** Keys of the record last parsed by `parseFields`, in file order (no key twice). */
  readonly keys: string[] = [];
  /** Their values. */
  readonly values: unknown[] = [];

  /** The object on bytes [start, end) of `b` (surrounding spaces and a trailing \r allowed), or undefined. */
  parse(b: Buffer, start: number, end: number): Record<string, unknown> | undefined {
    const n = this.parseFields(b, start, end);
    return n < 0 ? undefined : this.object(n);
  }

  /** The last `parseFields` record as an object (what JSON.parse gives). */
  object(n: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) out[this.keys[i]!] = this.values[i];
    return out;
  }

  /**
   * The record on bytes [start, end) as `keys`/`values` (no object built: a caller that reads a few known
   * keys saves building 15 properties a line), returning its field count; -1 when it is not a flat object
   * of the shapes above, or states a key twice (JSON.parse keeps the last value at the first's place).
   */
  parseFields(b: Buffer, start: number, end: number): number {
    if (this.shapeFields > 0) {
      const n = this.sameShape(b, start, end);
      if (n >= 0) {
        this.shapeMisses = 0;
        this.linesByShape++;
        return n;
      }
      this.shapeMisses++;
    }
    const n = this.fields(b, start, end);
    // A line given up half-way has moved some keys' places: the next line is checked in full.
    if (n < 0) this.checkedCount = -1;
    // Lines that never repeat a shape (keys that vary line by line) keep one only now and then.
    else if (this.shapeMisses < 8 || (this.shapeMisses & 63) === 0) this.noteShape(b, start, end, n);
    return n;
  }

  /** Lines read by the shape of an earlier one (the rest were read in full). */
  linesByShape = 0;
  /** Lines since the last one read by its shape. */
  private shapeMisses = 0;

  // The shape of the last line read in full: its bytes between values (`{"step": `, `, "layer": `, …, `}`),
  // its keys and each value's kind. Lines of one log are written by one print statement: the next line is
  // read by comparing those bytes and parsing only the values (measured on the 291-tensor log: 0.75 s of
  // key scanning and comparing, spaces and separators become ≈ 0.2 s of byte comparisons). Any difference
  // (another key, spacing, a value of another kind) and the line is read in full, its shape kept instead.
  private shapeFields = 0;
  private shapeGaps: Uint8Array = new Uint8Array(256);
  /** shapeGaps, and the buffer last read, as DataViews: the gaps are compared four bytes at a time. */
  private gapView: DataView = new DataView(this.shapeGaps.buffer);
  private lineView: DataView = new DataView(new ArrayBuffer(0));
  private lineViewOf: Buffer | null = null;
  /** Gap i is shapeGaps[gapAt[i], gapAt[i + 1]); gap n follows the last value. */
  private gapAt: Int32Array = new Int32Array(64);
  private readonly shapeKeys: string[] = [];
  /** Per value: 0 number, 1 string, 2 array of numbers, 3 a word (true, false, null, NaN, ±Infinity). */
  private shapeKinds: Uint8Array = new Uint8Array(32);
  /** `keys` holds shapeKeys (a line read in full since may have left others there). */
  private keysAreShape = false;
  /** Where each value of the line `fields` read began and ended. */
  private valueAt: Int32Array = new Int32Array(64);

  /** Keep the shape of the line `fields` just read (n fields). */
  private noteShape(b: Buffer, start: number, end: number, n: number): void {
    if (n === 0 || n > 1024) {
      this.shapeFields = 0;
      return;
    }
    const at = this.valueAt;
    let total = end - start;
    for (let i = 0; i < n; i++) total -= at[2 * i + 1]! - at[2 * i]!;
    if (this.shapeGaps.length < total) {
      this.shapeGaps = new Uint8Array(total * 2);
      this.gapView = new DataView(this.shapeGaps.buffer);
    }
    if (this.gapAt.length < n + 2) this.gapAt = new Int32Array(2 * (n + 2));
    if (this.shapeKinds.length < n) this.shapeKinds = new Uint8Array(2 * n);
    const gaps = this.shapeGaps;
    let o = 0;
    let from = start;
    for (let i = 0; i <= n; i++) {
      const to = i < n ? at[2 * i]! : end;
      this.gapAt[i] = o;
      gaps.set(b.subarray(from, to), o);
      o += to - from;
      if (i < n) {
        from = at[2 * i + 1]!;
        const c = b[to]!;
        this.shapeKinds[i] = c === 0x22 ? 1 : c === 0x5b ? 2 : (c >= 0x30 && c <= 0x39) || (c === 0x2d && b[to + 1] !== 0x49) ? 0 : 3;
      }
    }
    this.gapAt[n + 1] = o;
    for (let i = 0; i < n; i++) this.shapeKeys[i] = this.keys[i]!;
    this.shapeKeys.length = n;
    this.shapeFields = n;
    this.keysAreShape = true;
  }

  /** The line read against the last shape: its field count, or -1 where it differs (nothing kept). */
  private sameShape(b: Buffer, start: number, end: number): number {
    const n = this.shapeFields;
    const gapAt = this.gapAt;
    const kinds = this.shapeKinds;
    const values = this.values;
    if (this.lineViewOf !== b) {
      this.lineView = new DataView(b.buffer, b.byteOffset, b.byteLength);
      this.lineViewOf = b;
    }
    const bv = this.lineView;
    const gv = this.gapView;
    this.b = b;
    this.end = end;
    let p = start;
    for (let i = 0; ; i++) {
      const g0 = gapAt[i]!;
      const len = gapAt[i + 1]! - g0;
      if (p + len > end) return -1;
      if (!sameBytes(bv, p, gv, g0, len)) return -1;
      p += len;
      if (i === n) return p === end ? this.shapeKeysInPlace(n) : -1;
      this.p = p;
      const kind = kinds[i]!;
      let v: unknown;
      if (kind === 0) v = this.number();
      else if (kind === 1) v = b[p] === 0x22 ? this.string(i < 127 ? 2 * i + 1 : 255) : undefined;
      else if (kind === 2) v = b[p] === 0x5b ? this.numberArray() : undefined;
      else v = this.value(i < 127 ? 2 * i + 1 : 255);
      if (v === undefined) return -1;
      values[i] = v;
      p = this.p;
    }
  }

  private shapeKeysInPlace(n: number): number {
    if (!this.keysAreShape) {
      for (let i = 0; i < n; i++) this.keys[i] = this.shapeKeys[i]!;
      this.keysAreShape = true;
    }
    return n;
  }

  private fields(b: Buffer, start: number, end: number): number {
    this.keysAreShape = false;
    this.b = b;
    this.p = start;
    this.end = end;
    this.ws();
    if (b[this.p] !== 0x7b) return -1;
    this.p++;
    const keys = this.keys;
    const values = this.values;
    let n = 0;
    let slot = 0;
    // Keys all found at their place of the previous line (which had no key twice) need no duplicate check.
    let samePlaces = true;
    this.ws();
    if (b[this.p] === 0x7d) {
      this.p++;
      return this.atEnd() ? 0 : -1;
    }
    for (;;) {
      this.ws();
      if (b[this.p] !== 0x22) return -1;
      const before = this.atPosition[slot];
      const key = this.string(slot);
      if (key === undefined || key === '__proto__') return -1;
      if (key !== before || slot >= 254) samePlaces = false;
      this.ws();
      if (b[this.p] !== 0x3a) return -1;
      this.p++;
      this.ws();
      if (this.valueAt.length < 2 * n + 2) {
        const grown = new Int32Array(4 * n + 4);
        grown.set(this.valueAt);
        this.valueAt = grown;
      }
      this.valueAt[2 * n] = this.p;
      const v = this.value(slot + 1);
      if (v === undefined) return -1;
      this.valueAt[2 * n + 1] = this.p;
      keys[n] = key;
      values[n] = v;
      n++;
      if (slot < 254) slot += 2;
      this.ws();
      const c = b[this.p];
      this.p++;
      if (c === 0x2c) continue;
      if (c !== 0x7d || !this.atEnd()) return -1;
      break;
    }
    if (!samePlaces || n !== this.checkedCount) {
      for (let i = 1; i < n; i++) for (let j = 0; j < i; j++) if (keys[i] === keys[j]) return (this.checkedCount = -1);
      this.checkedCount = n;
    }
    return n;
  }

  /** Field count of the last record checked for repeated keys (-1: none). */
  private checkedCount = -1;

  private atEnd(): boolean {
    this.ws();
    return this.p === this.end;
  }

  private ws(): void {
    const b = this.b;
    let p = this.p;
    while (p < this.end) {
      const c = b[p]!;
      if (c !== 0x20 && c !== 0x09 && c !== 0x0d) break;
      p++;
    }
    this.p = p;
  }

  /** A string at p (on its opening quote) without escapes or non-ASCII bytes; undefined otherwise. */
  private string(slot: number): string | undefined {
    const b = this.b;
    const a = ++this.p;
    let p = a;
    for (;;) {
      if (p >= this.end) return undefined;
      const c = b[p]!;
      if (c === 0x22) break;
      if (c === 0x5c || c >= 0x80 || c < 0x20) return undefined;
      p++;
    }
    this.p = p + 1;
    const seen = this.atPosition[slot];
    if (seen !== undefined) {
      if (sameText(seen, b, a, p)) return seen;
      // A long-form log names its layers in the same order every step: the one that followed last time.
      const next = this.following.get(seen);
      if (next !== undefined && sameText(next, b, a, p)) {
        this.atPosition[slot] = next;
        return next;
      }
    }
    const s = this.interner.get(b, a, p, this.slice);
    if (seen !== undefined && this.following.size < MAX_INTERNED) this.following.set(seen, s);
    this.atPosition[slot] = s;
    return s;
  }

  /** The string that followed each string at its place last time (bounded like the interned ones). */
  private readonly following = new Map<string, string>();

  private value(slot: number): unknown {
    const b = this.b;
    const c = b[this.p];
    if (c === 0x22) return this.string(slot);
    if (c === 0x5b) return this.numberArray();
    if (c === 0x74) return this.word('true', true);
    if (c === 0x66) return this.word('false', false);
    if (c === 0x6e) return this.word('null', null);
    if (c === 0x4e) return this.word('NaN', Number.NaN);
    if (c === 0x49) return this.word('Infinity', Number.POSITIVE_INFINITY);
    if (c === 0x2d && b[this.p + 1] === 0x49) {
      this.p++;
      return this.word('Infinity', Number.NEGATIVE_INFINITY);
    }
    return this.number();
  }

  private word<T>(w: string, v: T): T | undefined {
    const b = this.b;
    if (this.p + w.length > this.end) return undefined;
    for (let i = 0; i < w.length; i++) if (b[this.p + i] !== w.charCodeAt(i)) return undefined;
    this.p += w.length;
    return v;
  }

  private numberArray(): number[] | undefined {
    const b = this.b;
    this.p++;
    const out: number[] = [];
    this.ws();
    if (b[this.p] === 0x5d) {
      this.p++;
      return out;
    }
    for (;;) {
      this.ws();
      const x = this.number();
      if (x === undefined) return undefined;
      out.push(x);
      this.ws();
      const c = b[this.p++];
      if (c === 0x2c) continue;
      if (c === 0x5d) return out;
      return undefined;
    }
  }

  /** A JSON number at p (readNumber), p moved past it; undefined when there is none. */
  private number(): number | undefined {
    const v = readNumber(this.b, this.p, this.end);
    if (v !== v) return undefined;
    this.p = numberRead.end;
    return v;
  }
}

/** Where the number readNumber read last ends (a field, not a second return value to allocate). */
export const numberRead = { end: 0 };

/**
 * The JSON number at a (read up to `end` at most; where it ends in `numberRead.end`), or NaN when there is none
 * there (no JSON number is NaN). Up to 2^53 of mantissa and a decimal exponent within ±22 is exact as m·10^e or m/10^-e
 * (one rounding: Clinger's fast path); up to 19 significant digits (Python's 17-digit reprs) and exponents
 * within ±280 go to decimalToDouble, and what it cannot decide to Number() on the number's own characters.
 * Each of the three rounds correctly.
 */
export function readNumber(b: Buffer, a: number, end: number): number {
  const e = readNumberAt(b, a, end);
  if (e < 0) return Number.NaN;
  numberRead.end = e;
  return numberValue[0]!;
}

/** The value readNumberAt read last (a typed slot: a double returned by a call not inlined is a new heap number). */
export const numberValue = new Float64Array(1);

/** readNumber with the value in numberValue[0]: returns where the number ends, or -1 when there is none. */
export function readNumberAt(b: Buffer, a: number, end: number): number {
  let p = a;
  if (b[p] === 0x2d) p++;
  let c = b[p]!;
  if (!(c >= 0x30 && c <= 0x39)) return -1;
  // A leading zero is followed by '.', 'e' or the end of the number (JSON has no 012).
  if (c === 0x30 && p + 1 < end && b[p + 1]! >= 0x30 && b[p + 1]! <= 0x39) return -1;
  // The significant digits, through one '.': the first 15 in hi (exact), the next 4 in lo; nd counts them all.
  let hi = 0;
  let lo = 0;
  let nd = 0;
  let e = 0;
  let dot = -1;
  while (p < end) {
    // Four digits at once while they all go into hi (a 17-digit repr is two dozen bytes): the bytes as one
    // little-endian uint32, all four '0'–'9' (high nibble 3, and no carry past 9 adding 6), their value
    // combined pairwise. One multiply-add of hi per four digits instead of one per digit.
    if (nd <= 11 && p + 4 <= end) {
      const x = (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
      if ((x & 0xf0f0f0f0) === 0x30303030 && ((x + 0x06060606) & 0xf0f0f0f0) === 0x30303030) {
        let y = x - 0x30303030;
        y = (y * 10 + (y >>> 8)) & 0x00ff00ff;
        y = (y * 100 + (y >>> 16)) & 0x3fff;
        if (hi !== 0) {
          hi = hi * 10000 + y;
          nd += 4;
        } else if (y !== 0) {
          hi = y;
          nd = y >= 1000 ? 4 : y >= 100 ? 3 : y >= 10 ? 2 : 1;
        }
        p += 4;
        continue;
      }
    }
    c = b[p]!;
    if (c >= 0x30 && c <= 0x39) {
      if (nd < 15) {
        hi = hi * 10 + (c - 0x30);
        if (hi !== 0) nd++;
      } else {
        if (nd < 19) lo = lo * 10 + (c - 0x30);
        nd++;
      }
    } else if (c === 0x2e && dot < 0) dot = p;
    else break;
    p++;
  }
  if (dot >= 0) {
    if (p === dot + 1) return -1; // "1." (and "1.e5"): JSON wants a digit after the point
    e -= p - dot - 1;
  }
  if (p < end && (c === 0x65 || c === 0x45)) {
    p++;
    let sign = 1;
    if (b[p] === 0x2d) {
      sign = -1;
      p++;
    } else if (b[p] === 0x2b) p++;
    const f = p;
    let x = 0;
    while (p < end && (c = b[p]!) >= 0x30 && c <= 0x39 && x < 1e6) {
      x = x * 10 + (c - 0x30);
      p++;
    }
    if (p === f) return -1;
    e += sign * x;
  }
  if (nd <= 19) {
    const k = nd > 15 ? nd - 15 : 0;
    // (lo and k are 0 up to 15 digits)
    const m = k === 0 ? hi : hi * POW10[k]! + lo;
    let v: number;
    if (m < MAX_EXACT && e >= -22 && e <= 22) v = e < 0 ? m / POW10[-e]! : m * POW10[e]!;
    else {
      v = decimalToDouble(hi, k, lo, e);
      if (v !== v) {
        numberValue[0] = Number(b.toString('latin1', a, p));
        return p;
      }
    }
    numberValue[0] = b[a] === 0x2d ? -v : v;
    return p;
  }
  numberValue[0] = Number(b.toString('latin1', a, p));
  return p;
}
