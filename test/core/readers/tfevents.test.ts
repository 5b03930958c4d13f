import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, appendFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturePath, loadExpected, assertClose } from '../../support/fixtures';
import { crc32c, maskCrc32c, maskedCrc32c } from '../../../src/core/io/crc32c';
import { ProtoReader, ProtobufError } from '../../../src/core/readers/protobuf';
import { ProtoWriter } from '../../support/protoWriter';
import {
  encodeFileVersionEvent,
  encodeHistogramEvent,
  encodeScalarEvent,
  encodeTensorScalarEvent,
  encodeTf2HistogramEvent,
  frameRecord,
} from '../../support/tfeventsWriter';
import { histogramRms } from '../../../src/core/readers/tfevents/runData';
import { readTfeventsBytes, readTfeventsFile, tfeventsReader } from '../../../src/core/readers/tfevents/reader';
import { TfeventsTail } from '../../../src/core/readers/tfevents/tail';
import { ReaderError } from '../../../src/core/errors';
import type { FigureName, RunData } from '../../../src/core/run/types';
import { globalsOf, observationsOf } from '../../support/observations';

const EVENTS = 'events.out.tfevents.1717200000.localhost';
const tb = (run: string) => fixturePath(run, 'tb', EVENTS);
const STEPS = ['1', '2', '60', '120'];

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'ol-tfevents-'));
}

/** Bit-at-a-time CRC-32C: the independent reference for the sliced implementation. */
function crc32cBitwise(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

function figureAt(run: RunData, step: number, layer: string, figure: FigureName): number | null | undefined {
  let found: number | null | undefined;
  for (const o of observationsOf(run)) {
    if (o.step === step && o.layer === layer && figure in o.figures) {
      assert.equal(found, undefined, `${figure} of ${layer} at step ${step} stated twice`);
      found = o.figures[figure] as number | null;
    }
  }
  return found;
}

/**
 * float32 simple_value against float64 ground truth: exactly the float32 rounding of the expected value
 * (tensorboardX stores float32(x); every figure of the fixtures meets this, so nothing looser is allowed).
 */
function assertF32(actual: number | null | undefined, expected: number | null, what: string): void {
  if (expected === null) {
    assert.equal(actual, null, `${what}: expected null`);
    return;
  }
  assert.equal(typeof actual, 'number', `${what}: missing`);
  assertClose(actual, expected, 1e-6, what);
  assert.equal(actual, Math.fround(expected), `${what}: not the float32 rounding of ${expected}`);
}

// ---- CRC-32C -----------------------------------------------------------------------------------

test('crc32c: standard check value and RFC 3720 test vectors', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
});

test('crc32c: sliced result equals the bitwise reference at every length and alignment; chaining', () => {
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  const data = Uint8Array.from({ length: 300 }, rnd);
  for (let start = 0; start < 9; start++) {
    for (let end = start; end <= data.length; end += 7) {
      assert.equal(crc32c(data, start, end), crc32cBitwise(data.subarray(start, end)), `[${start},${end})`);
    }
  }
  const whole = crc32c(data);
  assert.equal(crc32c(data, 133, 300, crc32c(data, 0, 133)), whole);
  // Views into a larger buffer at every byte offset (the word loop aligns on the underlying buffer),
  // alternating between two buffers (it caches the last buffer's word view).
  const backing = new Uint8Array(400);
  const other = new Uint8Array(400);
  for (let off = 0; off < 9; off++) {
    backing.set(data, off);
    other.set(data, 8 - off);
    const a = backing.subarray(off, off + data.length);
    const b = other.subarray(8 - off, 8 - off + data.length);
    for (let start = 0; start < 5; start++) {
      assert.equal(crc32c(a, start, 290), crc32cBitwise(data.subarray(start, 290)), `offset ${off} [${start},290)`);
      assert.equal(crc32c(b, start, 290), crc32cBitwise(data.subarray(start, 290)), `other offset ${8 - off} [${start},290)`);
    }
  }
});

test('masked CRC: the fixture file first record length and data CRCs match', () => {
  const f = readFileSync(tb('adam_base'));
  const len = f.readUInt32LE(0);
  assert.equal(maskedCrc32c(f, 0, 8), f.readUInt32LE(8));
  assert.equal(maskCrc32c(crc32c(f, 12, 12 + len)), f.readUInt32LE(12 + len));
});

// ---- protobuf ----------------------------------------------------------------------------------

