import { DisallowedGlobalError, ReaderError } from '../../errors';
import { appendAll } from '../../arrays';
import { PyBytes, PyDict, PyGlobal, PySet, TorchTensor, describe, dictKey, type CallContext, type PickleValue } from './values';
import { ALLOWED_GLOBALS, NEVER_EXECUTES } from './torchAllowList';

// A safe allow-list unpickler: an interpreter over pickle opcodes (protocols 0-5, the subset that
// torch.save and friends write) that never executes anything. GLOBAL / STACK_GLOBAL resolve only
// against ALLOWED_GLOBALS, a table of data constructors implemented here in TypeScript (a tensor
// descriptor, an ordered dict, a tuple); REDUCE / NEWOBJ can call nothing else. Any other global
// (`builtins.eval`, `os.system`, `posix.system`, `subprocess.Popen`, …) is refused with a
// ReaderError that names it, before anything else happens. Like torch.load(weights_only=True).
//
// Resource limits: every length field is checked against the bytes that remain before anything is
// allocated; each opcode pushes at most one value, so stack and memo are bounded by the input length;
// the memo is a Map (a huge LONG_BINPUT index allocates nothing); the run is linear in the input.

// ---- The interpreter -----------------------------------------------------------------------------

export interface UnpickleOptions {
  /** File path for error messages. */
  path: string;
  /** What the bytes are inside the file (e.g. `archive/data.pkl`), for messages. */
  member?: string;
  /** Absolute file offset of byte 0 (for stored zip members), so errors carry a file offset. */
  baseOffset?: number;
  /** BINPERSID handler (torch: `('storage', StorageType, key, location, numel)`). Absent: refused. */
  persistentLoad?: (pid: PickleValue, fail: (message: string) => never) => PickleValue;
  /** Stop after the first STOP (default) — the bytes after it are not read. */
}

const MARK = Symbol('mark');

const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

