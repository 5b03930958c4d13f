import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DisallowedGlobalError, ReaderError } from '../../../src/core/errors';
import { PyBytes, PyDict, PyObject, PySet, isTuple, summarize, type PickleValue } from '../../../src/core/readers/pickle/values';
import { ALLOWED_GLOBALS } from '../../../src/core/readers/pickle/torchAllowList';
import { PICKLE_BUDGETS, unpickle, type UnpickleOptions } from '../../../src/core/readers/pickle/machine';
import {
  appendPickle,
  dupPickle,
  emptyListPickle,
  longIntPickle,
  markPickle,
  memoizePickle,
  nestedRebuildPickle,
  selfReferencingRebuildPickle,
} from '../../support/hostileBinary';

// The allow-list unpickler on hand-checked pickles. The hex strings were produced by CPython's
// pickle.dumps (protocols 2, 4, 5) of
//   {'a': [1, -2, 300, 70000, -70000, 2**70, -(2**63), 1.5, True, False, None, 'ü', b'xy', (1,), (1,2),
//          (1,2,3), (), {1,2}, frozenset({3})], 'od': OrderedDict([('k', 1.25)])}

const P2 =
  '80027d71002858010000006171015d7102284b014afeffffff4d2c014a701101004a90eefeff8a090000000000000000408a080000000000000080473ff800000000000088894e5802000000c3bc7103635f636f646563730a656e636f64650a710458020000007879710558060000006c6174696e3171068671075271084b018571094b014b0286710a4b014b024b0387710b29635f5f6275696c74696e5f5f0a7365740a710c5d710d284b014b026585710e52710f635f5f6275696c74696e5f5f0a66726f7a656e7365740a71105d71114b03618571125271136558020000006f64711463636f6c6c656374696f6e730a4f726465726564446963740a71152952711658010000006b7117473ff400000000000073752e';
const P4 =
  '800495a0000000000000007d94288c0161945d94284b014afeffffff4d2c014a701101004a90eefeff8a090000000000000000408a080000000000000080473ff800000000000088894e8c02c3bc9443027879944b0185944b014b0286944b014b024b038794298f94284b014b0290284b039194658c026f64948c0b636f6c6c656374696f6e73948c0b4f726465726564446963749493942952948c016b94473ff400000000000073752e';
const P5 = '8005' + P4.slice(4);

function hex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s, 'hex'));
}

function load(bytes: Uint8Array | string): PickleValue {
  return unpickle(typeof bytes === 'string' ? hex(bytes) : bytes, { path: 'mem.pkl' });
}

function refused(bytes: Uint8Array | string, pattern: RegExp): ReaderError {
  try {
    load(bytes);
  } catch (e) {
    assert.ok(e instanceof ReaderError, `expected ReaderError, got ${String(e)}`);
    assert.match(e.message, pattern);
    return e;
  }
  assert.fail('expected a ReaderError');
}

for (const [proto, bytes] of [
  [2, P2],
  [4, P4],
  [5, P5],
] as const) {
  test(`protocol ${proto}: every value type comes back exactly`, () => {
    const v = load(bytes);
    assert.ok(v instanceof PyDict);
    const a = v.get('a');
    assert.ok(Array.isArray(a) && !isTuple(a));
    assert.deepEqual(a.slice(0, 5), [1, -2, 300, 70000, -70000]);
    assert.equal(a[5], 2n ** 70n);
    assert.equal(a[6], -(2n ** 63n));
    assert.equal(a[7], 1.5);
    assert.deepEqual(a.slice(8, 11), [true, false, null]);
    assert.equal(a[11], 'ü');
    assert.ok(a[12] instanceof PyBytes);
    assert.deepEqual([...(a[12] as PyBytes).bytes], [0x78, 0x79]);
    assert.ok(isTuple(a[13]) && isTuple(a[14]) && isTuple(a[15]) && isTuple(a[16]));
    assert.deepEqual(a[15], [1, 2, 3]);
    assert.equal((a[16] as PickleValue[]).length, 0);
    assert.ok(a[17] instanceof PySet && !a[17].frozen);
    assert.deepEqual((a[17] as PySet).items, [1, 2]);
    assert.ok(a[18] instanceof PySet && a[18].frozen);
    const od = v.get('od');
    assert.ok(od instanceof PyDict && od.ordered);
    assert.equal(od.get('k'), 1.25);
  });
}

