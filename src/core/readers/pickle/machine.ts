import { DisallowedGlobalError, ReaderError, echo } from '../../errors';
import { appendAll } from '../../arrays';
import {
  PyBytes,
  PyClassRef,
  PyDict,
  PyGlobal,
  PyObject,
  PySet,
  TorchTensor,
  describe,
  dictKey,
  type CallContext,
  type PickleValue,
} from './values';
import { NEVER_EXECUTES, classifyGlobal } from './torchAllowList';

// An interpreter over pickle opcodes (protocols 0-5) that never executes anything. Every name a pickle
// states (GLOBAL, STACK_GLOBAL, INST) is resolved by `classifyGlobal` (torchAllowList.ts) and nothing
// else: allowed names are data constructors written in TypeScript; refused names stop the run with a
// DisallowedGlobalError naming them; other names are refused too, or, in 'placeholder' mode, become
// inert class references whose instances (PyObject) only record their data. REDUCE / NEWOBJ / INST /
// OBJ can call nothing but the allowed constructors.
//
// Bounds (PICKLE_BUDGETS): every length field is checked against the bytes that remain before anything is
// allocated; the stack, the MARK frames, the memo, the containers built and the items they hold, the
// digits of a text number and the length of a text line are each capped. A cap is a ReaderError at the
// opcode's offset, never a V8 abort or an out-of-memory: a 195 KB pickle of 200M DUP opcodes stops at
// the stack cap. Work is linear in the input: one pass, each opcode O(1) or O(items it consumes).

/** The interpreter's budgets. Each one is far above what torch, Lightning or HF write (see README Security). */
export interface PickleBudgets {
  /** Values on the stack, all MARK frames counted. */
  maxStack: number;
  /** MARK frames open at once (CPython writes one per open container: its pickler stops at depth ~1000). */
  maxMarkDepth: number;
  /** Memo entries. */
  maxMemo: number;
  /** Containers built (lists, tuples, dicts, sets, objects). */
  maxContainers: number;
  /** Items held by all containers together. */
  maxItems: number;
  /** Characters of a text integer (INT, LONG): CPython's own int_max_str_digits default. */
  maxDigits: number;
  /** Characters of any other text-line argument (GLOBAL names, FLOAT, PUT/GET indexes, STRING). */
  maxLine: number;
}

export const PICKLE_BUDGETS: Readonly<PickleBudgets> = Object.freeze({
  maxStack: 1_000_000,
  maxMarkDepth: 1_000,
  maxMemo: 1_048_576,
  maxContainers: 4_000_000,
  maxItems: 16_000_000,
  maxDigits: 4_300,
  maxLine: 65_536,
});

export interface UnpickleOptions {
  /** File path for error messages. */
  path: string;
  /** What the bytes are inside the file (e.g. `archive/data.pkl`), for messages. */
  member?: string;
  /** Absolute file offset of byte 0 (a stored zip member, or a pickle inside a stream), so errors carry a file offset. */
  baseOffset?: number;
  /** BINPERSID handler (torch: `('storage', StorageType, key, location, numel)`). Absent: refused. */
  persistentLoad?: (pid: PickleValue, fail: (message: string) => never) => PickleValue;
  /** Names outside the allow-list (and not refused outright): 'refuse' (default) or inert 'placeholder's. */
  unknownGlobals?: 'refuse' | 'placeholder';
  /** Filled with the class names of placeholder objects built, and how many of each. */
  placeholders?: Map<string, number>;
  /** Where to start in `bytes` (a stream of consecutive pickles). */
  start?: number;
  budgets?: Partial<PickleBudgets>;
}

/** The pickle ended before STOP: with more bytes it might be complete (a stream read in windows). */
export class PickleEndError extends ReaderError {}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

/**
 * Interpret a pickle stream with the allow-list. Returns the value at STOP. Throws ReaderError (with
 * the byte offset) on anything unknown, malformed, disallowed or beyond a budget.
 */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): PickleValue {
  return unpickleAt(bytes, options).value;
}

