import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DisallowedGlobalError, ReaderError } from '../../../src/core/errors';
import { PICKLE_BUDGETS, unpickle, type PickleBudgets } from '../../../src/core/readers/pickle/machine';
import { torchPersistentLoad } from '../../../src/core/readers/pickle/torchAllowList';
import {
  PyBytes,
  PyDict,
  PyObject,
  PySet,
  TorchTensor,
  isTuple,
  summarize,
  type PickleValue,
} from '../../../src/core/readers/pickle/values';
import { CaseBudget, fuzzCases, fuzzSeed, int, pick, rng, type Rand } from '../../support/fuzz';

// A structure-aware fuzzer for the pickle machine, from the grammar rather than from mutated files:
//  1. round trips — a random value is pickled with a random choice among the opcodes that can write each
//     part (BININT / INT text / LONG1, BINUNICODE / SHORT_BINUNICODE / STRING, TUPLE2 / MARK…TUPLE, list by
//     APPEND or APPENDS, memo PUT/GET for repeats) and must come back equal;
//  2. hostile programs — random opcode sequences in stack-heavy, memo-heavy, MARK-deep, container-heavy
//     and call-heavy shapes (globals allowed, refused and unknown; REDUCE/NEWOBJ/INST/OBJ/BUILD/BINPERSID),
//     run under small budgets so that every budget is crossed, plus their mutations.
// Each case asserts a result or the reader's own error (offset inside the input, a short message without
// control characters). Work and memory are bounded by construction: at most a few thousand opcodes per
// case, and each case is checked against the per-case budget (test/support/fuzz.ts). 2000 cases per part
// in the unit suite, FUZZ_SCALE times as many in `npm run fuzz`.

const CASES = fuzzCases(2000);
const SEED = fuzzSeed(0x9e3779b9);

type R = Rand;

// ---- 1. Round trips ---------------------------------------------------------------------------------

type V =
  null | boolean | number | bigint | string | { bytes: number[] } | { list: V[] } | { tuple: V[] } | { dict: [string | number, V][] };

function randomValue(r: R, depth: number): V {
  const k = int(r, depth > 3 ? 7 : 11);
  switch (k) {
    case 0:
      return null;
    case 1:
      return r() < 0.5;
    case 2:
      return pick(r, [0, 1, -1, 255, 256, 65535, 65536, -129, 2 ** 31 - 1, -(2 ** 31), 2 ** 40, -(2 ** 52)]);
    case 3:
      return pick(r, [2n ** 64n, -(2n ** 63n) - 1n, 10n ** 30n]);
    case 4:
      return pick(r, [0.5, -1.25, 1e-8, 3e300, -0.0, 0.1]);
    case 5:
      return pick(r, ['', 'a', 'state', 'ü€', 'x'.repeat(300), 'line\nbreak', "quo'te"]);
    case 6:
      return { bytes: Array.from({ length: int(r, 5) }, () => int(r, 256)) };
    case 7:
    case 8:
      return { list: Array.from({ length: int(r, 5) }, () => randomValue(r, depth + 1)) };
    case 9:
      return { tuple: Array.from({ length: int(r, 5) }, () => randomValue(r, depth + 1)) };
    default:
      return {
        dict: Array.from({ length: int(r, 4) }, (_, i) => [r() < 0.5 ? `k${i}` : i, randomValue(r, depth + 1)] as [string | number, V]),
      };
  }
}