/**
 * Interpret a pickle stream with the allow-list. Returns the value at STOP. Throws ReaderError (with
 * the byte offset) on anything unknown, malformed or disallowed.
 */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): PickleValue {
  const path = options.path;
  const base = options.baseOffset;
  const where = options.member ? `${options.member} ` : '';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length;
  let pos = 0;
  let opStart = 0;
  let stack: (PickleValue | typeof MARK)[] = [];
  const metastack: (PickleValue | typeof MARK)[][] = [];
  const memo = new Map<number, PickleValue>();

  const fail: (message: string, at?: number) => never = (message, at = opStart) => {
    throw new ReaderError(path, `${message} (${where}byte ${at})`, base !== undefined ? { offset: base + at } : { offset: at });
  };
  const refuse: (message: string, global: string) => never = (message, global) => {
    throw new DisallowedGlobalError(path, `${message} (${where}byte ${opStart})`, { offset: (base ?? 0) + opStart }, global);
  };
  const ctx: CallContext = { fail: (m) => fail(m), offset: 0 };

  const need = (len: number, what: string): void => {
    if (!Number.isSafeInteger(len) || len < 0 || len > n - pos) {
      fail(`${what}: length ${len} exceeds the ${n - pos} bytes left`);
    }
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
    pos += 8;
    if (hi >= 0x200000) fail(`8-byte length ${hi}·2^32 is too large`);
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
  const line = (what: string): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail(`${what}: no newline before the end of the data`);
    const s = latin1.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };

  const push = (v: PickleValue): void => {
    stack.push(v);
  };
  const pop = (): PickleValue => {
    if (stack.length === 0) fail('stack underflow');
    const v = stack.pop()!;
    if (v === MARK) fail('unexpected MARK on the stack');
    return v as PickleValue;
  };
  const top = (): PickleValue => {
    if (stack.length === 0) fail('stack underflow');
    const v = stack[stack.length - 1];
    if (v === MARK) fail('unexpected MARK on the stack');
    return v as PickleValue;
  };
  const popMark = (): PickleValue[] => {
    if (metastack.length === 0) fail('no MARK to pop to');
    const items = stack;
    stack = metastack.pop()!;
    for (const it of items) if (it === MARK) fail('nested MARK');
    return items as PickleValue[];
  };
  const tuple = (items: PickleValue[]): PickleValue[] => Object.freeze(items) as PickleValue[];
  const long = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const resolveGlobal = (module: string, name: string): PyGlobal => {
    const q = `${module}.${name}`;
    const spec = ALLOWED_GLOBALS.get(q);
    if (!spec) {
      const shown = q.length > 120 ? `${q.slice(0, 120)}…` : q;
      refuse(`disallowed global '${shown}' (${NEVER_EXECUTES}; only tensor, storage and dict constructors are accepted)`, q);
    }
    return new PyGlobal(module, name, spec);
  };
  const setItems = (target: PickleValue, items: PickleValue[]): void => {
    if (!(target instanceof PyDict)) fail(`SETITEM(S) on ${describe(target)}`);
    if (items.length % 2) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) target.map.set(dictKey(items[i], { fail: (m) => fail(m) }), items[i + 1]);
  };
  const appendItems = (target: PickleValue, items: PickleValue[]): void => {
    if (target instanceof PySet && !target.frozen) {
      appendAll(target.items, items);
      return;
    }
    if (!Array.isArray(target) || Object.isFrozen(target)) fail(`APPEND(S) on ${describe(target)}`);
    appendAll(target, items);
  };
  const num = (s: string, what: string): number => {
    const v = Number(s.trim());
    if (s.trim() === '' || (Number.isNaN(v) && !/nan/i.test(s))) fail(`${what}: not a number '${s.slice(0, 40)}'`);
    return v;
  };

  while (true) {
    if (pos >= n) fail('pickle ended without STOP', pos);
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
        const len = u64();
        need(len, 'FRAME');
        break;
      }
      case 0x2e: {
        // STOP '.'
        const v = pop();
        return v;
      }
      case 0x28: // MARK '('
        metastack.push(stack);
        stack = [];
        break;
      case 0x7d: // EMPTY_DICT '}'
        push(new PyDict());
        break;
      case 0x5d: // EMPTY_LIST ']'
        push([]);
        break;
      case 0x29: // EMPTY_TUPLE ')'
        push(tuple([]));
        break;
      case 0x8f: // EMPTY_SET
        push(new PySet());
        break;
      case 0x90: // ADDITEMS
        {
          const items = popMark();
          const s = top();
          if (!(s instanceof PySet) || s.frozen) fail(`ADDITEMS on ${describe(s)}`);
          appendAll(s.items, items);
        }
        break;
      case 0x91: // FROZENSET
        {
          const s = new PySet(true);
          appendAll(s.items, popMark());
          push(s);
        }
        break;
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
        push(popMark());
        break;
      case 0x64: {
        // DICT 'd'
        const items = popMark();
        const d = new PyDict();
        setItems(d, items);
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
        const s = line('INT');
        if (s === '01') push(true);
        else if (s === '00') push(false);
        else {
          if (!/^\s*[-+]?\d+\s*$/.test(s)) fail(`INT: not an integer '${s.slice(0, 40)}'`);
          const b = BigInt(s.trim());
          push(b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b);
        }
        break;
      }
      case 0x4c: {
        // LONG 'L' (text, optional trailing L)
        const s = line('LONG').replace(/L$/, '');
        if (!/^\s*[-+]?\d+\s*$/.test(s) || s.length > 400) fail(`LONG: not an integer '${s.slice(0, 40)}'`);
        const b = BigInt(s.trim());
        push(b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b);
        break;
      }
      case 0x46: // FLOAT 'F' (text)
        push(num(line('FLOAT'), 'FLOAT'));
        break;
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
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT 'r'
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x70: {
        // PUT 'p' (text)
        const s = line('PUT');
        if (!/^\d{1,10}$/.test(s)) fail(`PUT: bad index '${s.slice(0, 20)}'`);
        memo.set(Number(s), top());
        break;
      }
      case 0x68: // BINGET 'h'
      case 0x6a: // LONG_BINGET 'j'
      case 0x67: {
        // GET 'g' (text)
        let idx: number;
        if (op === 0x68) idx = u8();
        else if (op === 0x6a) idx = u32();
        else {
          const s = line('GET');
          if (!/^\d{1,10}$/.test(s)) fail(`GET: bad index '${s.slice(0, 20)}'`);
          idx = Number(s);
        }
        if (!memo.has(idx)) fail(`memo key ${idx} not found`);
        push(memo.get(idx)!);
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
        const module = line('GLOBAL module');
        const name = line('GLOBAL name');
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
      case 0x52: {
        // REDUCE 'R'
        const args = pop();
        const callable = pop();
        if (!(callable instanceof PyGlobal)) fail(`REDUCE on ${describe(callable)} (only allowed globals can be called)`);
        const g = callable as PyGlobal;
        if (!g.spec.call) fail(`'${g.qualified}' cannot be called`);
        if (!Array.isArray(args)) fail(`REDUCE arguments are ${describe(args)}, not a tuple`);
        ctx.offset = opStart;
        push(g.spec.call!(args as PickleValue[], ctx));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        const cls = pop();
        if (!(cls instanceof PyGlobal) || !cls.spec.newobj) fail(`NEWOBJ on ${describe(cls)} (only allowed classes)`);
        if (!Array.isArray(args)) fail(`NEWOBJ arguments are ${describe(args)}, not a tuple`);
        ctx.offset = opStart;
        push((cls as PyGlobal).spec.newobj!(args as PickleValue[], ctx));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        if (!(cls instanceof PyGlobal) || !cls.spec.newobj) fail(`NEWOBJ_EX on ${describe(cls)} (only allowed classes)`);
        if (!Array.isArray(args)) fail(`NEWOBJ_EX arguments are ${describe(args)}, not a tuple`);
        if (!(kwargs instanceof PyDict) || kwargs.size > 0) fail('NEWOBJ_EX with keyword arguments');
        ctx.offset = opStart;
        push((cls as PyGlobal).spec.newobj!(args as PickleValue[], ctx));
        break;
      }
      case 0x62: {
        // BUILD 'b': state applied to our own objects only (as attributes; nothing is called)
        const state = pop();
        const obj = top();
        if (obj instanceof PyDict) obj.attrs = state;
        else if (obj instanceof TorchTensor || obj instanceof PySet) {
          // tensor / set state (e.g. parameter attributes): kept out of the way, not interpreted
        } else fail(`BUILD on ${describe(obj)}`);
        break;
      }
      case 0x51: {
        // BINPERSID 'Q'
        const pid = pop();
        if (!options.persistentLoad) fail('persistent id in a pickle that has no storages');
        push(options.persistentLoad!(pid, (m) => fail(m)));
        break;
      }
      case 0x73: {
        // SETITEM 's'
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS 'u'
        const items = popMark();
        setItems(top(), items);
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
        const items = popMark();
        appendItems(top(), items);
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
