import { classifyTensorKey } from '../run/tensorKeys';
import { stepFromFilePath } from '../run/stepNames';
import { ReaderError, echo } from '../errors';
import { emptyRunData, type RunData, type TensorRef } from '../run/types';
import type { Dtype } from '../io/tensorBytes';
import type { ReadOptions, Reader } from './reader';
import { dataView, withFile } from '../io/fileBytes';

// NumPy .npy: magic \x93NUMPY, u8 major, u8 minor, header length (u16 LE for v1, u32 LE for v2/v3),
// then a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } padded with
// spaces and a newline, then the raw elements. The header is parsed by a small tokenizer for the
// literal subset numpy writes (dicts, tuples, lists, strings, ints, True/False/None); nothing is
// evaluated. Float arrays (<f2 <f4 <f8) become TensorRefs; 0-d numeric arrays are scalars.

export const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
/** numpy itself refuses headers above 10,000 bytes by default; allow more, but never a huge allocation. */
export const MAX_NPY_HEADER = 1024 * 1024;

export type NpyKind = 'float' | 'int' | 'uint' | 'bool' | 'other';

export interface NpyHeader {
  major: number;
  minor: number;
  /** Bytes from the start of the .npy to the first element (prelude + dict + padding). */
  headerLength: number;
  descr: string;
  kind: NpyKind;
  /** Bytes per element (0 when the descr is not a simple scalar type). */
  itemSize: number;
  littleEndian: boolean;
  /** Float dtypes the tensor kernel reads (little-endian f2/f4/f8); null otherwise. */
  dtype: Dtype | null;
  fortranOrder: boolean;
  shape: number[];
  numel: number;
  /** numel × itemSize. */
  dataBytes: number;
}

/** True when `bytes` starts with the npy magic. */
export function hasNpyMagic(bytes: Uint8Array): boolean {
  if (bytes.length < NPY_MAGIC.length) return false;
  for (let i = 0; i < NPY_MAGIC.length; i++) if (bytes[i] !== NPY_MAGIC[i]) return false;
  return true;
}

/**
 * Total header length (prelude + dict) from the first 8–12 bytes, or null if more bytes are needed.
 * ReaderError for a wrong magic or an unsupported version.
 */
export function npyHeaderLength(bytes: Uint8Array, path: string, baseOffset = 0): number | null {
  const need = Math.min(bytes.length, 6);
  for (let i = 0; i < need; i++) {
    if (bytes[i] !== NPY_MAGIC[i]) throw new ReaderError(path, 'not an npy array (magic \\x93NUMPY missing)', { offset: baseOffset + i });
  }
  if (bytes.length < 8) return null;
  const major = bytes[6];
  if (major !== 1 && major !== 2 && major !== 3) {
    throw new ReaderError(path, `unsupported npy format version ${major}.${bytes[7]}`, { offset: baseOffset + 6 });
  }
  const view = dataView(bytes);
  if (major === 1) {
    if (bytes.length < 10) return null;
    return 10 + view.getUint16(8, true);
  }
  if (bytes.length < 12) return null;
  const len = view.getUint32(8, true);
  if (len > MAX_NPY_HEADER) {
    throw new ReaderError(path, `npy header length ${len} exceeds the ${MAX_NPY_HEADER}-byte limit`, { offset: baseOffset + 8 });
  }
  return 12 + len;
}

/**
 * Parse an npy header from the first bytes of a .npy (file or npz member). `bytes` must hold at least
 * `npyHeaderLength(bytes)` bytes. `baseOffset` is where `bytes` starts in the file (for messages).
 */
