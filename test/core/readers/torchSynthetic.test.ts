import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { ReaderError } from '../../../src/core/errors';
import type { RunData, TensorRef } from '../../../src/core/run/types';
import { readTensorValues } from '../../../src/core/io/tensorData';
import { readTorchCheckpoint } from '../../../src/core/readers/torch/reader';
import { PyDict } from '../../../src/core/readers/pickle/values';
import { loadTorchFile } from '../../../src/core/readers/torch/load';
import { dupPickle, torchZipOfPickle } from '../../support/hostileBinary';

// Checkpoints the fixtures do not cover (dtypes, views, param_names, tied weights, prefixes,
// big-endian, python-int steps), written here byte by byte: a protocol-2 pickle the way torch.save
// writes it and a stored zip around it. Values are checked element by element.

// ---- a minimal pickle writer ---------------------------------------------------------------------

type Py =
  | { t: 'str'; v: string }
  | { t: 'int'; v: number }
  | { t: 'float'; v: number }
  | { t: 'bool'; v: boolean }
  | { t: 'none' }
  | { t: 'tuple'; v: Py[] }
  | { t: 'list'; v: Py[] }
  | { t: 'dict'; v: [Py, Py][]; ordered?: boolean }
  | { t: 'tensor'; storage: string; key: string; numel: number; offset: number; shape: number[]; stride: number[] };

const s = (v: string): Py => ({ t: 'str', v });
const i = (v: number): Py => ({ t: 'int', v });
const f = (v: number): Py => ({ t: 'float', v });
const tup = (...v: Py[]): Py => ({ t: 'tuple', v });
const list = (...v: Py[]): Py => ({ t: 'list', v });
const dict = (entries: [string | number, Py][], ordered = false): Py => ({
  t: 'dict',
  v: entries.map(([k, x]) => [typeof k === 'string' ? s(k) : i(k), x]),
  ordered,
});
function tensor(storage: string, key: string, numel: number, shape: number[], stride?: number[], offset = 0): Py {
  const st = stride ?? shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
  return { t: 'tensor', storage, key, numel, offset, shape, stride: st };
}

function pickle(root: Py): Uint8Array {
  const out: number[] = [0x80, 0x02];
  const bytes = (b: Iterable<number>) => out.push(...b);
  const u32 = (n: number) => bytes([n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff]);
  const text = (x: string) => bytes(Buffer.from(x, 'utf8'));
  const global = (m: string, n: string) => {
    out.push(0x63);
    text(`${m}\n${n}\n`);
  };
  const emit = (x: Py): void => {
    switch (x.t) {
      case 'str': {
        const b = Buffer.from(x.v, 'utf8');
        out.push(0x58);
        u32(b.length);
        bytes(b);
        return;
      }
      case 'int':
        out.push(0x4a);
        u32(x.v >>> 0);
        return;
      case 'float': {
        const b = Buffer.alloc(8);
        b.writeDoubleBE(x.v);
        out.push(0x47);
        bytes(b);
        return;
      }
      case 'bool':
        out.push(x.v ? 0x88 : 0x89);
        return;
      case 'none':
        out.push(0x4e);
        return;
      case 'tuple':
        out.push(0x28);
        x.v.forEach(emit);
        out.push(0x74);
        return;
      case 'list':
        out.push(0x5d, 0x28);
        x.v.forEach(emit);
        out.push(0x65);
        return;
      case 'dict':
        if (x.ordered) {
          global('collections', 'OrderedDict');
          out.push(0x29, 0x52);
        } else out.push(0x7d);
        out.push(0x28);
        for (const [k, v] of x.v) {
          emit(k);
          emit(v);
        }
        out.push(0x75);
        return;
      case 'tensor':
        emitTensor(x);
        return;
    }
  };
  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks), as torch.save writes it.
  const emitTensor = (x: Extract<Py, { t: 'tensor' }>) => {
    global('torch._utils', '_rebuild_tensor_v2');
    out.push(0x28); // MARK (args)
    out.push(0x28); // MARK (persistent id tuple)
    emit(s('storage'));
    global('torch', x.storage);
    emit(s(x.key));
    emit(s('cpu'));
    emit(i(x.numel));
    out.push(0x74, 0x51); // TUPLE, BINPERSID
    emit(i(x.offset));
    emit(tup(...x.shape.map(i)));
    emit(tup(...x.stride.map(i)));
    out.push(0x89); // requires_grad False
    global('collections', 'OrderedDict');
    out.push(0x29, 0x52); // backward_hooks = OrderedDict()
    out.push(0x74, 0x52); // TUPLE, REDUCE
  };
  emit(root);
  out.push(0x2e);
  return Uint8Array.from(out);
}

