import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { npzReader, readNpz } from '../../../src/core/readers/npz';
import { npyReader, parseNpyHeader, readNpy } from '../../../src/core/readers/npy';
import { MAX_SAFETENSORS_TENSORS, readSafetensors, readSafetensorsIndex, safetensorsReader } from '../../../src/core/readers/safetensors';
import { openZip, readZipEntry } from '../../../src/core/io/zip';
import { readTensorValues } from '../../../src/core/io/tensorData';
import { ReaderError } from '../../../src/core/errors';
import type { RunData, TensorRef, TensorRole } from '../../../src/core/run/types';
import { assertClose, fixturePath, loadExpected } from '../../support/fixtures';
import { npyZeros, overlappingSafetensors } from '../../support/hostileBinary';

const config = JSON.parse(readFileSync(fixturePath('adam_base', 'config.json'), 'utf8')) as {
  param_order: string[];
  param_shapes: Record<string, number[]>;
};
const expected = loadExpected('adam_base');
const ADAM_ROLES: TensorRole[] = ['param_before', 'grad', 'param_after', 'exp_avg', 'exp_avg_sq'];

function rms(values: Float64Array): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i] * values[i];
  return Math.sqrt(s / values.length);
}

function tensorOf(run: RunData, layer: string, role: TensorRole): TensorRef {
  const t = run.snapshots[0].tensors.find((x) => x.layer === layer && x.role === role);
  assert.ok(t, `${role} of ${layer}`);
  return t;
}

function head(path: string): Uint8Array {
  return readFileSync(path).subarray(0, 64);
}

/** Every Adam tensor of every layer is described with the config's shape; RMS matches expected.json. */
async function checkAdamSnapshot(run: RunData, step: number): Promise<void> {
  const exp = expected.steps[String(step)];
  assert.equal(run.snapshots.length, 1);
  assert.equal(run.snapshots[0].step, step);
  assert.equal(run.snapshots[0].tensors.length, ADAM_ROLES.length * config.param_order.length);
  assert.deepEqual([...run.layerOrder].sort(), [...config.param_order].sort());
  for (const layer of config.param_order) {
    assert.deepEqual(run.layerShapes[layer], config.param_shapes[layer], layer);
    for (const role of ADAM_ROLES) {
      const t = tensorOf(run, layer, role);
      assert.equal(t.dtype, 'F32');
      assert.deepEqual(t.shape, config.param_shapes[layer]);
      assert.equal(t.numel, exp[layer].numel);
      assert.equal(t.key, `${role}/${layer}`);
      assert.equal(t.source.compression, 'none');
      assert.equal(t.source.storedLength, t.numel * 4);
    }
    assertClose(rms(await readTensorValues(tensorOf(run, layer, 'param_before'))), exp[layer].param_rms, 1e-12, `${layer} param_rms`);
    assertClose(rms(await readTensorValues(tensorOf(run, layer, 'grad'))), exp[layer].grad_rms, 1e-12, `${layer} grad_rms`);
    assertClose(
      rms(await readTensorValues(tensorOf(run, layer, 'param_after'))),
      exp[layer].param_rms_after,
      1e-12,
      `${layer} param_rms_after`,
    );
    assertClose(rms(await readTensorValues(tensorOf(run, layer, 'exp_avg'))), exp[layer].exp_avg_rms, 1e-12, `${layer} exp_avg_rms`);
  }
}

for (const step of [1, 2, 60, 120]) {
  test(`npz: adam_base tensors/step_${String(step).padStart(6, '0')}.npz — roles, shapes, scalars, RMS = expected.json`, async () => {
    const path = fixturePath('adam_base', 'tensors', `step_${String(step).padStart(6, '0')}.npz`);
    assert.ok(npzReader.detect(path, head(path)));
    const run = await readNpz(path);
    assert.deepEqual(run.inputs, [{ path, format: 'npz' }]);
    assert.deepEqual(run.issues, []);
    // named_parameters() order: the npz lists param_before/<layer> in that order first.
    assert.deepEqual(run.layerOrder, config.param_order);
    assert.deepEqual(run.snapshots[0].scalars, { step, lr: expected.hyper.lr });
    assert.equal(run.hyper.lr, expected.hyper.lr);
    await checkAdamSnapshot(run, step);
  });
}