test('memo: shared references stay shared (BINPUT/BINGET)', () => {
  const v = load('80025d7100285d71014b01616801652e') as PickleValue[];
  assert.equal(v.length, 2);
  assert.equal(v[0], v[1]);
});

test('disallowed globals are refused by name with the byte offset, GLOBAL and STACK_GLOBAL alike', () => {
  // GLOBAL 'os system' + REDUCE (the bad/unsafe_global_os_system.pt bytes)
  const e1 = refused('8002636f730a73797374656d0a58040000007472756585522e', /disallowed global 'os\.system'.*never executes/);
  assert.equal(e1.offset, 2);
  // STACK_GLOBAL subprocess.Popen (protocol 4)
  const e2 = refused('80049518000000000000008c0a73756270726f63657373948c05506f70656e9493942e', /disallowed global 'subprocess\.Popen'/);
  assert.equal(e2.offset, 32);
  for (const [mod, name] of [
    ['builtins', 'eval'],
    ['builtins', 'exec'],
    ['posix', 'system'],
    ['nt', 'system'],
    ['builtins', 'getattr'],
    ['torch', 'load'],
    ['torch._utils', '_rebuild_tensor_v2x'],
  ]) {
    const bytes = Buffer.concat([Buffer.from([0x80, 0x02, 0x63]), Buffer.from(`${mod}\n${name}\n`), Buffer.from([0x29, 0x52, 0x2e])]);
    refused(Uint8Array.from(bytes), new RegExp(`disallowed global '${mod.replace('.', '\\.')}\\.${name}'`));
  }
  assert.ok(!ALLOWED_GLOBALS.has('builtins.eval'));
});

test('allowed globals are data constructors only: calling a storage type or a dtype is refused', () => {
  refused(
    Uint8Array.from(
      Buffer.concat([Buffer.from([0x80, 0x02, 0x63]), Buffer.from('torch\nFloatStorage\n'), Buffer.from([0x29, 0x52, 0x2e])]),
    ),
    /cannot be called/,
  );
  // REDUCE on something that is not a global at all
  refused('80024b01295252', /REDUCE on number 1/);
});

test('malformed input: unknown opcode, lengths beyond the data, missing STOP, bad memo, underflow', () => {
  assert.equal(refused('8002ff', /unknown or unsupported pickle opcode 0xff/).offset, 2);
  // BINUNICODE claiming 4 GiB: refused before allocating
  refused('800258ffffffff41', /BINUNICODE: length 4294967295 exceeds the 1 bytes left/);
  refused('8002', /ended without STOP/);
  refused('80026805', /memo key 5 not found/);
  refused('80022e', /stack underflow/);
  refused('8002652e', /no MARK/);
  refused('8006', /unsupported pickle protocol 6/);
  refused('80024b004b014b02732e', /SETITEM\(S\) on number 0/);
  refused('800229284b0165', /APPEND\(S\) on tuple/);
  refused('800295ffffffffffff0000', /too large|exceeds/);
});

test('LONG_BINPUT with a huge index allocates nothing (memo is a map)', () => {
  const v = load('80024b2a72ffffffff6affffffff862e');
  assert.deepEqual(v, [42, 42]);
});

// ---- Budgets: hostile pickles end as a ReaderError at their offset, in bounded time and memory --------

function failsAt(bytes: Uint8Array, pattern: RegExp, offset: number, options: Partial<UnpickleOptions> = {}): ReaderError {
  try {
    unpickle(bytes, { path: 'mem.pkl', ...options });
  } catch (e) {
    assert.ok(e instanceof ReaderError, `expected ReaderError, got ${String(e)}`);
    assert.match(e.reason, pattern);
    assert.equal(e.offset, offset, e.message);
    assert.ok(e.message.length < 400, `message of ${e.message.length} characters`);
    return e;
  }
  assert.fail('expected a ReaderError');
}