class Writer {
  out: number[] = [];
  private memo = new Map<string, number>();
  constructor(private r: R) {}
  bytes(b: Iterable<number>) {
    for (const x of b) this.out.push(x);
  }
  u32(n: number) {
    this.bytes([n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff]);
  }
  text(s: string) {
    this.bytes(Buffer.from(s, 'latin1'));
  }
  put(id: string) {
    const idx = this.memo.size;
    this.memo.set(id, idx);
    const c = int(this.r, 3);
    if (c === 0) this.bytes([0x71, idx]);
    else if (c === 1) {
      this.out.push(0x72);
      this.u32(idx);
    } else {
      this.out.push(0x70);
      this.text(`${idx}\n`);
    }
  }
  emit(v: V): void {
    const r = this.r;
    if (v === null) return void this.out.push(0x4e);
    if (typeof v === 'boolean') {
      if (r() < 0.8) return void this.out.push(v ? 0x88 : 0x89);
      this.out.push(0x49);
      return this.text(v ? '01\n' : '00\n');
    }
    if (typeof v === 'number') {
      if (Number.isSafeInteger(v) && !Object.is(v, -0)) {
        if (v >= 0 && v < 256 && r() < 0.5) return this.bytes([0x4b, v]);
        if (v >= 0 && v < 65536 && r() < 0.5) return this.bytes([0x4d, v & 0xff, v >> 8]);
        if (v >= -(2 ** 31) && v < 2 ** 31 && r() < 0.6) {
          this.out.push(0x4a);
          return this.u32(v >>> 0);
        }
        if (r() < 0.5) {
          this.out.push(0x49);
          return this.text(`${v}\n`);
        }
        return this.long(BigInt(v));
      }
      if (r() < 0.7) {
        const b = Buffer.alloc(8);
        b.writeDoubleBE(v);
        this.out.push(0x47);
        return this.bytes(b);
      }
      this.out.push(0x46);
      return this.text(`${Object.is(v, -0) ? '-0.0' : v}\n`);
    }
    if (typeof v === 'bigint') return r() < 0.5 ? this.long(v) : (this.out.push(0x4c), this.text(`${v}L\n`));
    if (typeof v === 'string') {
      const seen = this.memo.get(`s:${v}`);
      if (seen !== undefined && r() < 0.7) return seen < 256 ? this.bytes([0x68, seen]) : (this.out.push(0x6a), this.u32(seen));
      const b = Buffer.from(v, 'utf8');
      const ascii = /^[\x20-\x7e]*$/.test(v) && !v.includes("'") && !v.includes('\\');
      const c = int(r, 3);
      if (c === 0 && b.length < 256) this.bytes([0x8c, b.length, ...b]);
      else if (c === 1 && ascii) this.text(`S'${v}'\n`);
      else {
        this.out.push(0x58);
        this.u32(b.length);
        this.bytes(b);
      }
      if (r() < 0.4) this.put(`s:${v}`);
      return;
    }
    if ('bytes' in v) return this.bytes([0x43, v.bytes.length, ...v.bytes]);
    if ('list' in v) {
      if (r() < 0.5) {
        this.out.push(0x5d);
        if (r() < 0.5) {
          for (const x of v.list) {
            this.emit(x);
            this.out.push(0x61);
          }
        } else if (v.list.length > 0) {
          this.out.push(0x28);
          v.list.forEach((x) => this.emit(x));
          this.out.push(0x65);
        }
      } else {
        this.out.push(0x28);
        v.list.forEach((x) => this.emit(x));
        this.out.push(0x6c);
      }
      return;
    }
    if ('tuple' in v) {
      const n = v.tuple.length;
      if (n === 0 && r() < 0.5) return void this.out.push(0x29);
      if (n >= 1 && n <= 3 && r() < 0.6) {
        v.tuple.forEach((x) => this.emit(x));
        return void this.out.push([0x85, 0x86, 0x87][n - 1]);
      }
      this.out.push(0x28);
      v.tuple.forEach((x) => this.emit(x));
      return void this.out.push(0x74);
    }
    if (r() < 0.5) {
      this.out.push(0x7d);
      if (v.dict.length > 0) {
        this.out.push(0x28);
        for (const [k, x] of v.dict) {
          this.emit(k);
          this.emit(x);
        }
        this.out.push(0x75);
      }
    } else {
      this.out.push(0x28);
      for (const [k, x] of v.dict) {
        this.emit(k);
        this.emit(x);
      }
      this.out.push(0x64);
    }
  }
  long(v: bigint) {
    const b: number[] = [];
    let x = v;
    for (;;) {
      b.push(Number(x & 0xffn));
      x >>= 8n;
      const sign = (b[b.length - 1] & 0x80) !== 0;
      if ((x === 0n && !sign) || (x === -1n && sign)) break;
    }
    this.bytes([0x8a, b.length, ...b]);
  }
}