test('protobuf: varints (multi-byte, 2^53, negative int64), doubles, floats, nested, skip', () => {
  const inner = new ProtoWriter().varint(1, 300).finish();
  const bytes = new ProtoWriter()
    .varint(1, 150)
    .varint(2, 2 ** 53 - 1)
    .varint(3, -2)
    .double(4, Math.PI)
    .float(5, 0.1)
    .bytesField(6, inner)
    .string(7, 'grads/ünïcode')
    .varint(99, 7)
    .finish();
  const r = new ProtoReader(bytes);
  const seen: unknown[] = [];
  while (r.next()) {
    switch (r.field) {
      case 1:
      case 2:
      case 3:
        seen.push(r.varint());
        break;
      case 4:
        seen.push(r.double());
        break;
      case 5:
        seen.push(r.float());
        break;
      case 6: {
        const o = r.enter();
        assert.ok(r.next());
        seen.push(r.varint());
        r.leave(o);
        break;
      }
      case 7:
        seen.push(r.string());
        break;
      default:
        r.skip();
    }
  }
  assert.deepEqual(seen, [150, 2 ** 53 - 1, -2, Math.PI, Math.fround(0.1), 300, 'grads/ünïcode']);
});

test('protobuf: malformed input throws ProtobufError with an offset, never reads past the end', () => {
  const cases: [string, number[]][] = [
    ['truncated varint', [0x08, 0x96]],
    ['11-byte varint', [0x08, ...Array(10).fill(0xff), 0x01]],
    ['length past end', [0x0a, 0x05, 0x61]],
    ['wire type 3', [0x0b]],
    ['wire type 7', [0x0f]],
    ['field 0', [0x00, 0x01]],
    ['short double', [0x09, 1, 2, 3]],
    ['short float', [0x15, 1, 2]],
  ];
  for (const [what, b] of cases) {
    const r = new ProtoReader(Uint8Array.from(b));
    assert.throws(
      () => {
        while (r.next()) r.skip();
      },
      (e: unknown) => e instanceof ProtobufError && typeof e.at === 'number',
      what,
    );
  }
});

// ---- Real fixtures: scalars ----------------------------------------------------------------------

const SCALAR_FIGURES: [FigureName, string][] = [
  ['paramRms', 'param_rms'],
  ['gradRms', 'grad_rms'],
  ['updateRms', 'update_rms'],
  ['relStep', 'rel_step'],
];

for (const runName of ['adam_base', 'adam_loss1e-10', 'sgd_momentum']) {
  test(`${runName}: TensorBoard scalars equal expected.json to float32 precision at steps 1, 2, 60, 120`, async () => {
    const run = await readTfeventsFile(tb(runName));
    const exp = loadExpected(runName);
    const sgd = runName.startsWith('sgd');
    const figures: [FigureName, string][] = [
      ...SCALAR_FIGURES,
      sgd ? ['momentumBufferRms', 'momentum_buffer_rms'] : ['adamUpdateRms', 'adam_u_rms'],
    ];
    assert.deepEqual(run.issues, []);
    assert.deepEqual(run.nonFinite, [], 'inf rel_step of zero-initialised layers is not a non-finite value');
    let checked = 0;
    for (const s of STEPS) {
      const layers = Object.keys(exp.steps[s]!).filter((k) => k !== 'global');
      for (const layer of layers) {
        const e = exp.steps[s]![layer] as unknown as Record<string, number | null>;
        for (const [fig, key] of figures) {
          assertF32(figureAt(run, Number(s), layer, fig), e[key] ?? null, `${runName} step ${s} ${layer} ${fig}`);
          checked++;
        }
      }
      const g = globalsOf(run).find((x) => x.step === Number(s));
      assert.ok(g, `globals at step ${s}`);
      const eg = exp.steps[s]!.global;
      assert.equal(g.values.loss, Math.fround(eg.loss!));
      assert.equal(g.values.lr, Math.fround(eg.lr!));
      assert.equal(g.values.gradNorm, Math.fround(eg.grad_norm_total!));
    }
    assert.equal(checked, 4 * 14 * 5);
    // Layer order is named_parameters() order (pos_embed first).
    assert.deepEqual(run.layerOrder, JSON.parse(readFileSync(fixturePath(runName, 'config.json'), 'utf8')).param_order ?? run.layerOrder);
    assert.equal(run.layerOrder[0], 'pos_embed');
    assert.equal(run.layerOrder.length, 14);
    // 120 steps of globals, 14 layers × 120 steps of observations (one merged observation per layer and step).
    assert.equal(globalsOf(run).length, 120);
    assert.equal(observationsOf(run).length, 14 * 120);
  });
}

test('adam_base: rel_step is null (from inf) for the zero-initialised layers at step 1, a number at step 2', async () => {
  const run = await readTfeventsFile(tb('adam_base'));
  for (const layer of ['pos_embed', 'blocks.0.ln1.bias', 'blocks.0.ln2.bias', 'blocks.0.mlp.fc.bias', 'ln_f.bias']) {
    assert.equal(figureAt(run, 1, layer, 'relStep'), null, layer);
    assert.equal(figureAt(run, 1, layer, 'paramRms'), 0, layer);
    const r2 = figureAt(run, 2, layer, 'relStep');
    assert.ok(typeof r2 === 'number' && r2 > 0.5 && r2 < 2, `${layer} step 2 rel_step ${r2}`);
  }
  assert.equal(typeof figureAt(run, 1, 'embed.weight', 'relStep'), 'number');
});

