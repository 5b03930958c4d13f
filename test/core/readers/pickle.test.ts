import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReaderError } from '../../../src/core/errors';
import { PyBytes, PyDict, PySet, isTuple, type PickleValue } from '../../../src/core/readers/pickle/values';
import { ALLOWED_GLOBALS } from '../../../src/core/readers/pickle/torchAllowList';
import { unpickle } from '../../../src/core/readers/pickle/machine';

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