/** Same as unpickle, also returning the position after STOP (consecutive pickles in one stream). */
export function unpickleAt(bytes: Uint8Array, options: UnpickleOptions): { value: PickleValue; end: number } {
  const path = options.path;
  const base = options.baseOffset;
  const budgets: PickleBudgets = { ...PICKLE_BUDGETS, ...options.budgets };
  const placeholderMode = options.unknownGlobals === 'placeholder';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length;
  let pos = options.start ?? 0;
  let opStart = pos;
  let stack: PickleValue[] = [];
  const metastack: PickleValue[][] = [];
  /** Values held by the frames in metastack. */
  let framed = 0;
  const memo = new Map<number, PickleValue>();
  let containers = 0;
  let items = 0;

  // The location is data: the file offset where known; for a member read inflated, the member's byte.
  const locate = (at: number): { offset: number } => ({ offset: base !== undefined ? base + at : at });
  const suffix = (at: number): string => (base === undefined && options.member ? ` (byte ${at} of the inflated ${options.member})` : '');
  const fail: (message: string, at?: number) => never = (message, at = opStart) => {
    throw new ReaderError(path, `${message}${suffix(at)}`, locate(at));
  };
  const failEnd: (message: string) => never = (message) => {
    throw new PickleEndError(path, `${message}${suffix(opStart)}`, locate(opStart));
  };
  const refuse = (module: string, name: string): never => {
    const q = `${module}.${name}`;
    throw new DisallowedGlobalError(
      path,
      `disallowed global '${echo(q)}' (${NEVER_EXECUTES}; only tensor, storage and dict constructors are accepted)${suffix(opStart)}`,
      locate(opStart),
      q,
    );
  };
  const chargeItems = (k: number): void => {
    items += k;
    if (items > budgets.maxItems) fail(`containers hold more than ${budgets.maxItems} items (budget)`);
  };
  const container = (): void => {
    if (++containers > budgets.maxContainers) fail(`more than ${budgets.maxContainers} containers (budget)`);
  };
  const ctx: CallContext = { fail: (m) => fail(m), offset: 0, chargeItems, depth: 0, placeholder: (type, args) => placeholder(type, args) };

  const need = (len: number, what: string): void => {
    if (!Number.isSafeInteger(len) || len < 0) fail(`${what}: invalid length ${len}`);
    if (len > n - pos) failEnd(`${what}: length ${len} exceeds the ${n - pos} bytes left`);
  };
  const u8 = (): number => {
    need(1, 'argument');
    return bytes[pos++];
  };
  const u16 = (): number => {
    need(2, 'argument');
    const v = view.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4, 'argument');
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const i32 = (): number => {
    need(4, 'argument');
    const v = view.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8, 'argument');
    const lo = view.getUint32(pos, true);
    const hi = view.getUint32(pos + 4, true);
    if (hi >= 0x200000) fail(`8-byte length ${hi}·2^32 is too large`);
    pos += 8;
    return hi * 0x100000000 + lo;
  };
  const take = (len: number, what: string): Uint8Array => {
    need(len, what);
    const out = bytes.subarray(pos, pos + len);
    pos += len;
    return out;
  };
  const str = (len: number, what: string): string => {
    const b = take(len, what);
    try {
      return utf8.decode(b);
    } catch {
      return fail(`${what}: invalid UTF-8`);
    }
  };
  /** A newline-terminated text argument of at most `max` characters; only that far is searched. */
  const line = (what: string, max = budgets.maxLine): string => {
    const window = bytes.subarray(pos, Math.min(n, pos + max + 1));
    const i = window.indexOf(0x0a);
    if (i < 0) {
      if (window.length > max) fail(`${what}: longer than ${max} characters (budget)`);
      failEnd(`${what}: no newline before the end of the data`);
    }
    const s = latin1.decode(window.subarray(0, i));
    pos += i + 1;
    return s;
  };

  const push = (v: PickleValue): void => {
    if (stack.length + framed >= budgets.maxStack) fail(`more than ${budgets.maxStack} values on the stack (budget)`);
    stack.push(v);
  };
  const pop = (): PickleValue => {
    if (stack.length === 0) fail(metastack.length > 0 ? 'stack underflow (only a MARK left)' : 'stack underflow');
    return stack.pop()!;
  };
  const top = (): PickleValue => {
    if (stack.length === 0) fail('stack underflow');
    return stack[stack.length - 1];
  };
  const mark = (): void => {
    if (metastack.length >= budgets.maxMarkDepth) fail(`MARKs nested more than ${budgets.maxMarkDepth} deep (budget)`);
    metastack.push(stack);
    framed += stack.length;
    stack = [];
  };
  const popMark = (): PickleValue[] => {
    if (metastack.length === 0) fail('no MARK to pop to');
    const got = stack;
    stack = metastack.pop()!;
    framed -= stack.length;
    return got;
  };
  const tuple = (vals: PickleValue[]): PickleValue[] => {
    container();
    chargeItems(vals.length);
    return Object.freeze(vals) as PickleValue[];
  };
  const newList = (vals: PickleValue[]): PickleValue[] => {
    container();
    chargeItems(vals.length);
    return vals;
  };
  const intValue = (b: bigint): number | bigint =>
    b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
  const long = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return intValue(v);
  };
  const textInt = (what: string, s: string): number | bigint => {
    const t = s.trim();
    if (!/^[-+]?\d+$/.test(t)) fail(`${what}: not an integer '${echo(s, 40)}'`);
    return intValue(BigInt(t));
  };
  const resolveGlobal = (module: string, name: string): PyGlobal | PyClassRef => {
    const c = classifyGlobal(module, name, placeholderMode);
    if (c.kind === 'allowed') return new PyGlobal(module, name, c.spec);
    if (c.kind === 'unknown' && placeholderMode) return new PyClassRef(module, name);
    return refuse(module, name);
  };
  const placeholder = (type: string, args: PickleValue[]): PyObject => {
    container();
    chargeItems(args.length);
    if (options.placeholders) options.placeholders.set(type, (options.placeholders.get(type) ?? 0) + 1);
    return new PyObject(type, args);
  };
  /** cls(*args) for REDUCE / NEWOBJ / INST / OBJ: an allowed constructor, or an inert placeholder. */
  const instantiate = (cls: PickleValue, args: PickleValue[], how: 'call' | 'newobj', opName: string): PickleValue => {
    if (cls instanceof PyClassRef) return placeholder(cls.qualified, args);
    if (!(cls instanceof PyGlobal)) fail(`${opName} on ${describe(cls)} (only allowed globals can be called)`);
    const g = cls as PyGlobal;
    const f = how === 'newobj' ? (g.spec.newobj ?? g.spec.call) : g.spec.call;
    if (!f) fail(`'${g.qualified}' cannot be called`);
    ctx.offset = opStart;
    return f!(args, ctx);
  };
  const setItems = (target: PickleValue, kv: PickleValue[]): void => {
    if (kv.length % 2) fail('SETITEMS with an odd number of items');
    let d: PyDict;
    if (target instanceof PyDict) d = target;
    else if (target instanceof PyObject) d = target.dictItems ??= new PyDict();
    else fail(`SETITEM(S) on ${describe(target)}`);
    chargeItems(kv.length / 2);
    for (let i = 0; i < kv.length; i += 2) d!.map.set(dictKey(kv[i]), kv[i + 1]);
  };
  const appendItems = (target: PickleValue, vals: PickleValue[]): void => {
    chargeItems(vals.length);
    if (target instanceof PySet && !target.frozen) appendAll(target.items, vals);
    else if (target instanceof PyObject) appendAll((target.listItems ??= []), vals);
    else if (Array.isArray(target) && !Object.isFrozen(target)) appendAll(target, vals);
    else fail(`APPEND(S) on ${describe(target)}`);
  };
  const memoPut = (idx: number, v: PickleValue): void => {
    if (memo.size >= budgets.maxMemo && !memo.has(idx)) fail(`more than ${budgets.maxMemo} memo entries (budget)`);
    memo.set(idx, v);
  };
  const memoIndex = (what: string): number => {
    const s = line(what, 12);
    if (!/^\d{1,10}$/.test(s)) fail(`${what}: bad index '${echo(s, 20)}'`);
    return Number(s);
  };
  const persistent = (pid: PickleValue): PickleValue => {
    if (!options.persistentLoad) fail('persistent id in a pickle that has no storages');
    return options.persistentLoad!(pid, (m) => fail(m));
  };
  const quoted = (s: string, what: string): string => {
    // Protocol 0 STRING: a Python repr in quotes; the escapes repr writes (\\, \', \n, \xNN, …).
    const t = s.trim();
    const q = t[0];
    if (t.length < 2 || (q !== "'" && q !== '"') || t[t.length - 1] !== q) fail(`${what}: not a quoted string`);
    return t.slice(1, -1).replace(/\\(x[0-9a-fA-F]{2}|.)/g, (_, e: string) => {
      if (e[0] === 'x') return String.fromCharCode(parseInt(e.slice(1), 16));
      return ({ n: '\n', r: '\r', t: '\t', '0': '\0' } as Record<string, string>)[e] ?? e;
    });
  };

  while (true) {
    if (pos >= n) failEnd('pickle ended without STOP');
    opStart = pos;
    const op = bytes[pos++];
    switch (op) {
      case 0x80: {
        // PROTO
        const p = u8();
        if (p > 5) fail(`unsupported pickle protocol ${p}`);
        break;
      }
      case 0x95: {
        // FRAME: an 8-byte length; frames are just a buffering hint.
        need(u64(), 'FRAME');
        break;
      }
      case 0x2e: // STOP '.'
        return { value: pop(), end: pos };
      case 0x28: // MARK '('
        mark();
        break;
      case 0x7d: // EMPTY_DICT '}'
        container();
        push(new PyDict());
        break;
      case 0x5d: // EMPTY_LIST ']'
        push(newList([]));
        break;
      case 0x29: // EMPTY_TUPLE ')'
        push(tuple([]));
        break;
      case 0x8f: // EMPTY_SET
        container();
        push(new PySet());
        break;
      case 0x90: {
        // ADDITEMS
        const vals = popMark();
        const s = top();
        if (!(s instanceof PySet) || s.frozen) fail(`ADDITEMS on ${describe(s)}`);
        chargeItems(vals.length);
        appendAll((s as PySet).items, vals);
        break;
      }
      case 0x91: {
        // FROZENSET
        const vals = popMark();
        container();
        chargeItems(vals.length);
        const s = new PySet(true);
        appendAll(s.items, vals);
        push(s);
        break;
      }
      case 0x74: // TUPLE 't'
        push(tuple(popMark()));
        break;
      case 0x85: // TUPLE1
        push(tuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        const a = pop();
        push(tuple([a, b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        push(tuple([a, b, c]));
        break;
      }
      case 0x6c: // LIST 'l'
        push(newList(popMark()));
        break;
      case 0x64: {
        // DICT 'd'
        const kv = popMark();
        container();
        const d = new PyDict();
        setItems(d, kv);
        push(d);
        break;
      }
      case 0x58: // BINUNICODE 'X'
        push(str(u32(), 'BINUNICODE'));
        break;
      case 0x8c: // SHORT_BINUNICODE
        push(str(u8(), 'SHORT_BINUNICODE'));
        break;
      case 0x8d: // BINUNICODE8
        push(str(u64(), 'BINUNICODE8'));
        break;
      case 0x54: {
        // BINSTRING 'T' (Python 2 str, signed length): decoded as latin-1 like encoding='latin1'
        const len = i32();
        if (len < 0) fail('BINSTRING with a negative length');
        push(latin1.decode(take(len, 'BINSTRING')));
        break;
      }
      case 0x55: // SHORT_BINSTRING 'U'
        push(latin1.decode(take(u8(), 'SHORT_BINSTRING')));
        break;
      case 0x53: // STRING 'S' (protocol 0: a quoted repr)
        push(quoted(line('STRING'), 'STRING'));
        break;
      case 0x56: // UNICODE 'V' (protocol 0: raw-unicode-escape)
        push(line('UNICODE').replace(/\\u([0-9a-fA-F]{4})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))));
        break;
      case 0x42: // BINBYTES 'B'
        push(new PyBytes(take(u32(), 'BINBYTES')));
        break;
      case 0x43: // SHORT_BINBYTES 'C'
        push(new PyBytes(take(u8(), 'SHORT_BINBYTES')));
        break;
      case 0x8e: // BINBYTES8
        push(new PyBytes(take(u64(), 'BINBYTES8')));
        break;
      case 0x96: // BYTEARRAY8
        push(new PyBytes(take(u64(), 'BYTEARRAY8')));
        break;
      case 0x4a: // BININT 'J'
        push(i32());
        break;
      case 0x4b: // BININT1 'K'
        push(u8());
        break;
      case 0x4d: // BININT2 'M'
        push(u16());
        break;
      case 0x8a: // LONG1
        push(long(take(u8(), 'LONG1')));
        break;
      case 0x8b: {
        // LONG4
        const len = i32();
        if (len < 0) fail('LONG4 with a negative length');
        if (len > 1024) fail(`LONG4 of ${len} bytes: integers that large do not occur in checkpoints`);
        push(long(take(len, 'LONG4')));
        break;
      }
      case 0x49: {
        // INT 'I' (text; '01'/'00' are True/False)
        const s = line('INT', budgets.maxDigits + 2);
        if (s === '01') push(true);
        else if (s === '00') push(false);
        else push(textInt('INT', s));
        break;
      }
      case 0x4c: // LONG 'L' (text, optional trailing L)
        push(textInt('LONG', line('LONG', budgets.maxDigits + 3).replace(/L$/, '')));
        break;
      case 0x46: {
        // FLOAT 'F' (text)
        // What Python's float() reads, as protocol 0 writes repr(x): digits, inf, nan.
        const s = line('FLOAT', 64).trim();
        const special = /^([-+]?)(inf|infinity|nan)$/i.exec(s);
        const v = special ? (/nan/i.test(special[2]) ? NaN : special[1] === '-' ? -Infinity : Infinity) : Number(s);
        if (s === '' || (Number.isNaN(v) && !special)) fail(`FLOAT: not a number '${echo(s, 40)}'`);
        push(v);
        break;
      }
      case 0x47: {
        // BINFLOAT 'G' (big-endian f64)
        need(8, 'BINFLOAT');
        push(view.getFloat64(pos, false));
        pos += 8;
        break;
      }
      case 0x88: // NEWTRUE
        push(true);
        break;
      case 0x89: // NEWFALSE
        push(false);
        break;
      case 0x4e: // NONE 'N'
        push(null);
        break;
      case 0x71: // BINPUT 'q'
        memoPut(u8(), top());
        break;
      case 0x72: // LONG_BINPUT 'r'
        memoPut(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memoPut(memo.size, top());
        break;
      case 0x70: // PUT 'p' (text)
        memoPut(memoIndex('PUT'), top());
        break;
      case 0x68: // BINGET 'h'
      case 0x6a: // LONG_BINGET 'j'
      case 0x67: {
        // GET 'g' (text)
        const idx = op === 0x68 ? u8() : op === 0x6a ? u32() : memoIndex('GET');
        const v = memo.get(idx);
        if (v === undefined) fail(`memo key ${idx} not found`);
        push(v!);
        break;
      }
      case 0x30: // POP '0'
        if (stack.length > 0) stack.pop();
        else popMark();
        break;
      case 0x31: // POP_MARK '1'
        popMark();
        break;
      case 0x32: // DUP '2'
        push(top());
        break;
      case 0x63: {
        // GLOBAL 'c': "module\nname\n"
        const module = line('GLOBAL module', 1024);
        const name = line('GLOBAL name', 1024);
        push(resolveGlobal(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        push(resolveGlobal(module as string, name as string));
        break;
      }
      case 0x69: {
        // INST 'i': "module\nname\n", arguments since the MARK; cls(*args)
        const module = line('INST module', 1024);
        const name = line('INST name', 1024);
        const cls = resolveGlobal(module, name);
        push(instantiate(cls, popMark(), 'call', 'INST'));
        break;
      }
      case 0x6f: {
        // OBJ 'o': class and arguments since the MARK; cls(*args)
        const vals = popMark();
        if (vals.length === 0) fail('OBJ without a class');
        push(instantiate(vals[0], vals.slice(1), 'call', 'OBJ'));
        break;
      }
      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: {
        // EXT4: a class by its copyreg extension code; codes are registered by running code, so none resolve
        const code = op === 0x82 ? u8() : op === 0x83 ? u16() : u32();
        fail(`extension code ${code} names a global through the copyreg registry; not accepted (${NEVER_EXECUTES})`);
        break;
      }
      case 0x52: {
        // REDUCE 'R'
        const args = pop();
        const callable = pop();
        if (!Array.isArray(args)) fail(`REDUCE arguments are ${describe(args)}, not a tuple`);
        push(instantiate(callable, args as PickleValue[], 'call', 'REDUCE'));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        const cls = pop();
        if (!Array.isArray(args)) fail(`NEWOBJ arguments are ${describe(args)}, not a tuple`);
        push(instantiate(cls, args as PickleValue[], 'newobj', 'NEWOBJ'));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        if (!Array.isArray(args)) fail(`NEWOBJ_EX arguments are ${describe(args)}, not a tuple`);
        if (!(kwargs instanceof PyDict)) fail(`NEWOBJ_EX keyword arguments are ${describe(kwargs)}, not a dict`);
        if (!(cls instanceof PyClassRef) && (kwargs as PyDict).size > 0) fail('NEWOBJ_EX with keyword arguments');
        push(instantiate(cls, args as PickleValue[], 'newobj', 'NEWOBJ_EX'));
        break;
      }
      case 0x62: {
        // BUILD 'b': state applied to our own objects only, as data (nothing is called)
        const state = pop();
        const obj = top();
        if (obj instanceof PyDict) obj.attrs = state;
        else if (obj instanceof PyObject) obj.state = state;
        else if (!(obj instanceof TorchTensor || obj instanceof PySet)) fail(`BUILD on ${describe(obj)}`);
        // tensor / set state (e.g. parameter attributes): kept out of the way, not interpreted
        break;
      }
      case 0x51: // BINPERSID 'Q'
        push(persistent(pop()));
        break;
      case 0x50: // PERSID 'P' (text)
        push(persistent(line('PERSID')));
        break;
      case 0x73: {
        // SETITEM 's'
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS 'u'
        const kv = popMark();
        setItems(top(), kv);
        break;
      }
      case 0x61: {
        // APPEND 'a'
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS 'e'
        const vals = popMark();
        appendItems(top(), vals);
        break;
      }
      case 0x97: // NEXT_BUFFER
      case 0x98: // READONLY_BUFFER
        fail('out-of-band buffers (pickle protocol 5) are not supported');
        break;
      default:
        fail(`unknown or unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')}`);
    }
  }
}