export function parseNpyHeader(bytes: Uint8Array, path: string, baseOffset = 0): NpyHeader {
  const headerLength = npyHeaderLength(bytes, path, baseOffset);
  if (headerLength === null || bytes.length < headerLength) {
    throw new ReaderError(path, `npy header cut short (${bytes.length} bytes available, ${headerLength ?? 'at least 10'} needed)`, {
      offset: baseOffset + bytes.length,
    });
  }
  const major = bytes[6];
  const minor = bytes[7];
  const dictStart = major === 1 ? 10 : 12;
  const raw = bytes.subarray(dictStart, headerLength);
  // v1/v2 headers are latin1; v3 is UTF-8 (only matters for structured field names, which we refuse).
  const text = major === 3 ? new TextDecoder('utf-8', { fatal: false }).decode(raw) : latin1(raw);
  let dict: PyValue;
  try {
    dict = new PyLiteralParser(text).parseAll();
  } catch (err) {
    if (err instanceof LiteralSyntaxError) {
      throw new ReaderError(path, `npy header is not a Python literal: ${err.message}`, { offset: baseOffset + dictStart + err.pos });
    }
    throw err;
  }
  const at = { offset: baseOffset + dictStart };
  if (!(dict instanceof Map)) throw new ReaderError(path, 'npy header is not a dict', at);
  const descr = dict.get('descr');
  const fortran = dict.get('fortran_order');
  const shapeValue = dict.get('shape');
  if (typeof descr !== 'string') {
    throw new ReaderError(
      path,
      `npy header: 'descr' is ${describe(descr)}, not a simple dtype string (structured arrays are not supported)`,
      at,
    );
  }
  if (typeof fortran !== 'boolean') throw new ReaderError(path, `npy header: 'fortran_order' is ${describe(fortran)}, not True/False`, at);
  if (!Array.isArray(shapeValue)) throw new ReaderError(path, `npy header: 'shape' is ${describe(shapeValue)}, not a tuple`, at);
  const shape: number[] = [];
  let numel = 1;
  for (const d of shapeValue) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw new ReaderError(path, `npy header: shape entry ${describe(d)} is not a non-negative integer`, at);
    }
    shape.push(d);
    numel *= d;
  }
  if (!Number.isSafeInteger(numel)) throw new ReaderError(path, `npy header: shape (${shape.join(', ')}) has too many elements`, at);
  const { kind, itemSize, littleEndian, dtype } = describeDescr(descr);
  const dataBytes = numel * itemSize;
  if (!Number.isSafeInteger(dataBytes)) throw new ReaderError(path, `npy header: shape (${shape.join(', ')}) is too large`, at);
  return { major, minor, headerLength, descr, kind, itemSize, littleEndian, dtype, fortranOrder: fortran, shape, numel, dataBytes };
}

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

function describe(v: PyValue | undefined): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'None';
  if (v instanceof Map) return 'a dict';
  if (Array.isArray(v)) return 'a tuple/list';
  return JSON.stringify(v);
}

/** Kind, size and byte order of an npy descr such as '<f4', '|b1', '>i8'. */
export function describeDescr(descr: string): { kind: NpyKind; itemSize: number; littleEndian: boolean; dtype: Dtype | null } {
  const m = /^([<>|=])([fiub])(\d{1,2})$/.exec(descr);
  if (!m) return { kind: 'other', itemSize: 0, littleEndian: true, dtype: null };
  const order = m[1];
  const code = m[2];
  const size = Number(m[3]);
  // '=' is native order; every platform numpy writes .npy files on that we can read is little-endian,
  // and numpy writes '<' or '|' anyway.
  const littleEndian = order !== '>' || size === 1;
  const kind: NpyKind = code === 'f' ? 'float' : code === 'i' ? 'int' : code === 'u' ? 'uint' : 'bool';
  const valid =
    (kind === 'float' && (size === 2 || size === 4 || size === 8)) ||
    ((kind === 'int' || kind === 'uint') && (size === 1 || size === 2 || size === 4 || size === 8)) ||
    (kind === 'bool' && size === 1);
  if (!valid) return { kind: 'other', itemSize: 0, littleEndian, dtype: null };
  const dtype: Dtype | null = kind === 'float' && littleEndian ? (size === 2 ? 'F16' : size === 4 ? 'F32' : 'F64') : null;
  return { kind, itemSize: size, littleEndian, dtype };
}