test('adam_base: eval/acc is a global every 10 steps only', async () => {
  const run = await readTfeventsFile(tb('adam_base'));
  const steps = globalsOf(run)
    .filter((g) => 'evalAcc' in g.values)
    .map((g) => g.step);
  assert.deepEqual(
    steps,
    Array.from({ length: 12 }, (_, i) => (i + 1) * 10),
  );
});

// ---- Real fixtures: histograms ---------------------------------------------------------------------

for (const runName of ['adam_base', 'adam_loss1e-10', 'sgd_momentum']) {
  test(`${runName}: histogram RMS √(sum_squares/num) equals expected param_rms, grad_rms and adam_u/momentum to 1e-12`, async () => {
    const run = await tfeventsReader.read(tb(runName));
    const exp = loadExpected(runName);
    const sgd = runName.startsWith('sgd');
    assert.equal(run.histograms.length, 3 * 14 * 3);
    let checked = 0;
    for (const s of ['1', '60', '120']) {
      const layers = Object.keys(exp.steps[s]!).filter((k) => k !== 'global');
      for (const layer of layers) {
        const e = exp.steps[s]![layer]!;
        const hs = run.histograms.filter((h) => h.step === Number(s) && h.layer === layer);
        const param = hs.find((h) => h.role === 'param');
        const grad = hs.find((h) => h.role === 'grad');
        assert.ok(param && grad, `${layer} step ${s}: params/ and grads/ histograms`);
        assert.equal(param.approximate, false);
        assert.equal(param.num, e.numel);
        assertClose(histogramRms(param), e.param_rms, 1e-12, `${runName} ${s} ${layer} params/ RMS`);
        assertClose(histogramRms(grad), e.grad_rms, 1e-12, `${runName} ${s} ${layer} grads/ RMS`);
        if (sgd) {
          const m = hs.find((h) => h.role === 'momentum_buffer');
          assert.ok(m, 'momentum/ histogram');
          assertClose(histogramRms(m), e.momentum_buffer_rms ?? null, 1e-12, `${layer} momentum/ RMS`);
        } else {
          const u = hs.find((h) => h.quantity === 'adam_u');
          assert.ok(u, 'adam_u/ histogram');
          assertClose(histogramRms(u), e.adam_u_rms ?? null, 1e-12, `${layer} adam_u/ RMS`);
        }
        // Buckets are consistent with num: counts add up, limits increase.
        const total = param.bucketCounts.reduce((a, b) => a + b, 0);
        assertClose(total, param.num, 1e-12, 'bucket counts sum to num');
        for (let i = 1; i < param.bucketLimits.length; i++) assert.ok(param.bucketLimits[i]! > param.bucketLimits[i - 1]!);
        assert.ok(param.min <= param.max);
        checked++;
      }
    }
    assert.equal(checked, 3 * 14);
  });
}

// ---- Malformed files (bad/README.md) --------------------------------------------------------------

