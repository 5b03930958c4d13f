import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DisallowedGlobalError, ReaderError } from '../../../src/core/errors';
import type { RunData, TensorRef, TensorRole } from '../../../src/core/run/types';
import { readTensorValues } from '../../../src/core/io/tensorData';
import { readCheckpointPair, readTorchCheckpoint, torchReader } from '../../../src/core/readers/torch/reader';
import { assertClose, fixturePath, loadExpected } from '../../support/fixtures';

// Every figure below is computed from the checkpoint's bytes (read by offset through the TensorRefs)
// and compared with the PyTorch ground truth in expected.json.

const PARAM_ORDER = JSON.parse(readFileSync(fixturePath('adam_base', 'config.json'), 'utf8')).param_order as string[];

async function rms(ref: TensorRef): Promise<number> {
  const v = await readTensorValues(ref);
  let s = 0;
  for (const x of v) s += x * x;
  return Math.sqrt(s / v.length);
}

async function mean(ref: TensorRef): Promise<number> {
  const v = await readTensorValues(ref);
  let s = 0;
  for (const x of v) s += x;
  return s / v.length;
}

function find(run: RunData, layer: string, role: TensorRole): TensorRef {
  const refs = run.snapshots[0].tensors.filter((t) => t.layer === layer && t.role === role);
  assert.equal(refs.length, 1, `${layer} ${role}: ${refs.length} tensors`);
  return refs[0];
}

/** Check every layer against expected.json's figures at `step`. */
async function checkAgainstExpected(
  run: RunData,
  runName: string,
  step: number,
  kind: 'adam' | 'sgd',
  layers = PARAM_ORDER,
): Promise<void> {
  const expected = loadExpected(runName).steps[String(step)];
  for (const layer of layers) {
    const e = expected[layer];
    assertClose(await rms(find(run, layer, 'param_after')), e.param_rms_after, 1e-12, `${runName} ${layer} param rms`);
    if (kind === 'adam') {
      assertClose(await rms(find(run, layer, 'exp_avg')), e.exp_avg_rms, 1e-12, `${runName} ${layer} exp_avg rms`);
      assertClose(await mean(find(run, layer, 'exp_avg_sq')), e.exp_avg_sq_mean, 1e-12, `${runName} ${layer} exp_avg_sq mean`);
    } else {
      assertClose(await rms(find(run, layer, 'momentum_buffer')), e.momentum_buffer_rms, 1e-12, `${runName} ${layer} momentum rms`);
    }
  }
}

test('adam_base model + optimizer pair at step 120: every layer, hyper-parameters, step', async () => {
  const run = await readCheckpointPair(
    fixturePath('adam_base', 'ckpt', 'model_step000120.pt'),
    fixturePath('adam_base', 'ckpt', 'optim_step000120.pt'),
  );
  assert.equal(run.snapshots.length, 1);
  assert.equal(run.snapshots[0].step, 120);
  assert.deepEqual(run.layerOrder, PARAM_ORDER);
  assert.deepEqual(run.layerShapes['blocks.0.attn.qkv.weight'], [96, 32]);
  assert.deepEqual(run.hyper, {
    type: 'adam',
    lr: 3e-4,
    betas: [0.9, 0.999],
    eps: 1e-8,
    weightDecay: 0,
    source: 'checkpoint',
  });
  assert.equal(run.paramGroups?.[0].options?.amsgrad, false);
  // The snapshot carries its own checkpoint's lr (at its step) and parameter groups.
  assert.equal(run.snapshots[0].scalars?.lr, run.hyper.lr);
  assert.deepEqual(run.snapshots[0].paramGroups, run.paramGroups);
  assert.equal(run.paramGroups?.length, 1);
  assert.deepEqual(run.paramGroups?.[0].layers, PARAM_ORDER);
  assert.deepEqual(run.issues, []);
  assert.equal(run.snapshots[0].tensors.length, 14 * 3);
  // Stored tensors are read in place: the ref points inside the archive, no copy.
  const ref = find(run, 'head.weight', 'param_after');
  assert.equal(ref.source.compression, 'none');
  assert.equal(ref.source.offset % 64, 0);
  assert.equal(ref.source.storedLength, 40 * 32 * 4);
  await checkAgainstExpected(run, 'adam_base', 120, 'adam');
});