/** Element strides of a Fortran-ordered array (first axis fastest); undefined when C and F order coincide. */
export function fortranStrides(shape: number[]): number[] | undefined {
  if (shape.filter((d) => d !== 1).length <= 1) return undefined;
  const strides: number[] = [];
  let s = 1;
  for (const d of shape) {
    strides.push(s);
    s *= d;
  }
  return strides;
}

/** Value of a 0-d (or one-element) numeric array from its element bytes. Integers beyond 2^53 → null. */
export function decodeNpyScalar(header: NpyHeader, bytes: Uint8Array): number | null {
  if (bytes.length < header.itemSize || header.itemSize === 0) return null;
  const v = dataView(bytes);
  const le = header.littleEndian;
  switch (header.kind) {
    case 'float':
      if (header.itemSize === 8) return v.getFloat64(0, le);
      if (header.itemSize === 4) return v.getFloat32(0, le);
      return halfToNumber(v.getUint16(0, le));
    case 'bool':
      return bytes[0] ? 1 : 0;
    case 'int':
    case 'uint': {
      const signed = header.kind === 'int';
      let n: number | bigint;
      switch (header.itemSize) {
        case 1:
          n = signed ? v.getInt8(0) : v.getUint8(0);
          break;
        case 2:
          n = signed ? v.getInt16(0, le) : v.getUint16(0, le);
          break;
        case 4:
          n = signed ? v.getInt32(0, le) : v.getUint32(0, le);
          break;
        default:
          n = signed ? v.getBigInt64(0, le) : v.getBigUint64(0, le);
      }
      const num = Number(n);
      return Number.isSafeInteger(num) ? num : null;
    }
    default:
      return null;
  }
}

function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

// ---- Python literal tokenizer/parser (the subset numpy's header writer produces) ----------------

type PyValue = string | number | boolean | null | PyValue[] | Map<string, PyValue>;

class LiteralSyntaxError extends Error {
  constructor(
    message: string,
    readonly pos: number,
  ) {
    super(message);
  }
}

type Token =
  | { t: 'punct'; v: '{' | '}' | '(' | ')' | '[' | ']' | ',' | ':'; pos: number }
  | { t: 'str'; v: string; pos: number }
  | { t: 'int'; v: number; pos: number }
  | { t: 'name'; v: string; pos: number }
  | { t: 'end'; pos: number };

const MAX_DEPTH = 32;

class PyLiteralParser {
  private pos = 0;
  private tok: Token;

  constructor(private readonly s: string) {
    this.tok = this.lex();
  }

  parseAll(): PyValue {
    const v = this.value(0);
    if (this.tok.t !== 'end') throw new LiteralSyntaxError(`unexpected ${this.show(this.tok)} after the value`, this.tok.pos);
    return v;
  }

  private show(tok: Token): string {
    if (tok.t === 'end') return 'end of header';
    if (tok.t === 'str') return `string ${JSON.stringify(tok.v)}`;
    return `'${String(tok.v)}'`;
  }

  private advance(): Token {
    const cur = this.tok;
    this.tok = this.lex();
    return cur;
  }

  private expectPunct(p: string): void {
    if (this.tok.t !== 'punct' || this.tok.v !== p)
      throw new LiteralSyntaxError(`expected '${p}', found ${this.show(this.tok)}`, this.tok.pos);
    this.advance();
  }

  private isPunct(p: string): boolean {
    return this.tok.t === 'punct' && this.tok.v === p;
  }