test('budgets: the campaign shapes stop at their budget with the offset of the opcode that crossed it', () => {
  const b = PICKLE_BUDGETS;
  // N + DUP…: the (maxStack)th value is refused.
  failsAt(dupPickle(20_000_000), /more than 1000000 values on the stack \(budget\)/, 3 + b.maxStack - 1);
  // 2^24 + 1 MEMOIZE (past V8's Map limit): stops at the memo budget.
  failsAt(memoizePickle(2 ** 24 + 1), /more than 1048576 memo entries \(budget\)/, 3 + b.maxMemo);
  // a 20M-digit text INT: refused after reading at most maxDigits + 3 bytes of it (CPython's own limit is 4300 digits).
  failsAt(longIntPickle(20_000_000), /INT: longer than 4302 characters \(budget\)/, 2);
  // 30M EMPTY_LIST: the stack budget first…
  failsAt(repeatByte(0x5d, 30_000_000), /more than 1000000 values on the stack/, 2 + b.maxStack);
  // …and popped again each time, the container budget.
  failsAt(emptyListPickle(b.maxContainers + 10), /more than 4000000 containers \(budget\)/, 3 + 2 * b.maxContainers);
  // MARK frames: 10,000 open MARKs, and _rebuild_from_type_v2 nested 10,000 deep.
  failsAt(markPickle(10_000), /MARKs nested more than 1000 deep \(budget\)/, 2 + b.maxMarkDepth);
  failsAt(nestedRebuildPickle(10_000), /MARKs nested more than 1000 deep/, NESTED_HEAD + 7 * b.maxMarkDepth + 2);
});

/** Bytes before the first opening of nestedRebuildPickle: PROTO, two memoized GLOBALs. */
const NESTED_HEAD = 2 + 1 + 'torch._tensor\n_rebuild_from_type_v2\n'.length + 3 + 1 + 'torch\nTensor\n'.length + 3;

/** `\x80\x02` + `count` copies of one opcode byte + STOP. */
function repeatByte(op: number, count: number): Uint8Array {
  const out = new Uint8Array(count + 3);
  out.set([0x80, 0x02]);
  out.fill(op, 2, 2 + count);
  out[count + 2] = 0x2e;
  return out;
}

test('budgets: items held by containers, counted across APPEND(S), SETITEM(S), tuples and OrderedDict copies', () => {
  failsAt(appendPickle(50), /containers hold more than 40 items \(budget\)/, 3 + 2 * 40 + 1, { budgets: { maxItems: 40 } });
  // OrderedDict(list of 30 pairs): the copy is charged too.
  const pairs: number[] = [0x80, 0x02, 0x63, ...Buffer.from('collections\nOrderedDict\n'), 0x5d, 0x28];
  for (let i = 0; i < 30; i++) pairs.push(0x4b, i, 0x4b, i, 0x86);
  pairs.push(0x65, 0x85, 0x52, 0x2e);
  const opReduce = pairs.length - 2;
  // 30 pairs (60 items), the list (30), the args tuple (1): 91 fit in 100; the copy's 30 do not.
  failsAt(Uint8Array.from(pairs), /containers hold more than 100 items/, opReduce, { budgets: { maxItems: 100 } });
  const d = unpickle(Uint8Array.from(pairs), { path: 'mem.pkl' });
  assert.ok(d instanceof PyDict && d.ordered && d.size === 30);
});

test('_rebuild_from_type_v2 calling itself through a list that holds itself: a clear error, no recursion', () => {
  const e = failsAt(
    selfReferencingRebuildPickle(),
    /_rebuild_from_type_v2: function global torch\._tensor\._rebuild_from_type_v2 is not an allowed tensor-rebuild function/,
    87,
  );
  assert.ok(!(e instanceof DisallowedGlobalError));
});