test('adam_base pair at step 60', async () => {
  const run = await readCheckpointPair(
    fixturePath('adam_base', 'ckpt', 'model_step000060.pt'),
    fixturePath('adam_base', 'ckpt', 'optim_step000060.pt'),
  );
  assert.equal(run.snapshots[0].step, 60);
  await checkAgainstExpected(run, 'adam_base', 60, 'adam');
});

test("adam_base combined {'model', 'optimizer', 'step'} checkpoint", async () => {
  const run = await readTorchCheckpoint(fixturePath('adam_base', 'ckpt', 'checkpoint_step000120.pt'));
  assert.equal(run.snapshots[0].step, 120);
  assert.equal(run.snapshots[0].scalars?.step, 120);
  assert.equal(run.hyper.lr, 3e-4);
  assert.equal(run.hyper.eps, 1e-8);
  assert.deepEqual(run.inputs, [{ path: fixturePath('adam_base', 'ckpt', 'checkpoint_step000120.pt'), format: 'torch' }]);
  await checkAgainstExpected(run, 'adam_base', 120, 'adam');
});

test("adam_reparam_k8 Lightning .ckpt: 'model.' prefix stripped, eps 1.25e-9, lr 2.4e-3, global_step", async () => {
  const run = await readTorchCheckpoint(
    fixturePath('adam_reparam_k8', 'lightning_logs', 'version_0', 'checkpoints', 'epoch=1-step=120.ckpt'),
  );
  assert.deepEqual(run.layerOrder, PARAM_ORDER);
  assert.equal(run.snapshots[0].step, 120);
  assert.equal(run.snapshots[0].scalars?.epoch, 1);
  assert.equal(run.snapshots[0].scalars?.['hyper_parameters.reparam_k'], 8);
  assert.deepEqual(run.hyper, {
    type: 'adam',
    lr: 2.4e-3,
    betas: [0.9, 0.999],
    eps: 1.25e-9,
    weightDecay: 0,
    source: 'checkpoint',
  });
  assert.equal(run.paramGroups?.[0].options?.amsgrad, false);
  await checkAgainstExpected(run, 'adam_reparam_k8', 120, 'adam');
});

test('sgd_momentum pair: momentum_buffer, type sgd, lr 0.1, step from the name (SGD keeps no step)', async () => {
  const run = await readCheckpointPair(
    fixturePath('sgd_momentum', 'ckpt', 'model_step000120.pt'),
    fixturePath('sgd_momentum', 'ckpt', 'optim_step000120.pt'),
  );
  assert.equal(run.hyper.type, 'sgd');
  assert.equal(run.hyper.lr, 0.1);
  assert.equal(run.hyper.betas, null);
  assert.equal(run.snapshots[0].scalars?.['param_groups.0.momentum'], 0.9);
  assert.equal(run.snapshots[0].step, 120);
  await checkAgainstExpected(run, 'sgd_momentum', 120, 'sgd');
});

const ADAMW_CONFIG = JSON.parse(readFileSync(fixturePath('adamw_wd0.05', 'config.json'), 'utf8')) as {
  optimizer_state_index: Record<string, number>;
  param_groups: { weight_decay: number; params: string[] }[];
};

function stateIdsByLayer(run: RunData): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of run.snapshots[0].tensors) {
    if (t.role !== 'exp_avg') continue;
    const m = /state\.(\d+)\.exp_avg$/.exec(t.key);
    assert.ok(m, t.key);
    out.set(t.layer, Number(m[1]));
  }
  return out;
}