function same(got: PickleValue, v: V, where: string): void {
  if (v === null || typeof v !== 'object') {
    if (typeof v === 'number' && Number.isNaN(v)) return assert.ok(Number.isNaN(got as number), where);
    return assert.ok(Object.is(got, v) || (typeof v === 'number' && got === v), `${where}: ${String(got)} vs ${String(v)}`);
  }
  if ('bytes' in v) return assert.deepEqual([...(got as PyBytes).bytes], v.bytes, where);
  if ('list' in v || 'tuple' in v) {
    const items = 'list' in v ? v.list : v.tuple;
    assert.ok(Array.isArray(got), where);
    assert.equal(isTuple(got), 'tuple' in v, `${where}: tuple?`);
    assert.equal(got.length, items.length, where);
    items.forEach((x, i) => same(got[i], x, `${where}[${i}]`));
    return;
  }
  assert.ok(got instanceof PyDict, where);
  const expected = new Map(v.dict);
  assert.equal(got.size, expected.size, where);
  for (const [k, x] of expected) same(got.get(k)!, x, `${where}.${k}`);
}

test(`pickle grammar round trips: ${CASES} random values written with random opcode choices come back equal (seed ${SEED})`, (t) => {
  const r = rng(SEED);
  const budget = new CaseBudget();
  for (let i = 0; i < CASES; i++) {
    const t0 = budget.start();
    const v = randomValue(r, 0);
    const w = new Writer(r);
    w.bytes([0x80, pick(r, [2, 3, 4])]);
    w.emit(v);
    w.out.push(0x2e);
    const got = unpickle(Uint8Array.from(w.out), { path: `case${i}` });
    same(got, v, `case ${i}`);
    budget.done(`case ${i}`, t0);
  }
  t.diagnostic(budget.report());
});

// ---- 2. Hostile programs ----------------------------------------------------------------------------

const GLOBALS: [string, string][] = [
  ['torch._utils', '_rebuild_tensor_v2'],
  ['torch._utils', '_rebuild_parameter'],
  ['torch._tensor', '_rebuild_from_type_v2'],
  ['torch', 'FloatStorage'],
  ['torch', 'Tensor'],
  ['torch.nn.parameter', 'Parameter'],
  ['collections', 'OrderedDict'],
  ['builtins', 'set'],
  ['_codecs', 'encode'],
  ['builtins', 'eval'],
  ['os', 'system'],
  ['subprocess', 'Popen'],
  ['builtins', 'getattr'],
  ['torch.nn.modules.loss', 'BCEWithLogitsLoss'],
  ['numpy.core.multiarray', '_reconstruct'],
  ['__main__', 'Thing'],
  ['x'.repeat(2000), 'y\x1b[2J'],
];

type Shape = 'stack' | 'memo' | 'deep' | 'containers' | 'items' | 'calls' | 'text';

/** Shapes whose ops the Program's stack model keeps valid. */
const MODELLED: Shape[] = ['stack', 'memo', 'deep', 'containers', 'items'];

type Kind = 'value' | 'key' | 'list' | 'dict' | 'mark' | 'global';

/**
 * Builds opcode programs that stay valid under a simple model of the machine's stack (kinds of values and
 * MARKs, the memo keys set so far), so that long runs reach the budgets; with probability `noise` an op
 * is drawn from everything the grammar has instead.
 */