  private value(depth: number): PyValue {
    if (depth > MAX_DEPTH) throw new LiteralSyntaxError('nested too deeply', this.tok.pos);
    const tok = this.advance();
    switch (tok.t) {
      case 'str':
        return tok.v;
      case 'int':
        return tok.v;
      case 'name':
        if (tok.v === 'True') return true;
        if (tok.v === 'False') return false;
        if (tok.v === 'None') return null;
        throw new LiteralSyntaxError(`unexpected name '${tok.v}'`, tok.pos);
      case 'end':
        throw new LiteralSyntaxError('unexpected end of header', tok.pos);
      case 'punct':
        if (tok.v === '{') return this.dict(depth);
        if (tok.v === '(') return this.seq(')', depth, true);
        if (tok.v === '[') return this.seq(']', depth, false);
        throw new LiteralSyntaxError(`unexpected '${tok.v}'`, tok.pos);
    }
  }

  private dict(depth: number): Map<string, PyValue> {
    const out = new Map<string, PyValue>();
    while (!this.isPunct('}')) {
      const keyTok = this.advance();
      if (keyTok.t !== 'str') throw new LiteralSyntaxError(`dict key must be a string, found ${this.show(keyTok)}`, keyTok.pos);
      this.expectPunct(':');
      out.set(keyTok.v, this.value(depth + 1));
      if (this.isPunct(',')) this.advance();
      else if (!this.isPunct('}')) throw new LiteralSyntaxError(`expected ',' or '}', found ${this.show(this.tok)}`, this.tok.pos);
    }
    this.advance();
    return out;
  }

  private seq(close: ')' | ']', depth: number, tuple: boolean): PyValue {
    const out: PyValue[] = [];
    let sawComma = false;
    while (!this.isPunct(close)) {
      out.push(this.value(depth + 1));
      if (this.isPunct(',')) {
        this.advance();
        sawComma = true;
      } else if (!this.isPunct(close)) {
        throw new LiteralSyntaxError(`expected ',' or '${close}', found ${this.show(this.tok)}`, this.tok.pos);
      }
    }
    this.advance();
    // (x) without a comma is just x in Python, not a tuple.
    if (tuple && out.length === 1 && !sawComma) return out[0];
    return out;
  }

  private lex(): Token {
    const s = this.s;
    while (this.pos < s.length && /[\s]/.test(s[this.pos])) this.pos++;
    const start = this.pos;
    if (this.pos >= s.length) return { t: 'end', pos: start };
    const c = s[this.pos];
    if ('{}()[],:'.includes(c)) {
      this.pos++;
      return { t: 'punct', v: c as '{', pos: start };
    }
    if (c === "'" || c === '"') {
      this.pos++;
      let out = '';
      while (this.pos < s.length && s[this.pos] !== c) {
        let ch = s[this.pos++];
        if (ch === '\\') {
          if (this.pos >= s.length) break;
          const e = s[this.pos++];
          ch = e === 'n' ? '\n' : e === 't' ? '\t' : e === '0' ? '\0' : e;
        }
        if (ch === '\n') throw new LiteralSyntaxError('newline inside a string', this.pos - 1);
        out += ch;
      }
      if (this.pos >= s.length) throw new LiteralSyntaxError('unterminated string', start);
      this.pos++;
      return { t: 'str', v: out, pos: start };
    }
    if (/[0-9+-]/.test(c)) {
      let end = this.pos + 1;
      while (end < s.length && /[0-9]/.test(s[end])) end++;
      const text = s.slice(this.pos, end);
      if (!/^[+-]?[0-9]+$/.test(text)) throw new LiteralSyntaxError(`bad number '${text}'`, start);
      // Python 2 long suffix (old numpy wrote shapes like (3L, 4L)).
      if (end < s.length && (s[end] === 'L' || s[end] === 'l')) end++;
      this.pos = end;
      return { t: 'int', v: Number(text), pos: start };
    }
    if (/[A-Za-z_]/.test(c)) {
      let end = this.pos + 1;
      while (end < s.length && /[A-Za-z0-9_]/.test(s[end])) end++;
      const name = s.slice(this.pos, end);
      this.pos = end;
      return { t: 'name', v: name, pos: start };
    }
    throw new LiteralSyntaxError(`unexpected character ${JSON.stringify(c)}`, start);
  }
}