test('adamw_wd0.05 pair, assumeGroupOrder false: only shape-certain ids mapped (all correct), the rest named in a warning', async () => {
  const run = await readCheckpointPair(
    fixturePath('adamw_wd0.05', 'ckpt', 'model_step000120.pt'),
    fixturePath('adamw_wd0.05', 'ckpt', 'optim_step000120.pt'),
    { assumeGroupOrder: false },
  );
  const mapped = stateIdsByLayer(run);
  // Unique shapes: pos_embed [16,32], qkv [96,32], attn.proj [32,32], fc [64,32], fc.bias [64], mlp.proj [32,64].
  assert.deepEqual([...mapped.keys()].sort(), [
    'blocks.0.attn.proj.weight',
    'blocks.0.attn.qkv.weight',
    'blocks.0.mlp.fc.bias',
    'blocks.0.mlp.fc.weight',
    'blocks.0.mlp.proj.weight',
    'pos_embed',
  ]);
  for (const [layer, id] of mapped) assert.equal(id, ADAMW_CONFIG.optimizer_state_index[layer], layer);
  const warning = run.issues.find((i) => /ambiguous optimizer-state mapping/.test(i.message));
  assert.ok(warning, 'ambiguity warning');
  for (const layer of ['embed.weight', 'head.weight', 'blocks.0.ln1.weight', 'ln_f.bias'])
    assert.match(warning.message, new RegExp(layer.replace(/\./g, '\\.')));
  assert.match(warning.message, /would determine them uniquely; assumeGroupOrder is off/);
  // Parameters are all there; optimizer state only for the certain ones.
  assert.equal(run.snapshots[0].tensors.filter((t) => t.role === 'param_after').length, 14);
  await checkAgainstExpected(run, 'adamw_wd0.05', 120, 'adam', [...mapped.keys()]);
});

test('adamw_wd0.05 pair, default (group order assumed, warned): the mapping equals config.json optimizer_state_index', async () => {
  const run = await readCheckpointPair(
    fixturePath('adamw_wd0.05', 'ckpt', 'model_step000120.pt'),
    fixturePath('adamw_wd0.05', 'ckpt', 'optim_step000120.pt'),
  );
  assert.deepEqual(Object.fromEntries(stateIdsByLayer(run)), ADAMW_CONFIG.optimizer_state_index);
  assert.ok(run.issues.some((i) => /mapped by assuming each group lists its parameters in named_parameters\(\) order/.test(i.message)));
  assert.equal(run.hyper.type, 'adamw');
  assert.equal(run.hyper.lr, 3e-4);
  assert.equal(run.hyper.weightDecay, null); // groups differ: see paramGroups
  assert.deepEqual(
    run.paramGroups?.map((g) => [g.weightDecay, [...g.layers].sort()]),
    ADAMW_CONFIG.param_groups.map((g) => [g.weight_decay, [...g.params].sort()]),
  );
  assert.ok(run.issues.some((i) => /cannot tell torch\.optim\.Adam .* from AdamW/.test(i.message)));
  await checkAgainstExpected(run, 'adamw_wd0.05', 120, 'adam');
});

test('model file alone: role param, step from the file name, no optimizer figures', async () => {
  const run = await readTorchCheckpoint(fixturePath('adam_base', 'ckpt', 'model_step000060.pt'));
  assert.equal(run.snapshots[0].step, 60);
  assert.ok(run.snapshots[0].tensors.every((t) => t.role === 'param'));
  assert.deepEqual(run.hyper, {});
  const ref = run.snapshots[0].tensors.find((t) => t.layer === 'ln_f.weight')!;
  assertClose(await rms(ref), loadExpected('adam_base').steps['60']['ln_f.weight'].param_rms_after, 1e-12, 'ln_f rms');
});

test('optimizer file alone: state named by param-group position, step from the state', async () => {
  const run = await readTorchCheckpoint(fixturePath('adamw_wd0.05', 'ckpt', 'optim_step000120.pt'));
  assert.equal(run.snapshots[0].step, 120);
  assert.equal(run.layerOrder.length, 14);
  assert.ok(run.layerOrder.every((l) => /^param_group[01]\.\d+$/.test(l)));
  // param_group1.0 is state id 7 = blocks.0.ln1.weight
  const ref = find(run, 'param_group1.0', 'exp_avg');
  assert.match(ref.key, /state\.7\.exp_avg$/);
  assertClose(await rms(ref), loadExpected('adamw_wd0.05').steps['120']['blocks.0.ln1.weight'].exp_avg_rms, 1e-12, 'exp_avg rms');
});