test('nested _rebuild_from_type_v2 within the MARK budget: each level refused as a function, the innermost first', () => {
  const bytes = nestedRebuildPickle(50);
  try {
    unpickle(bytes, { path: 'mem.pkl' });
    assert.fail('expected an error');
  } catch (e) {
    assert.ok(e instanceof ReaderError);
    assert.match(e.reason, /not an allowed tensor-rebuild function/);
    // the innermost REDUCE: after the 50 openings (7 bytes each), the empty tuple, None and TUPLE.
    assert.equal(e.offset, NESTED_HEAD + 50 * 7 + 1 + 2);
  }
});

test('values may be cyclic (a list holding itself): read, and summarized within its depth bound', () => {
  // ] BINPUT 0, BINGET 0, APPEND, STOP
  const v = unpickle(Uint8Array.from([0x80, 0x02, 0x5d, 0x71, 0x00, 0x68, 0x00, 0x61, 0x2e]), { path: 'mem.pkl' }) as PickleValue[];
  assert.equal(v[0], v);
  assert.equal(summarize(v, 3), '[[[list of 1]]]');
});

// ---- Globals: INST/OBJ, placeholders, refusal by name ------------------------------------------------

const g = (module: string, name: string) => [0x63, ...Buffer.from(`${module}\n${name}\n`)];

test('INST and OBJ name globals like GLOBAL does: refused by name (DisallowedGlobalError), allowed ones built', () => {
  // MARK, 'true', INST os.system
  const inst = Uint8Array.from([0x80, 0x02, 0x28, 0x8c, 0x04, ...Buffer.from('true'), 0x69, ...Buffer.from('os\nsystem\n'), 0x2e]);
  const e1 = failsAt(inst, /disallowed global 'os\.system'.*never executes/, 9);
  assert.ok(e1 instanceof DisallowedGlobalError && e1.global === 'os.system');
  // MARK, GLOBAL builtins.eval, 'x', OBJ: refused at the GLOBAL
  const obj = Uint8Array.from([0x80, 0x02, 0x28, ...g('builtins', 'eval'), 0x8c, 0x01, 0x78, 0x6f, 0x2e]);
  const e2 = failsAt(obj, /disallowed global 'builtins\.eval'/, 3);
  assert.ok(e2 instanceof DisallowedGlobalError && e2.global === 'builtins.eval');
  // INST of an allowed constructor builds it: OrderedDict()
  const od = unpickle(Uint8Array.from([0x80, 0x02, 0x28, 0x69, ...Buffer.from('collections\nOrderedDict\n'), 0x2e]), { path: 'm' });
  assert.ok(od instanceof PyDict && od.ordered);
  // refused in placeholder mode too
  failsAt(inst, /disallowed global 'os\.system'/, 9, { unknownGlobals: 'placeholder' });
});