test('bad/tb_bad_crc: data CRC mismatch at byte offset 952 reported; the other 39 events kept, step 20 not used', async () => {
  const path = fixturePath('bad', 'tb_bad_crc', EVENTS);
  const run = await tfeventsReader.read(path);
  assert.equal(run.issues.length, 1);
  const issue = run.issues[0]!;
  assert.equal(issue.severity, 'warning');
  assert.equal(issue.offset, 952);
  assert.equal(issue.path, path);
  assert.match(issue.message, /^data CRC mismatch in this record/);
  assert.doesNotMatch(issue.message, /952/, 'the offset is a field, not repeated in the text');
  const steps = globalsOf(run).map((g) => g.step);
  assert.equal(steps.length, 39);
  assert.ok(!steps.includes(20));
  assert.deepEqual(
    steps,
    Array.from({ length: 40 }, (_, i) => i + 1).filter((s) => s !== 20),
  );
  // Values equal adam_base's train_log (float32-rounded).
  const log = readFileSync(fixturePath('adam_base', 'train_log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { step: number; loss: number });
  for (const g of globalsOf(run)) assert.equal(g.values.loss, Math.fround(log[g.step - 1]!.loss));
});

test('bad/tb_truncated: "truncated record at offset 1432" warning, 29 events kept (steps 1..29)', async () => {
  const path = fixturePath('bad', 'tb_truncated', EVENTS);
  const run = await tfeventsReader.read(path);
  assert.equal(run.issues.length, 1);
  assert.equal(run.issues[0]!.severity, 'warning');
  assert.equal(run.issues[0]!.offset, 1432);
  assert.match(run.issues[0]!.message, /truncated record at offset 1432/);
  assert.deepEqual(
    globalsOf(run).map((g) => g.step),
    Array.from({ length: 29 }, (_, i) => i + 1),
  );
});

test('a bad length CRC is fatal from there on: error naming the offset, earlier records kept', async () => {
  const dir = tmp();
  try {
    const f = Buffer.from(readFileSync(fixturePath('bad', 'tb_bad_crc', EVENTS)));
    // Record 10: walk the framing to its offset, then break its length CRC.
    let off = 0;
    for (let i = 0; i < 10; i++) off += 16 + f.readUInt32LE(off);
    f[off + 8]! ^= 0x01;
    const path = join(dir, EVENTS);
    writeFileSync(path, f);
    const run = await readTfeventsFile(path);
    // Only the length-CRC error: record 20 (tb_bad_crc's bad data CRC) lies beyond it and is never reached.
    assert.equal(run.issues.length, 1, JSON.stringify(run.issues));
    const err = run.issues.find((i) => i.severity === 'error')!;
    assert.equal(err.offset, off);
    assert.match(err.message, /^length CRC mismatch in this record: framing lost/);
    assert.doesNotMatch(err.message, /byte offset/);
    assert.deepEqual(
      globalsOf(run).map((g) => g.step),
      [1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a file with no usable record throws ReaderError; a not-yet-written empty file is a warning', async () => {
  const dir = tmp();
  try {
    const bad = join(dir, `${EVENTS}.1`);
    const f = Buffer.from(frameRecord(encodeFileVersionEvent()));
    f[8]! ^= 0xff;
    writeFileSync(bad, f);
    await assert.rejects(
      tfeventsReader.read(bad),
      (e: unknown) => e instanceof ReaderError && e.offset === 0 && /length CRC/.test(e.message),
    );
    const empty = join(dir, `${EVENTS}.2`);
    writeFileSync(empty, '');
    const r = await tfeventsReader.read(empty);
    assert.equal(r.issues.length, 1);
    assert.equal(r.issues[0]!.severity, 'warning');
    await assert.rejects(tfeventsReader.read(join(dir, 'missing', EVENTS)), ReaderError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a record with a good CRC but malformed protobuf is skipped with a warning naming its offset', async () => {
  const dir = tmp();
  try {
    const parts = [
      frameRecord(encodeFileVersionEvent()),
      frameRecord(encodeScalarEvent(1, 'train/loss', 2.5)),
      frameRecord(Uint8Array.from([0x12, 0x05, 0x61])), // field 2 length 5, 1 byte present
      frameRecord(encodeScalarEvent(3, 'train/loss', 1.5)),
    ];
    const path = join(dir, EVENTS);
    writeFileSync(path, Buffer.concat(parts));
    const run = await readTfeventsFile(path);
    const badOffset = parts[0]!.length + parts[1]!.length;
    assert.equal(run.issues.length, 1);
    assert.equal(run.issues[0]!.offset, badOffset);
    assert.match(run.issues[0]!.message, /^malformed event in this record/);
    assert.doesNotMatch(run.issues[0]!.message, /byte offset/);
    assert.deepEqual(
      globalsOf(run).map((g) => [g.step, g.values.loss]),
      [
        [1, 2.5],
        [3, 1.5],
      ],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- Synthetic events: TF2 tensors, non-finite values, unknown fields ------------------------------

test('TF2 scalars (rank-0 tensors, plugin metadata on the first value only) and TF2 [k,3] histograms (approximate)', async () => {
  const dir = tmp();
  try {
    const buckets: [number, number, number][] = [
      [-1, 0, 2],
      [0, 1, 6],
      [1, 3, 2],
    ];
    const parts = [
      encodeFileVersionEvent(),
      encodeTensorScalarEvent(1, 'param_rms/enc.w', 0.25, { metadata: true }),
      encodeTensorScalarEvent(2, 'param_rms/enc.w', 0.5), // no metadata: plugin remembered
      encodeTensorScalarEvent(2, 'train/loss', 3.25, { dtype: 'double', metadata: true }),
      encodeTf2HistogramEvent(2, 'grads/enc.w', buckets, { metadata: true }),
      encodeTf2HistogramEvent(3, 'grads/enc.w', []),
      // graph_def (field 4) and a log_message (6) are skipped without decoding.
      new ProtoWriter()
        .double(1, 0)
        .varint(2, 3)
        .bytesField(4, Uint8Array.from([0xff, 0xff, 0xff]))
        .finish(),
      new ProtoWriter()
        .varint(2, 3)
        .message(6, (m) => m.varint(1, 1).string(2, 'hello'))
        .finish(),
    ];
    const path = join(dir, EVENTS);
    writeFileSync(path, Buffer.concat(parts.map(frameRecord)));
    const run = await readTfeventsFile(path);
    assert.deepEqual(run.issues, []);
    assert.equal(figureAt(run, 1, 'enc.w', 'paramRms'), 0.25);
    assert.equal(figureAt(run, 2, 'enc.w', 'paramRms'), 0.5);
    assert.deepEqual(globalsOf(run), [{ step: 2, values: { loss: 3.25 } }]);
    assert.equal(run.histograms.length, 2);
    const h = run.histograms[0]!;
    assert.equal(h.approximate, true);
    assert.equal(h.role, 'grad');
    assert.equal(h.layer, 'enc.w');
    assert.equal(h.num, 10);
    // Bucket centres -0.5, 0.5, 2 with counts 2, 6, 2: Σc·x² = 0.5 + 1.5 + 8 = 10.
    assert.equal(h.sumSquares, 10);
    assert.equal(histogramRms(h), 1);
    assert.deepEqual(h.bucketLimits, [0, 1, 3]);
    assert.deepEqual(h.bucketCounts, [2, 6, 2]);
    assert.equal(h.min, -1);
    assert.equal(h.max, 3);
    assert.equal(run.histograms[1]!.num, 0);
    assert.equal(histogramRms(run.histograms[1]!), null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('TF2 half / bfloat16 / float tensor scalars (half_val and tensor_content); fields in any order', async () => {
  const tensorEvent = (step: number, tag: string, tensor: (t: ProtoWriter) => void) =>
    new ProtoWriter()
      .message(5, (s) => s.message(1, (v) => v.message(8, tensor).string(1, tag))) // value before tag
      .varint(2, step) // step after summary
      .finish();
  const parts = [
    encodeFileVersionEvent(),
    // DT_HALF (19) 1.5 = 0x3e00 in half_val (packed int32 varints)
    tensorEvent(1, 'grad_rms/a', (t) =>
      t
        .varint(1, 19)
        .message(2, () => undefined)
        .packedVarints(13, [0x3e00]),
    ),
    // DT_HALF -0.25 = 0xb400 in tensor_content
    tensorEvent(2, 'grad_rms/a', (t) =>
      t
        .varint(1, 19)
        .message(2, () => undefined)
        .bytesField(4, Uint8Array.from([0x00, 0xb4])),
    ),
    // DT_BFLOAT16 3.0 = 0x4040 in tensor_content
    tensorEvent(3, 'grad_rms/a', (t) =>
      t
        .varint(1, 14)
        .message(2, () => undefined)
        .bytesField(4, Uint8Array.from([0x40, 0x40])),
    ),
    // DT_FLOAT 0.75 in tensor_content, shape [1]
    tensorEvent(4, 'grad_rms/a', (t) =>
      t
        .varint(1, 1)
        .message(2, (sh) => sh.message(2, (d) => d.varint(1, 1)))
        .bytesField(4, new Uint8Array(new Float32Array([0.75]).buffer)),
    ),
    // DT_STRING (7) text summaries are not scalars
    tensorEvent(5, 'grad_rms/a', (t) =>
      t
        .varint(1, 7)
        .message(2, () => undefined)
        .bytesField(8, Buffer.from('hello')),
    ),
    // a tensor_content whose size does not match its shape: malformed, record skipped
    tensorEvent(6, 'grad_rms/a', (t) =>
      t
        .varint(1, 1)
        .message(2, () => undefined)
        .bytesField(4, Uint8Array.from([1, 2, 3])),
    ),
  ];
  const framed = parts.map(frameRecord);
  const run = await readTfeventsBytes(Buffer.concat(framed), EVENTS);
  assert.deepEqual(
    observationsOf(run).map((o) => [o.step, o.figures.gradRms]),
    [
      [1, 1.5],
      [2, -0.25],
      [3, 3],
      [4, 0.75],
    ],
  );
  assert.equal(run.issues.length, 1);
  assert.equal(
    run.issues[0]!.offset,
    framed.slice(0, 6).reduce((a, b) => a + b.length, 0),
  );
  assert.match(run.issues[0]!.message, /malformed event .*\(tensor_content of 3 bytes for 1 elements/);
});

test('non-finite scalars: NaN loss and inf param_rms are reported, not stored; +inf rel_step is null', async () => {
  const dir = tmp();
  try {
    const parts = [
      encodeFileVersionEvent(),
      encodeScalarEvent(5, 'train/loss', NaN),
      encodeScalarEvent(6, 'train/loss', NaN),
      encodeScalarEvent(5, 'param_rms/fc.w', Infinity),
      encodeScalarEvent(5, 'rel_step/fc.w', Infinity),
      encodeScalarEvent(5, 'rel_step/fc.b', NaN),
      encodeScalarEvent(5, 'grad_rms/fc.w', 1.5),
    ];
    const path = join(dir, EVENTS);
    writeFileSync(path, Buffer.concat(parts.map(frameRecord)));
    const run = await readTfeventsFile(path);
    assert.deepEqual(globalsOf(run), []);
    assert.deepEqual(
      run.nonFinite.map((n) => [n.what, n.step, n.layer, n.count]),
      [
        ['train/loss', 5, null, 2],
        ['param_rms/fc.w', 5, 'fc.w', 1],
        ['rel_step/fc.b', 5, 'fc.b', 1],
      ],
    );
    assert.equal(figureAt(run, 5, 'fc.w', 'paramRms'), undefined);
    assert.equal(figureAt(run, 5, 'fc.w', 'relStep'), null);
    assert.equal(figureAt(run, 5, 'fc.w', 'gradRms'), 1.5);
    assert.equal(figureAt(run, 5, 'fc.b', 'relStep'), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('histograms with NaN sums are non-finite observations, negative sums a warning; neither becomes a histogram', async () => {
  const base = { min: 0, max: 1, num: 4, sum: 1, sumSquares: 1, bucketLimits: [1], bucketCounts: [4] };
  const parts = [
    encodeFileVersionEvent(),
    encodeHistogramEvent(1, 'grads/w', { ...base, sumSquares: NaN }),
    encodeHistogramEvent(2, 'grads/w', { ...base, sumSquares: -1 }),
    encodeHistogramEvent(3, 'grads/w', base),
  ].map(frameRecord);
  const run = await readTfeventsBytes(Buffer.concat(parts), EVENTS);
  assert.deepEqual(
    run.histograms.map((h) => h.step),
    [3],
  );
  assert.deepEqual(
    run.nonFinite.map((n) => [n.what, n.step, n.layer]),
    [['grads/w', 1, 'w']],
  );
  assert.equal(run.issues.length, 1);
  assert.equal(run.issues[0]!.offset, parts[0]!.length + parts[1]!.length);
  assert.match(run.issues[0]!.message, /histogram grads\/w at step 2 .* ignored/);
});

test('exact histo summaries written by frameRecord/encodeHistogramEvent read back bit for bit', async () => {
  const dir = tmp();
  try {
    const h = { min: -2, max: 2, num: 4, sum: 0.5, sumSquares: 6.25, bucketLimits: [-1, 0, 1, 2], bucketCounts: [1, 1, 1, 1] };
    const path = join(dir, EVENTS);
    writeFileSync(path, Buffer.concat([encodeFileVersionEvent(), encodeHistogramEvent(7, 'params/a.b', h)].map(frameRecord)));
    const run = await readTfeventsFile(path);
    assert.equal(run.histograms.length, 1);
    const got = run.histograms[0]!;
    assert.deepEqual(
      {
        min: got.min,
        max: got.max,
        num: got.num,
        sum: got.sum,
        sumSquares: got.sumSquares,
        bucketLimits: got.bucketLimits,
        bucketCounts: got.bucketCounts,
      },
      h,
    );
    assert.equal(got.step, 7);
    assert.equal(got.role, 'param');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- Streaming: small chunks, folders, tail ---------------------------------------------------------

function summary(run: RunData): string {
  return JSON.stringify({
    o: observationsOf(run),
    g: globalsOf(run),
    h: run.histograms.map((h) => [h.step, h.layer, h.role, h.num, h.sumSquares, h.bucketCounts.length]),
    l: run.layerOrder,
    n: run.nonFinite,
  });
}

test('records straddling read boundaries: 97-byte chunks give the same RunData as 4 MiB chunks', async () => {
  const whole = await readTfeventsFile(tb('sgd_momentum'));
  const small = await readTfeventsFile(tb('sgd_momentum'), { chunkBytes: 97 });
  assert.equal(summary(small), summary(whole));
  assert.deepEqual(small.issues, []);
});

test('readTfeventsBytes (in memory) gives the same RunData and issues as reading the file', async () => {
  for (const p of [tb('adam_loss1e-10'), fixturePath('bad', 'tb_bad_crc', EVENTS), fixturePath('bad', 'tb_truncated', EVENTS)]) {
    const fromFile = await readTfeventsFile(p);
    const fromBytes = await readTfeventsBytes(readFileSync(p), p);
    assert.equal(summary(fromBytes), summary(fromFile));
    assert.deepEqual(fromBytes.issues, fromFile.issues);
  }
});

test('records larger than the in-memory limit are CRC-checked in a stream and skipped with a warning', async () => {
  const big = encodeHistogramEvent(3, 'params/big', {
    min: 0,
    max: 1,
    num: 4000,
    sum: 1,
    sumSquares: 1,
    bucketLimits: Array.from({ length: 2000 }, (_, i) => i),
    bucketCounts: Array.from({ length: 2000 }, () => 2),
  });
  const parts = [encodeFileVersionEvent(), encodeScalarEvent(1, 'train/loss', 2), big, encodeScalarEvent(4, 'train/loss', 1)].map(
    frameRecord,
  );
  const bytes = Buffer.concat(parts);
  const bigOffset = parts[0]!.length + parts[1]!.length;
  const run = await readTfeventsBytes(bytes, EVENTS, { maxRecordBytes: 1000, chunkBytes: 256 });
  assert.equal(run.histograms.length, 0);
  assert.deepEqual(
    globalsOf(run).map((g) => g.step),
    [1, 4],
  );
  assert.equal(run.issues.length, 1);
  assert.equal(run.issues[0]!.offset, bigOffset);
  assert.match(run.issues[0]!.message, new RegExp(`^record holds ${big.length} bytes \\(more than 1000\\): skipped$`));
  // Its data CRC is still checked while streaming.
  bytes[bigOffset + 12 + 5000]! ^= 1;
  const bad = await readTfeventsBytes(bytes, EVENTS, { maxRecordBytes: 1000, chunkBytes: 256 });
  assert.match(bad.issues[0]!.message, /and its data CRC does not match/);
  // With the default limit the same record is decoded.
  bytes[bigOffset + 12 + 5000]! ^= 1;
  const normal = await readTfeventsBytes(bytes, EVENTS, { chunkBytes: 256 });
  assert.equal(normal.histograms.length, 1);
  assert.equal(normal.histograms[0]!.bucketCounts.length, 2000);
});

test('progress is reported and ends at 1; an aborted signal stops the read', async () => {
  const seen: number[] = [];
  await readTfeventsFile(tb('adam_base'), { chunkBytes: 65536, onProgress: (f) => seen.push(f) });
  assert.ok(seen.length > 5);
  assert.equal(seen[seen.length - 1], 1);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! >= seen[i - 1]!);
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(readTfeventsFile(tb('adam_base'), { signal: ac.signal }), (e: unknown) => (e as Error).name === 'AbortError');
});

test('a run folder merges its event files in name order', async () => {
  const dir = tmp();
  try {
    mkdirSync(join(dir, 'sub'));
    writeFileSync(
      join(dir, 'events.out.tfevents.1.host'),
      Buffer.concat([encodeFileVersionEvent(), encodeScalarEvent(1, 'train/loss', 4)].map(frameRecord)),
    );
    writeFileSync(
      join(dir, 'events.out.tfevents.2.host'),
      Buffer.concat([encodeFileVersionEvent(), encodeScalarEvent(2, 'train/loss', 3)].map(frameRecord)),
    );
    writeFileSync(
      join(dir, 'sub', 'events.out.tfevents.3.host'),
      Buffer.concat([encodeFileVersionEvent(), encodeScalarEvent(3, 'grad_rms/x', 2)].map(frameRecord)),
    );
    writeFileSync(join(dir, 'notes.txt'), 'not an event file');
    assert.ok(
      tfeventsReader.detect(join(dir, 'events.out.tfevents.1.host'), readFileSync(join(dir, 'events.out.tfevents.1.host')).subarray(0, 64)),
    );
    assert.ok(!tfeventsReader.detect(join(dir, 'notes.txt'), Buffer.from('not an event file')));
    assert.ok(!tfeventsReader.detect(join(dir, 'events.out.tfevents.9.host'), Buffer.from('not an event file, but named like one')));
    const run = await tfeventsReader.read(dir);
    // The folder's own files; the sub-folder is another run.
    assert.equal(run.inputs.length, 2);
    assert.deepEqual(run.issues, []);
    assert.deepEqual(
      globalsOf(run).map((g) => [g.step, g.values.loss]),
      [
        [1, 4],
        [2, 3],
      ],
    );
    assert.equal(figureAt(run, 3, 'x', 'gradRms'), undefined);
    // A folder with event files only in sub-folders: all merged, with a warning naming them.
    mkdirSync(join(dir, 'parent', 'run_a'), { recursive: true });
    mkdirSync(join(dir, 'parent', 'run_b'));
    writeFileSync(
      join(dir, 'parent', 'run_a', 'events.out.tfevents.1.h'),
      Buffer.concat([encodeFileVersionEvent(), encodeScalarEvent(3, 'grad_rms/x', 2)].map(frameRecord)),
    );
    writeFileSync(
      join(dir, 'parent', 'run_b', 'events.out.tfevents.1.h'),
      Buffer.concat([encodeFileVersionEvent(), encodeScalarEvent(4, 'grad_rms/x', 1)].map(frameRecord)),
    );
    const parent = await tfeventsReader.read(join(dir, 'parent'));
    assert.equal(parent.inputs.length, 2);
    assert.equal(figureAt(parent, 3, 'x', 'gradRms'), 2);
    assert.equal(figureAt(parent, 4, 'x', 'gradRms'), 1);
    assert.equal(parent.issues.length, 1);
    assert.match(parent.issues[0]!.message, /merged the event files of 2 sub-folders \(run_a, run_b\)/);
    await assert.rejects(tfeventsReader.read(join(dir, 'sub', '..', '..', 'definitely-missing')), ReaderError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('TfeventsTail holdPartialStep: a file written in random pieces is returned in whole steps, each once, together the whole file', async () => {
  const dir = tmp();
  try {
    const src = readFileSync(tb('adam_base'));
    const path = join(dir, EVENTS);
    const whole = await readTfeventsFile(tb('adam_base'));
    // Values per step in the whole file (rows of observations, histograms and globals by step).
    const count = (rs: RunData[]) => {
      const m = new Map<number, number>();
      for (const r of rs) {
        for (const o of observationsOf(r)) m.set(o.step, (m.get(o.step) ?? 0) + Object.keys(o.figures).length);
        for (const h of r.histograms) m.set(h.step, (m.get(h.step) ?? 0) + 1);
        for (const g of globalsOf(r)) m.set(g.step, (m.get(g.step) ?? 0) + Object.keys(g.values).length);
      }
      return m;
    };
    const expected = count([whole]);
    const tail = new TfeventsTail(path);
    const runs: RunData[] = [];
    let seed = 11;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    let held = 0;
    // The first step whole (nothing before it to measure it against), then pieces cut anywhere.
    let at = 0;
    while (at < src.length) {
      const n = src.readUInt32LE(at);
      const r = await readTfeventsBytes(src.subarray(0, at + 16 + n), 'first');
      if (observationsOf(r).some((o) => o.step > 1)) break;
      at += 16 + n;
    }
    appendFileSync(path, src.subarray(0, at));
    runs.push(await tail.readNew({ holdPartialStep: true }));
    while (at < src.length) {
      const n = 1 + Math.floor(rand() * 60_000);
      appendFileSync(path, src.subarray(at, at + n));
      at += n;
      runs.push(await tail.readNew({ holdPartialStep: true }));
      if (tail.held) held++;
    }
    runs.push(await tail.readNew({ holdPartialStep: true }));
    assert.equal(tail.position, src.length);
    assert.ok(held > 3, `${held} reads held a partial step`);
    // Each step whole in one read — except where a step has more values than the one before it (this run writes
    // histograms at a few steps: 112-116 values against 70), which a read cut inside it cannot tell from whole.
    const steps = [...expected.keys()].sort((a, b) => a - b);
    const heavier = new Set(steps.filter((st, i) => i > 0 && expected.get(st)! > expected.get(steps[i - 1])!));
    const parts = new Map<number, number>();
    for (const r of runs)
      for (const [step, values] of count([r])) {
        parts.set(step, (parts.get(step) ?? 0) + 1);
        if (!heavier.has(step)) assert.equal(values, expected.get(step), `step ${step} whole`);
      }
    for (const [step, n] of parts) if (n > 1) assert.ok(heavier.has(step), `step ${step} returned in ${n} reads`);
    assert.deepEqual(count(runs), expected, 'together, the whole file');
    assert.deepEqual(
      runs.flatMap((r) => r.issues),
      [],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('TfeventsTail resumes from the end of the last complete record as the file grows', async () => {
  const dir = tmp();
  try {
    const src = readFileSync(tb('adam_base'));
    const path = join(dir, EVENTS);
    const tail = new TfeventsTail(path);
    // Not created yet: nothing, no error.
    assert.equal(observationsOf(await tail.readNew()).length, 0);
    // Cut points: inside a record's payload, inside a header, exactly at a record boundary, the end.
    let boundary = 0;
    while (boundary < 700_000) boundary += 16 + src.readUInt32LE(boundary);
    const cuts = [5, 400_001, boundary + 7, boundary + 9000, 1_200_000, src.length];
    const runs: RunData[] = [];
    let prev = 0;
    for (const cut of cuts) {
      appendFileSync(path, src.subarray(prev, cut));
      prev = cut;
      const r = await tail.readNew();
      assert.deepEqual(r.issues, [], `no issues while growing (cut ${cut})`);
      assert.ok(tail.position <= cut);
      runs.push(r);
    }
    assert.equal(tail.position, src.length);
    assert.equal(observationsOf(await tail.readNew()).length, 0, 'nothing new');
    // The union of the increments equals a whole-file read (up to where observations of a layer and step
    // were split across two increments: compare figure by figure).
    const whole = await readTfeventsFile(path);
    const flat = (rs: RunData[]) => {
      const m = new Map<string, number | null>();
      for (const r of rs)
        for (const o of observationsOf(r))
          for (const [k, v] of Object.entries(o.figures)) m.set(`${o.step}|${o.layer}|${k}`, v as number | null);
      return m;
    };
    assert.deepEqual(flat(runs), flat([whole]));
    assert.equal(
      runs.reduce((a, r) => a + r.histograms.length, 0),
      whole.histograms.length,
    );
    assert.deepEqual(
      runs.flatMap((r) => globalsOf(r).map((g) => g.step)).filter((s, i, a) => a.indexOf(s) === i),
      globalsOf(whole).map((g) => g.step),
    );
    // A rewritten (shrunk) file is read again from the start, with a warning.
    writeFileSync(path, src.subarray(0, boundary));
    const again = await tail.readNew();
    assert.equal(again.issues.length, 1);
    assert.match(again.issues[0]!.message, /shrank/);
    assert.ok(observationsOf(again).length > 0);
    assert.equal(tail.position, boundary);
    // A file replaced by another (rename over it: a new inode) is read from the start even if it is larger.
    const other = join(dir, 'other');
    writeFileSync(other, src);
    const { renameSync } = await import('node:fs');
    renameSync(other, path);
    const replaced = await tail.readNew();
    assert.match(replaced.issues[0]?.message ?? '', /replaced/);
    assert.equal(tail.position, src.length);
    assert.equal(globalsOf(replaced).length, 120);
    // Overlapping calls are serialized: the second sees nothing new.
    appendFileSync(path, frameRecord(encodeScalarEvent(121, 'train/loss', 1)));
    const [a, b] = await Promise.all([tail.readNew(), tail.readNew()]);
    assert.deepEqual(globalsOf(a), [{ step: 121, values: { loss: 1 } }]);
    assert.deepEqual(globalsOf(b), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