for (const step of [1, 120]) {
  test(`safetensors: step_${String(step).padStart(6, '0')}.safetensors — same tensors as the npz, bitwise`, async () => {
    const name = `step_${String(step).padStart(6, '0')}`;
    const path = fixturePath('adam_base', 'tensors', `${name}.safetensors`);
    assert.ok(safetensorsReader.detect(path, head(path)));
    const run = await readSafetensors(path);
    assert.deepEqual(run.inputs, [{ path, format: 'safetensors' }]);
    assert.deepEqual(run.issues, []);
    // metadata {lr, run, step} as strings; the numeric ones become scalars.
    assert.deepEqual(run.snapshots[0].scalars, { lr: expected.hyper.lr, step });
    assert.equal(run.hyper.lr, expected.hyper.lr);
    await checkAdamSnapshot(run, step);
    const npz = await readNpz(fixturePath('adam_base', 'tensors', `${name}.npz`));
    for (const t of run.snapshots[0].tensors) {
      const a = await readTensorValues(t);
      const b = await readTensorValues(tensorOf(npz, t.layer, t.role));
      assert.equal(a.length, b.length);
      for (let i = 0; i < a.length; i++) {
        if (!Object.is(a[i], b[i])) assert.fail(`${t.key}[${i}]: safetensors ${a[i]} vs npz ${b[i]}`);
      }
    }
  });
}

test('npz: savez_compressed dump/step_000001.npz — deflate sources skip the inflated npy header', async () => {
  const path = fixturePath('adam_base', 'dump', 'step_000001.npz');
  const run = await readNpz(path);
  assert.deepEqual(run.issues, []);
  assert.equal(run.snapshots[0].step, 1); // from the file name: no step scalar in a dump
  assert.equal(run.snapshots[0].scalars, undefined);
  assert.equal(run.hyper.lr, undefined);
  assert.deepEqual(run.layerOrder, config.param_order);
  const zip = await openZip(path);
  const exp = expected.steps['1'];
  for (const layer of config.param_order) {
    const p = tensorOf(run, layer, 'param');
    const g = tensorOf(run, layer, 'grad');
    assert.equal(p.key, layer);
    assert.equal(g.key, `${layer}.grad`);
    for (const t of [p, g]) {
      assert.equal(t.source.compression, 'deflate');
      const entry = zip.entries.find((e) => e.name === `${t.key}.npy`)!;
      assert.equal(t.source.offset, entry.dataOffset);
      assert.equal(t.source.storedLength, entry.compressedSize);
      assert.equal(t.source.skipInflated! + t.numel * 4, entry.uncompressedSize);
      // The skipped bytes are exactly the member's npy header.
      const member = await readZipEntry(zip, entry, t.source.skipInflated);
      assert.equal(parseNpyHeader(member, path).headerLength, t.source.skipInflated);
    }
    assert.deepEqual(p.shape, config.param_shapes[layer]);
    assertClose(rms(await readTensorValues(p)), exp[layer].param_rms, 1e-12, `${layer} dump param_rms`);
    assertClose(rms(await readTensorValues(g)), exp[layer].grad_rms, 1e-12, `${layer} dump grad_rms`);
  }
});

test('npz: bad/truncated.npz keeps the recoverable array and reports the truncation', async () => {
  const path = fixturePath('bad', 'truncated.npz');
  const run = await readNpz(path);
  const tensors = run.snapshots[0].tensors;
  assert.deepEqual(
    tensors.map((t) => t.key),
    ['param_before/embed.weight'],
  );
  assertClose(rms(await readTensorValues(tensors[0])), expected.steps['1']['embed.weight'].param_rms, 1e-12, 'recovered embed.weight');
  const issue = run.issues.find((i) => /truncated archive: central directory missing; recovered 1 of \? members/.test(i.message));
  assert.ok(issue, JSON.stringify(run.issues));
  assert.equal(issue.severity, 'error');
  assert.equal(issue.path, path);
  assert.equal(typeof issue.offset, 'number');
});