class Program {
  readonly out: number[];
  private stack: Kind[] = [];
  private memo: number[] = [];
  private marks = 0;
  constructor(
    private r: R,
    private noise: number,
    proto: number,
  ) {
    this.out = [0x80, proto];
  }
  private u32(n: number) {
    this.out.push(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  }
  private text(s: string) {
    for (const b of Buffer.from(s, 'latin1')) this.out.push(b);
  }
  private top(): Kind | undefined {
    return this.stack[this.stack.length - 1];
  }
  private pushValue() {
    const r = this.r;
    const k = int(r, 6);
    if (k === 0) this.out.push(0x4e);
    else if (k === 1) this.out.push(0x4b, int(r, 256));
    else if (k === 2) this.out.push(0x8c, 1, 0x61 + int(r, 26));
    else if (k === 3) return void (this.out.push(0x5d), this.stack.push('list'));
    else if (k === 4) return void (this.out.push(0x7d), this.stack.push('dict'));
    else this.out.push(0x29);
    this.stack.push(k === 1 || k === 2 ? 'key' : 'value');
  }
  private close(op: number) {
    // pop to the MARK, push one value
    while (this.stack.length && this.top() !== 'mark') this.stack.pop();
    this.stack.pop();
    this.marks--;
    this.out.push(op);
    this.stack.push(op === 0x6c ? 'list' : 'value');
  }
  step(shape: Shape): void {
    const r = this.r;
    if (r() < this.noise) return randomOp(r, this.out);
    const top = this.top();
    const has = top !== undefined && top !== 'mark';
    const below = this.stack[this.stack.length - 2];
    const c = r();
    switch (shape) {
      case 'stack':
        if (!has || c < 0.3) return this.pushValue();
        if (c < 0.9) return void (this.out.push(0x32), this.stack.push(top!));
        return void (this.out.push(0x30), this.stack.pop());
      case 'memo':
        if (!has) return this.pushValue();
        if (c < 0.4) {
          const idx = this.memo.length;
          if (r() < 0.5) this.out.push(0x94);
          else {
            this.out.push(0x72);
            this.u32(idx);
          }
          this.memo.push(idx);
          return;
        }
        if (c < 0.8 && this.memo.length) {
          const idx = pick(r, this.memo);
          if (idx < 256 && r() < 0.5) this.out.push(0x68, idx);
          else {
            this.out.push(0x6a);
            this.u32(idx);
          }
          return void this.stack.push('value');
        }
        if (c < 0.9) return void (this.out.push(0x30), this.stack.pop());
        return this.pushValue();
      case 'deep':
        if (c < 0.55) return void (this.out.push(0x28), this.stack.push('mark'), this.marks++);
        if (c < 0.8 || this.marks === 0) return this.pushValue();
        return this.close(pick(r, [0x74, 0x6c]));
      case 'items':
        if (has && below === 'list') return void (this.out.push(0x61), this.stack.pop());
        if (top === 'list' || top === 'dict') return void (this.out.push(0x4e), this.stack.push('value'));
        return void (this.out.push(0x5d), this.stack.push('list'));
      case 'containers':
        if (has && below === 'list' && c < 0.5) return void (this.out.push(0x61), this.stack.pop());
        if (has && top === 'key' && this.stack[this.stack.length - 3] === 'dict' && below === 'key' && c < 0.7) {
          this.stack.pop();
          this.stack.pop();
          return void this.out.push(0x73);
        }
        if (has && c < 0.75) return void (this.out.push(0x30), this.stack.pop());
        if (c < 0.85 && this.stack.filter((k) => k === 'value' || k === 'key').length >= 2) {
          this.out.push(0x86);
          this.stack.pop();
          this.stack.pop();
          return void this.stack.push('value');
        }
        return this.pushValue();
      case 'calls':
      case 'text':
        return randomOp(r, this.out, shape);
    }
  }
}

/** One opcode from everything the grammar has (with its argument bytes); `shape` weights globals or text. */
function randomOp(r: R, out: number[], shape?: Shape): void {
  const u32 = (n: number) => out.push(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  const text = (s: string) => {
    for (const b of Buffer.from(s, 'latin1')) out.push(b);
  };
  if (shape === 'calls' && r() < 0.6) {
    const c = r();
    if (c < 0.45) {
      const [m, n] = pick(r, GLOBALS);
      if (r() < 0.7) out.push(0x63);
      else out.push(0x28, 0x4e, 0x69); // MARK, None, INST
      return text(`${m}\n${n}\n`);
    }
    if (c < 0.75) return void out.push(pick(r, [0x52, 0x81, 0x62, 0x6f, 0x51, 0x92, 0x28, 0x29, 0x74, 0x85, 0x86]));
    // a plausible persistent id ('storage', FloatStorage, key, 'cpu', numel) and a rebuild call around it
    out.push(0x63, ...Buffer.from('torch._utils\n_rebuild_tensor_v2\n'), 0x28, 0x28, 0x8c, 7, ...Buffer.from('storage'));
    out.push(0x63, ...Buffer.from('torch\nFloatStorage\n'), 0x8c, 1, 0x30 + int(r, 10), 0x8c, 3, ...Buffer.from('cpu'), 0x4b, int(r, 200));
    out.push(0x74, 0x51, 0x4b, int(r, 4), 0x4b, int(r, 300), 0x85, 0x4b, 1, 0x85, 0x89, 0x4e, 0x74, 0x52);
    return;
  }
  if (shape === 'text' && r() < 0.8) {
    const c = r();
    if (c < 0.2) return void (out.push(0x49), text(`${'9'.repeat(int(r, 6000))}\n`));
    if (c < 0.35) return void (out.push(0x4c), text(`-${'1'.repeat(int(r, 5000))}L\n`));
    if (c < 0.5) return void (out.push(0x46), text(`${pick(r, ['1e5', 'nan', '-inf', 'x', '', '1'.repeat(100)])}\n`));
    if (c < 0.65) return void (out.push(0x53), text(`${pick(r, ["'ok'", '"q"', "'bad", "'\\x41'", 'x'])}\n`));
    if (c < 0.8) return void (out.push(0x67), text(`${pick(r, ['0', '12', 'a', '99999999999'])}\n`));
    if (c < 0.9) return void (out.push(0x56), text(`${pick(r, ['caf\\u00e9', 'x'.repeat(int(r, 500))])}\n`));
    return void out.push(0x49); // no newline at all
  }
  const k = int(r, 6);
  if (k === 0) out.push(int(r, 256));
  else if (k === 1) {
    out.push(pick(r, [0x58, 0x42, 0x54, 0x72, 0x6a]));
    u32(pick(r, [0, 1, 5, 0xffffffff, 0x7fffffff, int(r, 1000)]));
  } else if (k === 2) out.push(0x95, int(r, 256), 0, 0, 0, 0, 0, 0, 0);
  else if (k === 3) out.push(0x80, int(r, 8));
  else if (k === 4) out.push(0x8a, int(r, 12), ...Array.from({ length: int(r, 12) }, () => int(r, 256)));
  else
    out.push(
      pick(r, [0x28, 0x29, 0x5d, 0x7d, 0x4e, 0x32, 0x30, 0x31, 0x61, 0x65, 0x73, 0x75, 0x74, 0x6c, 0x64, 0x94, 0x2e, 0x8f, 0x90, 0x91]),
    );
}

const SMALL: Partial<PickleBudgets> = {
  maxStack: 400,
  maxMarkDepth: 40,
  maxMemo: 300,
  maxContainers: 500,
  maxItems: 1000,
  maxDigits: 200,
  maxLine: 300,
};

/** The only acceptable outcomes: a value (summarizable) or the reader's own error, well located and short. */
function check(bytes: Uint8Array, budgets: Partial<PickleBudgets>, what: string): 'ok' | 'error' {
  try {
    const v = unpickle(bytes, {
      path: what,
      budgets,
      unknownGlobals: bytes.length % 2 ? 'placeholder' : 'refuse',
      persistentLoad: torchPersistentLoad,
    });
    const s = summarize(v, 3);
    assert.ok(s.length < 20_000, `${what}: summary of ${s.length} characters`);
    assert.ok(
      v === null ||
        typeof v !== 'object' ||
        Array.isArray(v) ||
        [PyDict, PySet, PyBytes, PyObject, TorchTensor].some((c) => v instanceof c) ||
        typeof (v as { kind?: string }).kind === 'string' ||
        'qualified' in (v as object),
      `${what}: unexpected value ${s}`,
    );
    return 'ok';
  } catch (e) {
    if (!(e instanceof ReaderError)) {
      const err = e as Error;
      assert.fail(`${what}: escaped ${err?.name}: ${err?.message}\n${err?.stack}`);
    }
    assert.ok(e.offset !== undefined && e.offset >= 0 && e.offset <= bytes.length, `${what}: offset ${e.offset} of ${bytes.length}`);
    assert.ok(e.message.length < 600, `${what}: message of ${e.message.length} characters: ${e.message.slice(0, 400)}`);
    // eslint-disable-next-line no-control-regex
    assert.ok(!/[\x00-\x08\x0b-\x1f\x7f]/.test(e.message), `${what}: control characters in ${JSON.stringify(e.message)}`);
    if (e instanceof DisallowedGlobalError) assert.equal(typeof e.global, 'string');
    return 'error';
  }
}

test(`hostile pickle programs: ${CASES} random opcode sequences per shape under small budgets, and their mutations (seed ${SEED + 1})`, (t) => {
  const r = rng(SEED + 1);
  const budget = new CaseBudget();
  const shapes: Shape[] = ['stack', 'memo', 'deep', 'containers', 'items', 'calls', 'text'];
  const outcomes = { ok: 0, error: 0 };
  const messages = new Set<string>();
  for (let i = 0; i < CASES; i++) {
    const t0 = budget.start();
    const shape = shapes[i % shapes.length];
    const p = new Program(r, pick(r, [0, 0.002, 0.05]), pick(r, [2, 4]));
    const n = 20 + int(r, shape === 'calls' || shape === 'text' ? 200 : 2500);
    for (let k = 0; k < n; k++) p.step(r() < 0.95 ? shape : pick(r, MODELLED));
    if (r() < 0.9) p.out.push(0x2e);
    const bytes = Uint8Array.from(p.out);
    // small budgets for most cases (every budget gets crossed), the real ones for the rest
    const budgets = i % 4 === 3 ? PICKLE_BUDGETS : SMALL;
    const o = check(bytes, budgets, `case ${i} (${shape})`);
    outcomes[o]++;
    if (o === 'error') {
      try {
        unpickle(bytes, {
          path: 'x',
          budgets,
          unknownGlobals: bytes.length % 2 ? 'placeholder' : 'refuse',
          persistentLoad: torchPersistentLoad,
        });
      } catch (e) {
        messages.add((e as ReaderError).reason.replace(/\d+/g, 'N').slice(0, 40));
      }
    }
    // a mutation of the same program: a byte changed, a run deleted or duplicated
    const m = Uint8Array.from(bytes);
    const at = int(r, m.length);
    if (r() < 0.5) m[at] = int(r, 256);
    else m.copyWithin(at, int(r, m.length));
    check(m, budgets, `case ${i} mutated`);
    budget.done(`case ${i} (${shape})`, t0);
  }
  t.diagnostic(budget.report());
  assert.ok(outcomes.error > 0, JSON.stringify(outcomes));
  // The shapes reach the budgets (the point of running them small).
  for (const p of ['values on the stack', 'memo entries', 'MARKs nested', 'containers', 'items', 'longer than'])
    assert.ok(
      [...messages].some((x) => x.includes(p)),
      `no case crossed '${p}': ${[...messages].slice(0, 40).join(' | ')}`,
    );
});