// ---- a minimal stored zip writer (torch.save layout: <prefix>/data.pkl, <prefix>/data/<key>) ------

function zip(members: [string, Uint8Array][]): Buffer {
  const chunks: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of members) {
    const nameBytes = Buffer.from(name, 'utf8');
    // pad so the data starts on a 64-byte boundary, like torch's "FB" extra field
    const fixed = 30 + nameBytes.length;
    const pad = (64 - ((offset + fixed + 4) % 64)) % 64;
    const extra = Buffer.alloc(4 + pad);
    extra.writeUInt16LE(0x4246, 0);
    extra.writeUInt16LE(pad, 2);
    const crc = zlib.crc32(data) >>> 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(extra.length, 28);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(20, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt32LE(crc, 16);
    c.writeUInt32LE(data.length, 20);
    c.writeUInt32LE(data.length, 24);
    c.writeUInt16LE(nameBytes.length, 28);
    c.writeUInt32LE(offset, 42);
    central.push(c, nameBytes);
    chunks.push(local, nameBytes, extra, Buffer.from(data));
    offset += 30 + nameBytes.length + extra.length + data.length;
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

function f32(values: number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}
function f64(values: number[]): Uint8Array {
  return new Uint8Array(Float64Array.from(values).buffer);
}
function f16(values: number[]): Uint8Array {
  // exact halves only (test values are small dyadic numbers)
  const out = new Uint16Array(values.length);
  values.forEach((v, k) => {
    if (v === 0) return;
    const sign = v < 0 ? 0x8000 : 0;
    const a = Math.abs(v);
    const e = Math.floor(Math.log2(a));
    out[k] = sign | ((e + 15) << 10) | Math.round((a / 2 ** e - 1) * 1024);
  });
  return new Uint8Array(out.buffer);
}
function bf16(values: number[]): Uint8Array {
  const f = Float32Array.from(values);
  const u = new Uint32Array(f.buffer);
  return new Uint8Array(Uint16Array.from(u, (x) => x >>> 16).buffer);
}
function i64(values: number[]): Uint8Array {
  return new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer);
}

let counter = 0;
function write(root: Py, storages: Record<string, Uint8Array>, extra: [string, Uint8Array][] = []): string {
  const dir = mkdtempSync(join(tmpdir(), 'ol-torch-syn-'));
  const prefix = `archive${counter++}`;
  const members: [string, Uint8Array][] = [
    [`${prefix}/data.pkl`, pickle(root)],
    ...extra.map(([n, b]) => [`${prefix}/${n}`, b] as [string, Uint8Array]),
    ...Object.entries(storages).map(([k, b]) => [`${prefix}/data/${k}`, b] as [string, Uint8Array]),
    [`${prefix}/version`, Buffer.from('3\n')],
  ];
  const path = join(dir, 'ckpt.pt');
  writeFileSync(path, zip(members));
  return path;
}

function ref(run: RunData, layer: string, role: string): TensorRef {
  const r = run.snapshots[0].tensors.find((t) => t.layer === layer && t.role === role);
  assert.ok(r, `${layer} ${role}`);
  return r;
}

async function values(r: TensorRef): Promise<number[]> {
  return [...(await readTensorValues(r))];
}

// ---- tests ---------------------------------------------------------------------------------------

test('dtypes f32/f64/f16/bf16, int64 step, param_names, decoupled_weight_decay: exact values and names', async () => {
  const path = write(
    dict([
      [
        'model',
        dict(
          [
            ['a', tensor('FloatStorage', '0', 4, [2, 2])],
            ['b', tensor('DoubleStorage', '1', 3, [3])],
            ['c', tensor('HalfStorage', '2', 2, [2])],
            ['d', tensor('BFloat16Storage', '3', 2, [2])],
          ],
          true,
        ),
      ],
      [
        'optimizer',
        dict([
          [
            'state',
            dict([
              [
                0,
                dict([
                  ['step', tensor('LongStorage', '4', 1, [])],
                  ['exp_avg', tensor('FloatStorage', '5', 3, [3])],
                  ['exp_avg_sq', tensor('FloatStorage', '6', 3, [3])],
                ]),
              ],
              [
                1,
                dict([
                  ['step', tensor('LongStorage', '7', 1, [])],
                  ['exp_avg', tensor('FloatStorage', '8', 4, [2, 2])],
                  ['exp_avg_sq', tensor('FloatStorage', '9', 4, [2, 2])],
                ]),
              ],
            ]),
          ],
          [
            'param_groups',
            list(
              dict([
                ['lr', f(0.001)],
                ['betas', tup(f(0.9), f(0.95))],
                ['eps', f(1e-6)],
                ['weight_decay', f(0.1)],
                ['decoupled_weight_decay', { t: 'bool', v: true }],
                ['params', list(i(0), i(1))],
                // ids listed in a different order than the model: names decide
                ['param_names', list(s('b'), s('a'))],
              ]),
            ),
          ],
        ]),
      ],
    ]),
    {
      '0': f32([1, -2, 3, -4]),
      '1': f64([0.1, 0.2, 0.3]),
      '2': f16([0.5, -1.5]),
      '3': bf16([2, -0.25]),
      '4': i64([37]),
      '5': f32([1, 2, 3]),
      '6': f32([4, 5, 6]),
      '7': i64([37]),
      '8': f32([7, 8, 9, 10]),
      '9': f32([11, 12, 13, 14]),
    },
    [['byteorder', Buffer.from('little')]],
  );
  const run = await readTorchCheckpoint(path);
  assert.equal(run.snapshots[0].step, 37);
  assert.deepEqual(run.layerOrder, ['a', 'b', 'c', 'd']);
  assert.deepEqual(run.hyper, { type: 'adamw', lr: 0.001, betas: [0.9, 0.95], eps: 1e-6, weightDecay: 0.1, source: 'checkpoint' });
  assert.deepEqual(await values(ref(run, 'a', 'param_after')), [1, -2, 3, -4]);
  assert.deepEqual(await values(ref(run, 'b', 'param_after')), [0.1, 0.2, 0.3]);
  assert.deepEqual(await values(ref(run, 'c', 'param_after')), [0.5, -1.5]);
  assert.deepEqual(await values(ref(run, 'd', 'param_after')), [2, -0.25]);
  assert.equal(ref(run, 'c', 'param_after').dtype, 'F16');
  assert.equal(ref(run, 'd', 'param_after').dtype, 'BF16');
  // state 0 is 'b' (param_names), state 1 is 'a'
  assert.deepEqual(await values(ref(run, 'b', 'exp_avg')), [1, 2, 3]);
  assert.deepEqual(await values(ref(run, 'a', 'exp_avg_sq')), [11, 12, 13, 14]);
  assert.ok(!run.issues.some((x) => /ambiguous|cannot tell/.test(x.message)), JSON.stringify(run.issues));
});

test('views: a storage_offset slice reads its elements; a transposed view is read in memory order; a view with gaps is an issue on that tensor only', async () => {
  const path = write(
    dict(
      [
        ['slice', tensor('FloatStorage', '0', 6, [2], [1], 3)],
        ['t', tensor('FloatStorage', '0', 6, [3, 2], [1, 3])],
        ['gaps', tensor('FloatStorage', '0', 6, [3], [2])],
        ['after', tensor('FloatStorage', '1', 2, [2])],
      ],
      true,
    ),
    { '0': f32([0, 1, 2, 3, 4, 5]), '1': f32([7, 8]) },
  );
  const run = await readTorchCheckpoint(path);
  assert.deepEqual(await values(ref(run, 'slice', 'param')), [3, 4]);
  // t = storage.view(2, 3).t(): the same six elements; statistics per element do not depend on the order.
  const t = ref(run, 't', 'param');
  assert.equal(t.strides, undefined);
  assert.deepEqual(t.shape, [3, 2]);
  assert.deepEqual(await values(t), [0, 1, 2, 3, 4, 5]);
  // every other element: not one block of the storage, so not read; the tensor after it still is.
  assert.ok(!run.snapshots[0].tensors.some((x) => x.key === 'gaps'));
  const gap = run.issues.find((x) => x.tensor === 'gaps');
  assert.ok(gap, JSON.stringify(run.issues));
  assert.equal(gap.severity, 'warning');
  assert.match(gap.message, /not contiguous \(shape \[3\], strides \[2\]\)/);
  assert.equal(typeof gap.offset, 'number');
  assert.deepEqual(await values(ref(run, 'after', 'param')), [7, 8]);
  assert.deepEqual(run.layerOrder, ['slice', 't', 'gaps', 'after']);
});

test("tied weights are reported once; DDP 'module.' prefix stripped; buffers and integer tensors skipped", async () => {
  const path = write(
    dict(
      [
        ['module.wte.weight', tensor('FloatStorage', '0', 4, [2, 2])],
        ['module.bn.running_mean', tensor('FloatStorage', '1', 2, [2])],
        ['module.bn.num_batches_tracked', tensor('LongStorage', '2', 1, [])],
        ['module.lm_head.weight', tensor('FloatStorage', '0', 4, [2, 2])],
      ],
      true,
    ),
    { '0': f32([1, 2, 3, 4]), '1': f32([0, 0]), '2': i64([5]) },
  );
  const run = await readTorchCheckpoint(path);
  assert.deepEqual(run.layerOrder, ['wte.weight']);
  assert.ok(run.issues.some((x) => /tied parameters.*lm_head\.weight \(= wte\.weight\)/.test(x.message)));
  assert.ok(run.issues.some((x) => /non-float tensors.*num_batches_tracked/.test(x.message)));
});

test('optimizer covering a subset (frozen parameters): ids mapped in named_parameters() order skipping the frozen one, which is marked frozen; python-int step', async () => {
  const path = write(
    dict([
      [
        'model_state_dict',
        dict(
          [
            ['emb', tensor('FloatStorage', '0', 6, [3, 2])],
            ['w1', tensor('FloatStorage', '1', 2, [2])],
            ['w2', tensor('FloatStorage', '2', 2, [2])],
          ],
          true,
        ),
      ],
      [
        'optimizer_state_dict',
        dict([
          [
            'state',
            dict([
              [
                0,
                dict([
                  ['step', i(7)],
                  ['exp_avg', tensor('FloatStorage', '3', 2, [2])],
                  ['exp_avg_sq', tensor('FloatStorage', '4', 2, [2])],
                ]),
              ],
            ]),
          ],
          [
            'param_groups',
            list(
              dict([
                ['lr', f(0.01)],
                ['betas', tup(f(0.9), f(0.999))],
                ['eps', f(1e-8)],
                ['weight_decay', f(0)],
                ['params', list(i(0), i(1))],
              ]),
            ),
          ],
        ]),
      ],
      ['epoch', i(3)],
    ]),
    { '0': f32([1, 2, 3, 4, 5, 6]), '1': f32([1, 1]), '2': f32([2, 2]), '3': f32([0.5, 0.5]), '4': f32([1, 1]) },
  );
  const run = await readTorchCheckpoint(path);
  assert.equal(run.snapshots[0].step, 7);
  assert.equal(run.snapshots[0].scalars?.epoch, 3);
  assert.equal(run.hyper.type, 'adam');
  // 2 ids, 3 params: [2] is shared by w1 and w2, but in order (skipping one parameter) only emb can be
  // left out: id 0 is w1, id 1 (no state yet) is w2.
  assert.deepEqual(await values(ref(run, 'w1', 'exp_avg')), [0.5, 0.5]);
  assert.deepEqual(run.frozenLayers, ['emb']);
  const w = run.issues.find((x) => /holds 2 of the 3 parameters/.test(x.message));
  assert.ok(w, JSON.stringify(run.issues));
  assert.match(w.message, /not in the optimizer \(frozen\): emb/);
});

test('a subset optimizer whose order cannot decide: nothing guessed, nothing marked frozen', async () => {
  const path = write(
    dict([
      [
        'model',
        dict(
          [
            ['w1', tensor('FloatStorage', '1', 2, [2])],
            ['w2', tensor('FloatStorage', '2', 2, [2])],
          ],
          true,
        ),
      ],
      [
        'optimizer',
        dict([
          [
            'state',
            dict([
              [
                0,
                dict([
                  ['exp_avg', tensor('FloatStorage', '3', 2, [2])],
                  ['exp_avg_sq', tensor('FloatStorage', '4', 2, [2])],
                ]),
              ],
            ]),
          ],
          ['param_groups', list(ADAM_GROUP([0]))],
        ]),
      ],
    ]),
    { '1': f32([1, 1]), '2': f32([2, 2]), '3': f32([0.5, 0.5]), '4': f32([1, 1]) },
  );
  const run = await readTorchCheckpoint(path);
  assert.ok(!run.snapshots[0].tensors.some((t) => t.role === 'exp_avg'));
  assert.equal(run.frozenLayers, undefined);
  assert.ok(run.issues.some((x) => /ambiguous optimizer-state mapping.*w1, w2.*several assignments fit/.test(x.message)));
});

test('big-endian byteorder is refused; a view outside its storage, a missing or short storage are issues on those tensors only', async () => {
  const big = write(dict([['a', tensor('FloatStorage', '0', 1, [1])]], true), { '0': f32([1]) }, [['byteorder', Buffer.from('big')]]);
  await assert.rejects(readTorchCheckpoint(big), (e: unknown) => e instanceof ReaderError && /byteorder 'big'/.test(e.message));
  const path = write(
    dict(
      [
        ['outside', tensor('FloatStorage', '0', 4, [2, 2], [2, 1], 1)],
        ['missing', tensor('FloatStorage', '9', 1, [1])],
        ['short', tensor('FloatStorage', '2', 8, [8])],
        ['empty', tensor('FloatStorage', '3', 0, [0, 4])],
        ['scalar', tensor('FloatStorage', '4', 1, [])],
        ['good', tensor('FloatStorage', '5', 2, [2])],
      ],
      true,
    ),
    { '0': f32([1, 2, 3, 4]), '2': f32([1, 2]), '3': new Uint8Array(0), '4': f32([2.5]), '5': f32([6, 7]) },
  );
  const run = await readTorchCheckpoint(path);
  const byTensor = new Map(run.issues.filter((x) => x.tensor).map((x) => [x.tensor, x] as const));
  assert.match(byTensor.get('outside')!.message, /reaches element 4 of storage '0' which has 4/);
  assert.equal(byTensor.get('outside')!.severity, 'error');
  assert.match(byTensor.get('missing')!.message, /storage '9' missing from the archive/);
  assert.match(byTensor.get('short')!.message, /storage '2' has 8 bytes, 32 expected/);
  assert.match(byTensor.get('empty')!.message, /no elements \(shape \[0,4\]\)/);
  assert.equal(byTensor.get('empty')!.severity, 'warning');
  assert.ok(!byTensor.has('scalar') && !byTensor.has('good'));
  // The readable ones are read, every layer keeps its place.
  assert.deepEqual(await values(ref(run, 'scalar', 'param')), [2.5]);
  assert.deepEqual(await values(ref(run, 'good', 'param')), [6, 7]);
  assert.deepEqual(run.layerOrder, ['outside', 'missing', 'short', 'empty', 'scalar', 'good']);
});

const ADAM_GROUP = (ids: number[]) =>
  dict([
    ['lr', f(0.01)],
    ['betas', tup(f(0.9), f(0.999))],
    ['eps', f(1e-8)],
    ['weight_decay', f(0)],
    ['params', list(...ids.map(i))],
  ]);

test("generic {'state_dict', 'optimizer', 'global_step'} dict (not Lightning): no prefix stripped, optimizer found, global_step used", async () => {
  const path = write(
    dict([
      [
        'state_dict',
        dict(
          [
            ['net.w', tensor('FloatStorage', '0', 2, [2])],
            ['net.v', tensor('FloatStorage', '1', 3, [3])],
          ],
          true,
        ),
      ],
      [
        'optimizer',
        dict([
          [
            'state',
            dict([
              [
                1,
                dict([
                  ['exp_avg', tensor('FloatStorage', '2', 3, [3])],
                  ['exp_avg_sq', tensor('FloatStorage', '3', 3, [3])],
                ]),
              ],
            ]),
          ],
          ['param_groups', list(ADAM_GROUP([0, 1]))],
        ]),
      ],
      ['global_step', i(42)],
    ]),
    { '0': f32([1, 2]), '1': f32([3, 4, 5]), '2': f32([6, 7, 8]), '3': f32([9, 9, 9]) },
  );
  const run = await readTorchCheckpoint(path);
  assert.deepEqual(run.layerOrder, ['net.w', 'net.v']);
  assert.equal(run.snapshots[0].step, 42);
  assert.deepEqual(await values(ref(run, 'net.v', 'exp_avg')), [6, 7, 8]);
  assert.ok(run.issues.some((x) => /1 optimizer ids have no state; mapped by position only/.test(x.message)));
});

test('Lightning checkpoint with two optimizers: the first is used, with a warning; a prefix other than model. is kept', async () => {
  const osd = (key: string) =>
    dict([
      [
        'state',
        dict([
          [
            0,
            dict([
              ['step', f(5)],
              ['exp_avg', tensor('FloatStorage', key, 2, [2])],
              ['exp_avg_sq', tensor('FloatStorage', key, 2, [2])],
            ]),
          ],
        ]),
      ],
      ['param_groups', list(ADAM_GROUP([0]))],
    ]);
  const path = write(
    dict([
      ['epoch', i(0)],
      ['global_step', i(5)],
      ['state_dict', dict([['gen.w', tensor('FloatStorage', '0', 2, [2])]], true)],
      ['optimizer_states', list(osd('1'), osd('2'))],
      ['loops', dict([])],
    ]),
    { '0': f32([1, 2]), '1': f32([3, 4]), '2': f32([5, 6]) },
  );
  const run = await readTorchCheckpoint(path);
  // Only Lightning's `model.` attribute prefix is removed: `gen.w` is the module's own name.
  assert.deepEqual(run.layerOrder, ['gen.w']);
  assert.equal(run.snapshots[0].step, 5);
  assert.deepEqual(await values(ref(run, 'gen.w', 'exp_avg')), [3, 4]);
  assert.ok(run.issues.some((x) => /2 optimizers in the checkpoint; only optimizer_states\[0\] is analysed/.test(x.message)));
});

test('data.pkl is interpreted in growing windows: a DUP bomb stops at its budget in the first megabyte; a 3 MB pickle is read whole', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-window-'));
  try {
    const bomb = join(dir, 'bomb.pt');
    writeFileSync(bomb, torchZipOfPickle(dupPickle(20_000_000)));
    await assert.rejects(loadTorchFile(bomb), (e: unknown) => {
      assert.ok(e instanceof ReaderError);
      assert.match(e.reason, /more than 1000000 values on the stack \(budget\)/);
      assert.match(e.message, /byte 1000002 of the inflated archive\/data\.pkl/);
      return true;
    });
    // {'big': 'x' * 3_000_000}: the first window ends inside the string, the third holds it all.
    const big = Buffer.alloc(3_000_000, 0x78);
    const head = [0x80, 0x02, 0x7d, 0x8c, 3, ...Buffer.from('big'), 0x58];
    const len = [big.length & 0xff, (big.length >> 8) & 0xff, (big.length >> 16) & 0xff, 0];
    const ok = join(dir, 'big.pt');
    writeFileSync(ok, torchZipOfPickle(Uint8Array.from([...head, ...len, ...big, 0x73, 0x2e])));
    const loaded = await loadTorchFile(ok);
    assert.equal(((loaded.root as PyDict).get('big') as string).length, 3_000_000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