test('npz: a truncated archive with nothing recoverable is a ReaderError naming file and offset', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-npz-'));
  try {
    const cut = join(dir, 'cut.npz');
    writeFileSync(cut, readFileSync(fixturePath('bad', 'truncated.npz')).subarray(0, 200));
    await assert.rejects(readNpz(cut), (err: unknown) => {
      assert.ok(err instanceof ReaderError);
      assert.equal(err.path, cut);
      assert.equal(typeof err.offset, 'number');
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('safetensors: bad/header_too_long.safetensors is refused before reading the header', async () => {
  const path = fixturePath('bad', 'header_too_long.safetensors');
  await assert.rejects(readSafetensors(path), (err: unknown) => {
    assert.ok(err instanceof ReaderError);
    assert.equal(err.path, path);
    assert.equal(err.offset, 0);
    assert.match(err.message, /header length 4536 exceeds the 440 bytes after the 8-byte prefix/);
    return true;
  });
});

/** A safetensors file built by hand: header JSON, then the buffer. */
function safetensorsBytes(header: Record<string, unknown>, buffer: Uint8Array): Buffer {
  let json = JSON.stringify(header);
  while ((json.length + 8) % 8 !== 0) json += ' ';
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([prefix, Buffer.from(json), buffer]);
}

test('safetensors: F16/BF16/F64 become tensors, integer dtypes are listed and skipped, bad offsets are reported', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-st-'));
  try {
    const f16 = Buffer.from(new Uint16Array([0x3c00, 0xc000, 0x3800]).buffer); // 1, -2, 0.5
    const bf16 = Buffer.from(new Uint16Array([0x3f80, 0x4040]).buffer); // 1, 3
    const f64 = Buffer.from(new Float64Array([0.1, -7]).buffer);
    const i64 = Buffer.from(new BigInt64Array([5n]).buffer);
    const buffer = Buffer.concat([f16, bf16, f64, i64]);
    const header = {
      __metadata__: { step: '42', lr: '1e-3', note: 'not a number' },
      'grad/a': { dtype: 'F16', shape: [3], data_offsets: [0, 6] },
      'b.exp_avg': { dtype: 'BF16', shape: [2], data_offsets: [6, 10] },
      c: { dtype: 'F64', shape: [1, 2], data_offsets: [10, 26] },
      counter: { dtype: 'I64', shape: [], data_offsets: [26, 34] },
      wrong_size: { dtype: 'F32', shape: [4], data_offsets: [0, 6] },
      outside: { dtype: 'F32', shape: [100], data_offsets: [0, 400] },
    };
    const path = join(dir, 'step_000007.safetensors');
    writeFileSync(path, safetensorsBytes(header, buffer));
    const run = await readSafetensors(path);
    const snap = run.snapshots[0];
    assert.equal(snap.step, 42); // metadata step wins over the file name
    assert.deepEqual(snap.scalars, { step: 42, lr: 1e-3 });
    assert.deepEqual(
      snap.tensors.map((t) => [t.key, t.layer, t.role, t.dtype]),
      [
        ['grad/a', 'a', 'grad', 'F16'],
        ['b.exp_avg', 'b', 'exp_avg', 'BF16'],
        ['c', 'c', 'param', 'F64'],
      ],
    );
    assert.deepEqual([...(await readTensorValues(snap.tensors[0]))], [1, -2, 0.5]);
    assert.deepEqual([...(await readTensorValues(snap.tensors[1]))], [1, 3]);
    assert.deepEqual([...(await readTensorValues(snap.tensors[2]))], [0.1, -7]);
    const msgs = run.issues.map((i) => `${i.severity}: ${i.message}`);
    assert.ok(
      msgs.some((m) => /^warning: .*I64 \(1: counter\)/.test(m)),
      msgs.join('\n'),
    );
    assert.ok(
      msgs.some((m) => /^error: tensor 'wrong_size' skipped: .*span 6 bytes.*needs 16/.test(m)),
      msgs.join('\n'),
    );
    assert.ok(
      msgs.some((m) => /^error: tensor 'outside' skipped: .*outside the 34-byte buffer/.test(m)),
      msgs.join('\n'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('safetensors: invalid JSON header is a ReaderError at the byte offset of the problem', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-st-'));
  try {
    const path = join(dir, 'x.safetensors');
    const json = '{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},, }';
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(json.length));
    writeFileSync(path, Buffer.concat([prefix, Buffer.from(json), Buffer.alloc(4)]));
    await assert.rejects(readSafetensors(path), (err: unknown) => {
      assert.ok(err instanceof ReaderError);
      assert.equal(err.offset, 8 + json.indexOf(',,') + 1);
      assert.match(err.message, /not valid JSON/);
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('safetensors index: weight_map shards resolved next to the index, escapes refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-idx-'));
  try {
    const path = join(dir, 'model.safetensors.index.json');
    writeFileSync(
      path,
      JSON.stringify({
        metadata: { total_size: 123 },
        weight_map: {
          'a.weight': 'model-00001-of-00002.safetensors',
          'b.weight': 'model-00002-of-00002.safetensors',
          'c.weight': 'model-00001-of-00002.safetensors',
          'evil.weight': '../../etc/passwd',
        },
      }),
    );
    const index = await readSafetensorsIndex(path);
    assert.deepEqual(index.shards, [join(dir, 'model-00001-of-00002.safetensors'), join(dir, 'model-00002-of-00002.safetensors')]);
    assert.equal(index.weightMap['c.weight'], join(dir, 'model-00001-of-00002.safetensors'));
    assert.equal(index.weightMap['evil.weight'], undefined);
    assert.deepEqual(index.metadata, { total_size: 123 });
    assert.equal(index.issues.length, 1);
    assert.match(index.issues[0].message, /outside the index's folder/);
    writeFileSync(path, '{"weight_map": {"a": "x.safetensors",}}');
    await assert.rejects(readSafetensorsIndex(path), ReaderError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('npy: a member extracted from the npz reads back as a standalone .npy; 0-d arrays are scalars', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-npy-'));
  try {
    const src = fixturePath('adam_base', 'tensors', 'step_000120.npz');
    const zip = await openZip(src);
    const member = await readZipEntry(
      zip,
      zip.entries.find((e) => e.name === 'grad/head.weight.npy')!,
    );
    const path = join(dir, 'head.weight.grad.npy');
    writeFileSync(path, member);
    assert.ok(npyReader.detect(path, member.subarray(0, 64)));
    const run = await readNpy(path);
    assert.deepEqual(run.inputs, [{ path, format: 'npy' }]);
    const t = run.snapshots[0].tensors[0];
    assert.deepEqual([t.layer, t.role, t.dtype, t.shape], ['head.weight', 'grad', 'F32', [40, 32]]);
    assertClose(rms(await readTensorValues(t)), expected.steps['120']['head.weight'].grad_rms, 1e-12, 'npy grad_rms');

    const stepMember = await readZipEntry(
      zip,
      zip.entries.find((e) => e.name === 'step.npy')!,
    );
    const stepPath = join(dir, 'step.npy');
    writeFileSync(stepPath, stepMember);
    const stepRun = await readNpy(stepPath);
    assert.deepEqual(stepRun.snapshots[0].scalars, { step: 120 });
    assert.equal(stepRun.snapshots[0].tensors.length, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** An npy header of the given version around a dict literal, padded like numpy (to 64 bytes). */
function npyHeaderBytes(dict: string, major = 1): Uint8Array {
  const pre = major === 1 ? 10 : 12;
  let body = dict;
  while ((pre + body.length + 1) % 64 !== 0) body += ' ';
  body += '\n';
  const out = Buffer.alloc(pre + body.length);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]).copy(out);
  if (major === 1) out.writeUInt16LE(body.length, 8);
  else out.writeUInt32LE(body.length, 8);
  out.write(body, pre, 'latin1');
  return out;
}

test('npy header: tokenizer handles the literal subset numpy writes (v1/v2/v3, Python 2 longs, tuples)', () => {
  const h1 = parseNpyHeader(npyHeaderBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (3L, 4L), }"), 'x.npy');
  assert.deepEqual([h1.dtype, h1.shape, h1.numel, h1.dataBytes, h1.headerLength % 64], ['F64', [3, 4], 12, 96, 0]);
  const h2 = parseNpyHeader(npyHeaderBytes('{"descr": "<f2", "fortran_order": True, "shape": (5,)}', 2), 'x.npy');
  assert.deepEqual([h2.major, h2.dtype, h2.shape, h2.fortranOrder], [2, 'F16', [5], true]);
  const h3 = parseNpyHeader(npyHeaderBytes("{'descr': '<i8', 'fortran_order': False, 'shape': ()}", 3), 'x.npy');
  assert.deepEqual([h3.kind, h3.itemSize, h3.shape, h3.numel, h3.dtype], ['int', 8, [], 1, null]);
  const be = parseNpyHeader(npyHeaderBytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2,)}"), 'x.npy');
  assert.equal(be.dtype, null); // big-endian floats are not handed to the little-endian kernel
});

test('npy header: anything outside the literal subset is a ReaderError with the byte offset, never evaluated', () => {
  const cases: [string, RegExp][] = [
    ["{'descr': __import__('os').system('true'), 'fortran_order': False, 'shape': ()}", /unexpected name '__import__'/],
    ["{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}", /structured arrays are not supported/],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (2, -1)}", /not a non-negative integer/],
    ["{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}", /not True\/False/],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", /expected ',' or '}'/],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999)}", /too many elements|too large/],
  ];
  for (const [dict, re] of cases) {
    assert.throws(
      () => parseNpyHeader(npyHeaderBytes(dict), 'bad.npy'),
      (err: unknown) => err instanceof ReaderError && re.test(err.message) && typeof err.offset === 'number',
      dict,
    );
  }
  const bytes = npyHeaderBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}");
  assert.throws(
    () => parseNpyHeader(bytes.subarray(0, 30), 'cut.npy'),
    (e: unknown) => e instanceof ReaderError && /cut short/.test(e.message),
  );
  const wrongMagic = Uint8Array.from(bytes);
  wrongMagic[1] = 0x41;
  assert.throws(
    () => parseNpyHeader(wrongMagic, 'm.npy'),
    (e: unknown) => e instanceof ReaderError && e.offset === 1,
  );
});

test('npy: Fortran-ordered arrays are described with strides; short data is a ReaderError', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-npy-'));
  try {
    const hdr = npyHeaderBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }");
    const data = Buffer.from(new Float32Array([1, 2, 3, 4, 5, 6]).buffer);
    const path = join(dir, 'w.npy');
    writeFileSync(path, Buffer.concat([hdr, data]));
    const t = (await readNpy(path)).snapshots[0].tensors[0];
    assert.deepEqual(t.strides, [1, 2]);
    assert.equal(t.source.offset, hdr.length);
    writeFileSync(path, Buffer.concat([hdr, data.subarray(0, 20)]));
    await assert.rejects(
      readNpy(path),
      (e: unknown) => e instanceof ReaderError && e.offset === hdr.length && /needs 24 data bytes/.test(e.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('detect: by magic and name', () => {
  const npz = fixturePath('adam_base', 'tensors', 'step_000001.npz');
  const st = fixturePath('adam_base', 'tensors', 'step_000001.safetensors');
  const pt = fixturePath('adam_base', 'ckpt', 'model_step000060.pt');
  assert.equal(npzReader.detect(npz, head(npz)), true);
  assert.equal(npzReader.detect(pt, head(pt)), false); // a zip, but not named .npz
  assert.equal(npzReader.detect(st, head(st)), false);
  assert.equal(safetensorsReader.detect(st, head(st)), true);
  // By name alone for .safetensors/.npz/.npy: a file whose first bytes are damaged is read and the reader
  // names the offset (detection by magic would drop it as "not a format").
  assert.equal(safetensorsReader.detect(npz.replace('.npz', '.safetensors'), head(npz)), true);
  assert.equal(npyReader.detect('x.npy', Uint8Array.from([0, 0, 0])), true);
  assert.equal(npyReader.detect('x.bin', head(npz)), false);
});

test('damaged leading bytes of .npy, .safetensors and .npz: an error naming the byte offset', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-lead-'));
  try {
    const cases: [string, Uint8Array, number, RegExp][] = [];
    const npy = Uint8Array.from(readFileSync(fixturePath('adam_base', 'tensors', 'step_000001.npz'))); // any bytes
    const goodNpy = npyZeros(2);
    const badNpy = Uint8Array.from(goodNpy);
    badNpy[3] = 0x00; // \x93NU\0PY
    cases.push(['bad.npy', badNpy, 3, /magic \\x93NUMPY missing/]);
    const st = Uint8Array.from(readFileSync(fixturePath('adam_base', 'tensors', 'step_000001.safetensors')));
    const badSt = Uint8Array.from(st);
    badSt[8] = 0x5b; // '[' instead of '{'
    cases.push(['bad.safetensors', badSt, 8, /header does not start with '\{'/]);
    const badLen = Uint8Array.from(st);
    badLen[7] = 0x7f;
    cases.push(['len.safetensors', badLen, 0, /header length \d+ exceeds/]);
    const garbage = Uint8Array.from(npy.subarray(0, 4096)).fill(0x20);
    cases.push(['garbage.npz', garbage, 0, /not a zip archive: it starts with 20 20 20 20/]);
    for (const [name, bytes, offset, pattern] of cases) {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      const reader = [npyReader, safetensorsReader, npzReader].find((r) => r.detect(path, bytes.subarray(0, 64)));
      assert.ok(reader, name);
      await assert.rejects(reader.read(path), (e: unknown) => {
        assert.ok(e instanceof ReaderError, String(e));
        assert.match(e.reason, pattern);
        assert.equal(e.offset, offset, `${name}: ${e.message}`);
        return true;
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('step from the path: base name, else the folder; shard numbers are not steps', async () => {
  const { stepFromFilePath } = await import('../../../src/core/run/stepNames');
  assert.equal(stepFromFilePath('/runs/a/tensors/step_000060.npz'), 60);
  assert.equal(stepFromFilePath('/runs/a/checkpoint-60/model.safetensors'), 60);
  assert.equal(stepFromFilePath('/runs/a/checkpoint-60/model-00001-of-00002.safetensors'), 60);
  assert.equal(stepFromFilePath('/runs/a/model-00001-of-00002.safetensors'), null);
  assert.equal(stepFromFilePath('/runs/a/weights.safetensors'), null);
  // And through the reader: a shard without step metadata in a checkpoint folder.
  const dir = mkdtempSync(join(tmpdir(), 'ol-st-'));
  try {
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(dir, 'checkpoint-120'));
    const path = join(dir, 'checkpoint-120', 'model-00002-of-00003.safetensors');
    writeFileSync(path, safetensorsBytes({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, Buffer.alloc(4)));
    assert.equal((await readSafetensors(path)).snapshots[0].step, 120);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('npz: a damaged central directory falls back to the local headers and says so', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-npz-'));
  try {
    const src = fixturePath('adam_base', 'tensors', 'step_000002.npz');
    const bytes = Buffer.from(readFileSync(src));
    const zip = await openZip(src);
    // Break the signature of the 5th central directory entry.
    const cdStart = bytes.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    const cdOffset = bytes.readUInt32LE(cdStart + 16);
    let p = cdOffset;
    for (let i = 0; i < 4; i++) p += 46 + bytes.readUInt16LE(p + 28) + bytes.readUInt16LE(p + 30) + bytes.readUInt16LE(p + 32);
    bytes[p] = 0;
    const path = join(dir, 'step_000002.npz');
    writeFileSync(path, bytes);
    const run = await readNpz(path);
    // Every member is still recovered from its local header, at the same offsets.
    assert.equal(run.snapshots[0].tensors.length, zip.entries.length - 2);
    assert.equal(run.snapshots[0].step, 2);
    const issue = run.issues.find((i) => i.severity === 'error');
    assert.ok(issue);
    assert.match(issue.message, /^damaged archive: central directory entry 4 of 72: bad signature; recovered 72 of \? members/);
    await checkAdamSnapshot(run, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('safetensors: tensors whose data_offsets overlap are errors on both; a tensor beside them is read', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-st-'));
  try {
    const buffer = Buffer.from(new Float32Array([1, 2, 3, 4, 5]).buffer);
    const header = {
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
      c: { dtype: 'F32', shape: [2], data_offsets: [12, 20] },
      empty: { dtype: 'F32', shape: [0], data_offsets: [4, 4] },
      // an integer tensor overlapping c: both have their bytes claimed twice
      n: { dtype: 'I32', shape: [1], data_offsets: [16, 20] },
    };
    const path = join(dir, 'model.safetensors');
    writeFileSync(path, safetensorsBytes(header, buffer));
    const run = await readSafetensors(path);
    assert.deepEqual(
      run.snapshots[0].tensors.map((t) => t.key),
      ['empty'],
    );
    const errs = run.issues.filter((i) => i.severity === 'error');
    assert.deepEqual(errs.map((i) => i.tensor).sort(), ['a', 'b', 'c', 'n']);
    assert.match(errs.find((i) => i.tensor === 'a')!.message, /data_offsets \[0, 8\] overlap those of 'b' \[4, 12\]/);
    assert.ok(errs.every((i) => i.offset === 8));
    // without the overlapping ones, the same file reads every tensor
    const ok = join(dir, 'ok.safetensors');
    writeFileSync(ok, safetensorsBytes({ a: header.a, c: header.c }, buffer));
    const r2 = await readSafetensors(ok);
    assert.deepEqual(await Promise.all(r2.snapshots[0].tensors.map(async (t) => [...(await readTensorValues(t))])), [
      [1, 2],
      [4, 5],
    ]);
    assert.deepEqual(r2.issues, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('safetensors: 1,000 tensors claiming the same bytes give 20 errors and one count of the rest; the tensor beside them is read', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-st-'));
  try {
    const header: Record<string, unknown> = {};
    for (let i = 0; i < 1000; i++) header[`l${i}.weight`] = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
    header['good.weight'] = { dtype: 'F32', shape: [2], data_offsets: [8, 16] };
    const path = join(dir, 'model.safetensors');
    writeFileSync(path, safetensorsBytes(header, Buffer.from(new Float32Array([1, 2, 3, 4]).buffer)));
    const run = await readSafetensors(path);
    assert.deepEqual(
      run.snapshots[0].tensors.map((t) => t.key),
      ['good.weight'],
    );
    assert.deepEqual([...(await readTensorValues(run.snapshots[0].tensors[0]))], [3, 4]);
    const errs = run.issues.filter((i) => i.severity === 'error');
    assert.equal(errs.filter((i) => i.tensor !== undefined).length, 20);
    assert.deepEqual(
      errs.filter((i) => i.tensor === undefined).map((i) => i.message),
      ['… and 980 more tensors skipped'],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('safetensors: a header describing more tensors than the budget is refused before its JSON is parsed, at the first tensor past it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-st-'));
  try {
    const bytes = overlappingSafetensors(MAX_SAFETENSORS_TENSORS + 1);
    const path = join(dir, 'model.safetensors');
    writeFileSync(path, bytes);
    const err = await readSafetensors(path).then(
      () => assert.fail('read'),
      (e: unknown) => e as ReaderError,
    );
    assert.ok(err instanceof ReaderError);
    assert.equal(err.reason, `header describes more than ${MAX_SAFETENSORS_TENSORS} tensors (budget)`);
    const last = `"layers.${MAX_SAFETENSORS_TENSORS}.weight":{"dtype":"F32","shape":[2],`;
    assert.equal(err.offset, bytes.indexOf(last) + last.length);
    // one tensor fewer is read (every tensor overlapping: the file has no readable tensor)
    writeFileSync(path, overlappingSafetensors(MAX_SAFETENSORS_TENSORS));
    await assert.rejects(readSafetensors(path), /no readable tensors/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sharded index: shards outside the folder and entries that are not names are counted past the first few, not listed one by one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-idx-'));
  try {
    const weightMap: Record<string, unknown> = { 'ok.weight': 'model-1.safetensors' };
    for (let i = 0; i < 30; i++) weightMap[`out${i}.weight`] = `../other-${i}.safetensors`;
    for (let i = 0; i < 10; i++) weightMap[`bad${i}.weight`] = i % 2 ? 7 : '';
    const path = join(dir, 'model.safetensors.index.json');
    writeFileSync(path, JSON.stringify({ weight_map: weightMap }));
    const idx = await readSafetensorsIndex(path);
    assert.deepEqual(idx.shards, [join(dir, 'model-1.safetensors')]);
    const errors = idx.issues.filter((i) => i.severity === 'error').map((i) => i.message);
    assert.equal(errors.length, 21);
    assert.equal(errors[0], "shard '../other-0.safetensors' lies outside the index's folder; refused");
    assert.equal(errors[20], "… and 10 more shards outside the index's folder; refused");
    assert.deepEqual(
      idx.issues.filter((i) => i.severity === 'warning').map((i) => i.message),
      ['10 weight_map entries are not file names (bad0.weight, bad1.weight, bad2.weight, bad3.weight, bad4.weight, …); ignored'],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sharded index with 80,000 shards: every shard once, in order of first appearance, names resolved next to the index', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-idx-'));
  try {
    const weightMap: Record<string, string> = {};
    for (let i = 0; i < 160_000; i++) weightMap[`layers.${i}.weight`] = `model-${String(i >> 1).padStart(5, '0')}-of-80000.safetensors`;
    const path = join(dir, 'model.safetensors.index.json');
    writeFileSync(path, JSON.stringify({ metadata: { total_size: 1 }, weight_map: weightMap }));
    const index = await readSafetensorsIndex(path);
    assert.equal(index.shards.length, 80_000);
    assert.equal(index.shards[0], join(dir, 'model-00000-of-80000.safetensors'));
    assert.equal(index.shards[79_999], join(dir, 'model-79999-of-80000.safetensors'));
    assert.equal(index.weightMap['layers.3.weight'], join(dir, 'model-00001-of-80000.safetensors'));
    assert.deepEqual(index.issues, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
