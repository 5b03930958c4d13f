import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunData, TensorRef, TensorRole } from '../../../src/core/run/types';
import { readTensorValues } from '../../../src/core/io/tensorData';
import { isHfCheckpointFolder, readHfCheckpointFolder } from '../../../src/core/readers/hfCheckpoint';
import { readTorchCheckpoint } from '../../../src/core/readers/torch/reader';
import { assertClose, fixturePath, loadExpected } from '../../support/fixtures';
import { globalsOf } from '../../support/observations';

// Hugging Face Trainer checkpoint-N/ folders of the adamw_wd0.05 run (two param groups, no
// param_names), checked against expected.json and config.json's optimizer_state_index.

const CONFIG = JSON.parse(readFileSync(fixturePath('adamw_wd0.05', 'config.json'), 'utf8')) as {
  param_order: string[];
  optimizer_state_index: Record<string, number>;
  param_groups: { weight_decay: number; params: string[] }[];
};

async function rms(ref: TensorRef): Promise<number> {
  const v = await readTensorValues(ref);
  let s = 0;
  for (const x of v) s += x * x;
  return Math.sqrt(s / v.length);
}

function find(run: RunData, layer: string, role: TensorRole): TensorRef {
  const refs = run.snapshots[0].tensors.filter((t) => t.layer === layer && t.role === role);
  assert.equal(refs.length, 1, `${layer} ${role}: ${refs.length} tensors`);
  return refs[0];
}

function stateIds(run: RunData): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of run.snapshots[0].tensors) {
    const m = /state\.(\d+)\.exp_avg$/.exec(t.key);
    if (m) out[t.layer] = Number(m[1]);
  }
  return out;
}

for (const step of [60, 120]) {
  test(`adamw_wd0.05 checkpoint-${step}/: parameters, Adam state by name, hyper-parameters, trainer globals`, async () => {
    const dir = fixturePath('adamw_wd0.05', `checkpoint-${step}`);
    assert.ok(await isHfCheckpointFolder(dir));
    const run = await readHfCheckpointFolder(dir);
    assert.equal(run.snapshots.length, 1);
    assert.equal(run.snapshots[0].step, step);
    assert.deepEqual(run.layerOrder, CONFIG.param_order);
    assert.deepEqual(
      run.inputs.map((i) => [i.path.split('/').pop(), i.format]),
      [
        ['pytorch_model.bin', 'torch'],
        ['optimizer.pt', 'torch'],
        ['trainer_state.json', 'hf-trainer-state'],
      ],
    );
    assert.deepEqual(stateIds(run), CONFIG.optimizer_state_index);
    assert.equal(run.hyper.type, 'adamw');
    assert.equal(run.hyper.lr, 3e-4);
    assert.deepEqual(run.hyper.betas, [0.9, 0.999]);
    assert.equal(run.hyper.eps, 1e-8);
    assert.equal(run.hyper.source, 'checkpoint');
    assert.deepEqual(
      run.paramGroups?.map((g) => [g.weightDecay, [...g.layers].sort()]),
      CONFIG.param_groups.map((g) => [g.weight_decay, [...g.params].sort()]),
    );
    assert.ok(run.issues.some((i) => /Hugging Face Trainer's default optimizer is AdamW/.test(i.message)));
    // trainer_state.json log_history every 10 steps up to the checkpoint's step
    assert.deepEqual(
      globalsOf(run).map((g) => g.step),
      Array.from({ length: step / 10 }, (_, i) => 10 * (i + 1)),
    );
    const expected = loadExpected('adamw_wd0.05').steps[String(step)];
    for (const layer of CONFIG.param_order) {
      assertClose(await rms(find(run, layer, 'param_after')), expected[layer].param_rms_after, 1e-12, `${layer} param`);
      assertClose(await rms(find(run, layer, 'exp_avg')), expected[layer].exp_avg_rms, 1e-12, `${layer} exp_avg`);
      const v = await readTensorValues(find(run, layer, 'exp_avg_sq'));
      assertClose(v.reduce((a, b) => a + b, 0) / v.length, expected[layer].exp_avg_sq_mean, 1e-12, `${layer} exp_avg_sq`);
    }
  });
}

test('checkpoint-120/ with assumeGroupOrder false: certain ids only, the rest named in a warning', async () => {
  const run = await readHfCheckpointFolder(fixturePath('adamw_wd0.05', 'checkpoint-120'), { assumeGroupOrder: false });
  const ids = stateIds(run);
  assert.equal(Object.keys(ids).length, 6);
  for (const [layer, id] of Object.entries(ids)) assert.equal(id, CONFIG.optimizer_state_index[layer]);
  assert.ok(run.issues.some((i) => /ambiguous optimizer-state mapping/.test(i.message) && /left unmapped/.test(i.message)));
});

/** Write a safetensors file (tensors sorted by name, header padded to 8 bytes, like the reference writer). */
function writeSafetensors(path: string, tensors: { name: string; shape: number[]; values: Float64Array }[]): void {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : 1));
  const header: Record<string, unknown> = {};
  let at = 0;
  for (const t of sorted) {
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [at, at + 4 * t.values.length] };
    at += 4 * t.values.length;
  }
  let json = JSON.stringify(header);
  while ((json.length + 8) % 8) json += ' ';
  const buf = Buffer.alloc(8 + json.length + at);
  buf.writeBigUInt64LE(BigInt(json.length), 0);
  buf.write(json, 8, 'latin1');
  let p = 8 + json.length;
  for (const t of sorted) {
    for (const x of t.values) {
      buf.writeFloatLE(x, p);
      p += 4;
    }
  }
  writeFileSync(path, buf);
}