test('placeholder mode: objects of unknown classes are inert records of their data; refused names stay refused', () => {
  // {'loss': BCEWithLogitsLoss.__new__ + BUILD {'reduction': 'mean'}, 'enc': __main__.Enc(…), 'n': 3}
  const bytes = Uint8Array.from([
    0x80,
    0x02,
    0x7d,
    0x28,
    0x8c,
    0x04,
    ...Buffer.from('loss'),
    ...g('torch.nn.modules.loss', 'BCEWithLogitsLoss'),
    0x29,
    0x81,
    0x7d,
    0x8c,
    0x09,
    ...Buffer.from('reduction'),
    0x8c,
    0x04,
    ...Buffer.from('mean'),
    0x73,
    0x62,
    0x8c,
    0x03,
    ...Buffer.from('enc'),
    ...g('__main__', 'Enc'),
    0x4b,
    0x07,
    0x85,
    0x52,
    0x8c,
    0x01,
    0x6e,
    0x4b,
    0x03,
    0x75,
    0x2e,
  ]);
  failsAt(bytes, /disallowed global 'torch\.nn\.modules\.loss\.BCEWithLogitsLoss'/, 10);
  const placeholders = new Map<string, number>();
  const v = unpickle(bytes, { path: 'm', unknownGlobals: 'placeholder', placeholders });
  assert.ok(v instanceof PyDict);
  const loss = v.get('loss');
  assert.ok(loss instanceof PyObject && loss.type === 'torch.nn.modules.loss.BCEWithLogitsLoss');
  assert.ok(loss.state instanceof PyDict && loss.state.get('reduction') === 'mean');
  const enc = v.get('enc');
  assert.ok(enc instanceof PyObject && enc.type === '__main__.Enc');
  assert.deepEqual(enc.args, [7]);
  assert.equal(v.get('n'), 3);
  assert.deepEqual(
    [...placeholders],
    [
      ['torch.nn.modules.loss.BCEWithLogitsLoss', 1],
      ['__main__.Enc', 1],
    ],
  );
  for (const [m, n] of [
    ['builtins', 'eval'],
    ['os', 'system'],
    ['subprocess', 'Popen'],
    ['torch', 'load'],
    ['importlib', 'import_module'],
  ]) {
    const b = Uint8Array.from([0x80, 0x02, ...g(m, n), 0x29, 0x52, 0x2e]);
    assert.throws(() => unpickle(b, { path: 'm', unknownGlobals: 'placeholder' }), DisallowedGlobalError);
  }
});

test('a dict subclass kept as a placeholder keeps its items (Lightning AttributeDict, defaultdict)', () => {
  const bytes = Uint8Array.from([
    0x80,
    0x02,
    ...g('lightning.fabric.utilities.data', 'AttributeDict'),
    0x29,
    0x81,
    0x28,
    0x8c,
    0x02,
    ...Buffer.from('lr'),
    0x47,
    ...Buffer.from(new Float64Array([0.001]).buffer).reverse(),
    0x75,
    0x2e,
  ]);
  const v = unpickle(bytes, { path: 'm', unknownGlobals: 'placeholder' });
  assert.ok(v instanceof PyObject && v.dictItems?.get('lr') === 0.001);
});

test('names echoed in messages are cut to 120 characters with control characters escaped', () => {
  const long = 'a'.repeat(900) + '\x1b[2J';
  const e = failsAt(
    Uint8Array.from([0x80, 0x02, ...g('evil\x1b]0;title\x07', long), 0x2e]),
    /disallowed global 'evil\\x1b\]0;title\\x07\.a+…'/,
    2,
  );
  // eslint-disable-next-line no-control-regex
  assert.ok(!/[\x00-\x1f]/.test(e.message));
  assert.ok(e instanceof DisallowedGlobalError && e.global.endsWith('\x1b[2J'));
});

test("protocol 0 FLOAT reads what float() reads: CPython's pickle.dumps([inf, -inf, nan, 1.5], protocol=0)", () => {
  const v = unpickle(Uint8Array.from(Buffer.from('(lp0\nFinf\naF-inf\naFnan\naF1.5\na.', 'latin1')), { path: 'm' }) as number[];
  assert.deepEqual(v.slice(0, 2), [Infinity, -Infinity]);
  assert.ok(Number.isNaN(v[2]));
  assert.equal(v[3], 1.5);
  assert.throws(() => unpickle(Uint8Array.from(Buffer.from('Finfinite\n.', 'latin1')), { path: 'm' }), /FLOAT: not a number 'infinite'/);
});

test('protocol 0: STRING, UNICODE, text INT/LONG/FLOAT, PUT/GET, PERSID', () => {
  const text = "(S'it\\'s'\nVcaf\\u00e9\nI42\nL12345678901234567890L\nF0.25\np3\ng3\nl.";
  const v = unpickle(Uint8Array.from(Buffer.from(text, 'latin1')), { path: 'm' });
  assert.deepEqual(v, ["it's", 'café', 42, 12345678901234567890n, 0.25, 0.25]);
  const pid = unpickle(Uint8Array.from(Buffer.from('Pkey\n.', 'latin1')), { path: 'm', persistentLoad: (p) => `<${String(p)}>` });
  assert.equal(pid, '<key>');
});