// ---- The .npy reader ----------------------------------------------------------------------------

/** The array key of a standalone .npy: its base name without the extension. */
export function npyKeyFromPath(path: string): string {
  const base = path.split(/[\\/]/).filter(Boolean).pop() ?? path;
  return base.replace(/\.npy$/i, '');
}

/** Read a .npy header from an open file region (bounded: at most MAX_NPY_HEADER bytes). */
export async function readNpyHeaderAt(
  read: (offset: number, length: number) => Promise<Uint8Array>,
  available: number,
  path: string,
  baseOffset: number,
): Promise<NpyHeader> {
  let head = await read(baseOffset, Math.min(available, 4096));
  const len = npyHeaderLength(head, path, baseOffset);
  if (len === null) throw new ReaderError(path, `npy header cut short (${head.length} bytes)`, { offset: baseOffset + head.length });
  if (len > available) {
    throw new ReaderError(path, `npy header of ${len} bytes runs past the end of the data (${available} bytes)`, {
      offset: baseOffset + 8,
    });
  }
  if (len > head.length) head = await read(baseOffset, len);
  return parseNpyHeader(head, path, baseOffset);
}

export async function readNpy(path: string, options: ReadOptions = {}): Promise<RunData> {
  options.signal?.throwIfAborted();
  return withFile(path, async (file) => {
    const header = await readNpyHeaderAt((o, l) => file.read(o, l), file.size, path, 0);
    const key = npyKeyFromPath(path);
    const run = emptyRunData();
    run.inputs.push({ path, format: 'npy' });
    const available = file.size - header.headerLength;
    if (header.dataBytes > available) {
      throw new ReaderError(
        path,
        `array '${key}' (${echo(header.descr, 40)}, shape (${header.shape.join(', ')})) needs ${header.dataBytes} data bytes, the file has ${available} after the header`,
        { offset: header.headerLength },
      );
    }
    if (header.dataBytes < available) {
      run.issues.push({
        severity: 'warning',
        path,
        offset: header.headerLength + header.dataBytes,
        message: `${available - header.dataBytes} unexpected bytes after the array data`,
      });
    }
    const step = stepFromFilePath(path);
    if (header.shape.length === 0) {
      const value = header.kind === 'other' ? null : decodeNpyScalar(header, await file.read(header.headerLength, header.itemSize));
      if (value === null)
        throw new ReaderError(path, `0-d array '${key}' of dtype ${echo(header.descr, 40)} has no usable value`, {
          offset: header.headerLength,
        });
      run.snapshots.push({ step, tensors: [], path, scalars: { [key]: value } });
      options.onProgress?.(1);
      return run;
    }
    if (!header.dtype) {
      throw new ReaderError(
        path,
        `array '${key}' has dtype ${echo(header.descr, 40)}; only little-endian float arrays (<f2, <f4, <f8) are tensors`,
        {
          offset: 0,
        },
      );
    }
    const { layer, role } = classifyTensorKey(key);
    const ref: TensorRef = {
      layer,
      role,
      key,
      dtype: header.dtype,
      shape: header.shape,
      numel: header.numel,
      source: { path, offset: header.headerLength, storedLength: header.dataBytes, compression: 'none' },
    };
    if (header.fortranOrder) {
      const strides = fortranStrides(header.shape);
      if (strides) ref.strides = strides;
    }
    run.layerOrder.push(layer);
    run.layerShapes[layer] = header.shape;
    run.snapshots.push({ step, tensors: [ref], path });
    options.onProgress?.(1);
    return run;
  });
}

export const npyReader: Reader = {
  format: 'npy',
  // By magic, or by name: an .npy whose magic is damaged is read, and the error names the byte offset.
  detect(path: string, head: Uint8Array): boolean {
    return hasNpyMagic(head) || /\.npy$/i.test(path);
  },
  read: readNpy,
};