test('checkpoint folder with model.safetensors (order lost): parameters read, only shape-certain state mapped', async () => {
  const src = fixturePath('adam_base', 'ckpt');
  const dir = join(mkdtempSync(join(tmpdir(), 'ol-hf-')), 'checkpoint-120');
  mkdirSync(dir);
  const model = await readTorchCheckpoint(join(src, 'model_step000120.pt'));
  const tensors = [];
  for (const t of model.snapshots[0].tensors) tensors.push({ name: t.layer, shape: t.shape, values: await readTensorValues(t) });
  writeSafetensors(join(dir, 'model.safetensors'), tensors);
  copyFileSync(join(src, 'optim_step000120.pt'), join(dir, 'optimizer.pt'));
  const run = await readHfCheckpointFolder(dir);
  assert.equal(run.snapshots[0].step, 120);
  assert.equal(run.hyper.type, 'adam');
  const expected = loadExpected('adam_base').steps['120'];
  assert.equal(run.snapshots[0].tensors.filter((t) => t.role === 'param_after').length, 14);
  for (const t of run.snapshots[0].tensors.filter((x) => x.role === 'param_after')) {
    assertClose(await rms(t), expected[t.layer].param_rms_after, 1e-12, `${t.layer} param`);
  }
  // Sorted names cannot be mapped by position: only shapes that occur once are certain.
  const ids = stateIds(run);
  const truth = Object.fromEntries(CONFIG.param_order.map((n, i) => [n, i])); // adam_base: one group in named order
  assert.deepEqual(Object.keys(ids).sort(), [
    'blocks.0.attn.proj.weight',
    'blocks.0.attn.qkv.weight',
    'blocks.0.mlp.fc.bias',
    'blocks.0.mlp.fc.weight',
    'blocks.0.mlp.proj.weight',
    'pos_embed',
  ]);
  for (const [layer, id] of Object.entries(ids)) assert.equal(id, truth[layer]);
  assert.ok(run.issues.some((i) => /does not record parameter order/.test(i.message)));
  for (const [layer, id] of Object.entries(ids)) {
    assertClose(await rms(find(run, layer, 'exp_avg')), expected[layer].exp_avg_rms, 1e-12, `${layer} exp_avg (state ${id})`);
  }
});

test('a folder without optimizer.pt yields parameters only, with a warning', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'ol-hf-')), 'checkpoint-60');
  mkdirSync(dir);
  copyFileSync(fixturePath('adamw_wd0.05', 'checkpoint-60', 'pytorch_model.bin'), join(dir, 'pytorch_model.bin'));
  copyFileSync(fixturePath('adamw_wd0.05', 'checkpoint-60', 'trainer_state.json'), join(dir, 'trainer_state.json'));
  const run = await readHfCheckpointFolder(dir);
  assert.equal(run.snapshots[0].step, 60);
  assert.ok(run.snapshots[0].tensors.every((t) => t.role === 'param'));
  assert.ok(run.issues.some((i) => /no optimizer\.pt/.test(i.message)));
  assert.equal(run.hyper.lr, 3e-4);
  assert.equal(run.hyper.source, 'log');
});