test('unsafe pickles are refused naming the global; nothing is executed', async () => {
  await assert.rejects(readTorchCheckpoint(fixturePath('bad', 'unsafe_global_eval.pt')), (e: unknown) => {
    assert.ok(e instanceof ReaderError);
    assert.match(e.message, /disallowed global 'builtins\.eval'/);
    assert.match(e.message, /never executes code/);
    assert.doesNotMatch(e.message, /unsafe global executed/);
    assert.equal(typeof e.offset, 'number');
    return true;
  });
  await assert.rejects(readTorchCheckpoint(fixturePath('bad', 'unsafe_global_os_system.pt')), (e: unknown) => {
    assert.ok(e instanceof ReaderError);
    assert.ok(e instanceof DisallowedGlobalError && e.global === 'os.system');
    assert.match(e.message, /disallowed global 'os\.system'/);
    assert.match(e.message, /not a torch\.save checkpoint \(a bare pickle/);
    assert.equal(e.offset, 2);
    return true;
  });
});

test('a legacy stream cut after its first pickles, and a file that is neither zip nor pickle: errors with the offset', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-torch-'));
  const legacy = join(dir, 'legacy.pt');
  // pickle of the magic number 0x1950a86a20f9469cfc6c (LONG1, 10 bytes), then a protocol-version pickle, then nothing
  writeFileSync(legacy, Buffer.from('80028a0a6cfc9c46f9206aa850192e80024de9032e', 'hex'));
  await assert.rejects(readTorchCheckpoint(legacy), (e: unknown) => {
    assert.ok(e instanceof ReaderError);
    assert.match(e.reason, /pickle ended without STOP/);
    assert.equal(e.offset, 21);
    return true;
  });
  const text = join(dir, 'notes.pt');
  writeFileSync(text, 'hello');
  await assert.rejects(readTorchCheckpoint(text), (e: unknown) => {
    assert.ok(e instanceof ReaderError);
    assert.match(e.reason, /neither a zip archive \(50 4b 03 04\) nor a pickle stream \(80 02…\) but 68 65 6c 6c/);
    assert.equal(e.offset, 0);
    return true;
  });
});

test('detect: by extension and magic bytes', () => {
  const zip = Uint8Array.from([0x50, 0x4b, 0x03, 0x04, 0, 0]);
  assert.ok(torchReader.detect('a/model.pt', zip));
  assert.ok(torchReader.detect('a/pytorch_model.bin', zip));
  assert.ok(torchReader.detect('epoch=1-step=120.ckpt', zip));
  assert.ok(torchReader.detect('x.pth', Uint8Array.from([0x80, 0x02, 0x8a])));
  assert.ok(!torchReader.detect('x.npz', zip));
  assert.ok(!torchReader.detect('x.bin', Uint8Array.from([1, 2, 3, 4])));
  // .pt/.pth/.ckpt are torch's own: read whatever they start with, so a corrupt first byte is reported at its offset.
  assert.ok(torchReader.detect('x.pt', Uint8Array.from([1, 2, 3, 4])));
});

test('pytorch_model.bin alone inside checkpoint-N/: step from the folder name', async () => {
  const run = await readTorchCheckpoint(fixturePath('adamw_wd0.05', 'checkpoint-60', 'pytorch_model.bin'));
  assert.equal(run.snapshots[0].step, 60);
  assert.ok(run.snapshots[0].tensors.every((t) => t.role === 'param'));
  const ref = run.snapshots[0].tensors.find((t) => t.layer === 'head.weight')!;
  assertClose(await rms(ref), loadExpected('adamw_wd0.05').steps['60']['head.weight'].param_rms_after, 1e-12, 'head rms');
});
