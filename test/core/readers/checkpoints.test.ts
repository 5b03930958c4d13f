import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { RunData, TensorRef, TensorRole } from '../../../src/core/run/types';
import { readTensorValues } from '../../../src/core/io/tensorData';
import { readCheckpointPair, readTorchCheckpoint } from '../../../src/core/readers/torch/reader';
import { readHfCheckpointFolder } from '../../../src/core/readers/hfCheckpoint';
import { readSafetensors } from '../../../src/core/readers/safetensors';
import { assertClose, fixturePath } from '../../support/fixtures';
import { globalsOf } from '../../support/observations';

// Checkpoint structures real runs leave behind (test/fixtures/checkpoints, written by
// make_checkpoint_fixtures.py with torch 1.13): every figure is read from the files' bytes through the
// TensorRefs and compared with the float64 ground truth torch computed in expected.json.

const dir = (...p: string[]) => fixturePath('checkpoints', ...p);

interface LayerTruth {
  shape: number[];
  param_rms: number;
  exp_avg_rms?: number;
  exp_avg_sq_mean?: number;
  adam_u_rms?: number;
  max_exp_avg_sq_mean?: number;
  adam_u_rms_amsgrad?: number;
  step?: number;
}

function expected<T = { step: number; lr: number; layers: Record<string, LayerTruth> }>(...p: string[]): T {
  return JSON.parse(readFileSync(dir(...p), 'utf8')) as T;
}

async function values(ref: TensorRef): Promise<Float64Array> {
  return readTensorValues(ref);
}

async function rms(ref: TensorRef): Promise<number> {
  const v = await values(ref);
  let s = 0;
  for (const x of v) s += x * x;
  return Math.sqrt(s / v.length);
}

async function mean(ref: TensorRef): Promise<number> {
  const v = await values(ref);
  let s = 0;
  for (const x of v) s += x;
  return s / v.length;
}

/** RMS of m̂/(√v̂+ε) from the refs, in float64 (the ground truth's formula, torch's eps placement). */
async function adamU(m: TensorRef, v: TensorRef, step: number, b1: number, b2: number, eps: number): Promise<number> {
  const mv = await values(m);
  const vv = await values(v);
  let s = 0;
  for (let i = 0; i < mv.length; i++) {
    const u = mv[i] / (1 - b1 ** step) / (Math.sqrt(vv[i] / (1 - b2 ** step)) + eps);
    s += u * u;
  }
  return Math.sqrt(s / mv.length);
}

function find(run: RunData, layer: string, role: TensorRole): TensorRef {
  const refs = run.snapshots[0].tensors.filter((t) => t.layer === layer && t.role === role);
  assert.equal(refs.length, 1, `${layer} ${role}: ${refs.length} tensors`);
  return refs[0];
}

/** Every layer of `truth`: the parameter's RMS and, where the optimizer holds it, its state and RMS(u). */
async function checkLayers(run: RunData, truth: Record<string, LayerTruth>, paramRole: TensorRole, what: string): Promise<void> {
  for (const [layer, e] of Object.entries(truth)) {
    assert.deepEqual(run.layerShapes[layer], e.shape, `${what} ${layer} shape`);
    assertClose(await rms(find(run, layer, paramRole)), e.param_rms, 1e-12, `${what} ${layer} param rms`);
    if (e.exp_avg_rms === undefined) continue;
    const m = find(run, layer, 'exp_avg');
    const v = find(run, layer, 'exp_avg_sq');
    assertClose(await rms(m), e.exp_avg_rms, 1e-12, `${what} ${layer} exp_avg rms`);
    assertClose(await mean(v), e.exp_avg_sq_mean!, 1e-12, `${what} ${layer} exp_avg_sq mean`);
    const h = run.hyper;
    assertClose(await adamU(m, v, e.step!, h.betas![0], h.betas![1], h.eps!), e.adam_u_rms!, 1e-9, `${what} ${layer} adam_u rms`);
  }
}

const errors = (run: RunData) => run.issues.filter((i) => i.severity === 'error');

test('Lightning checkpoint whose hyper_parameters hold objects: state and optimizer read, each object an inert placeholder named in one warning', async () => {
  const e = expected<{
    step: number;
    lr: number;
    placeholders: string[];
    hyper_parameters: Record<string, number>;
    scheduler: { base_lrs: number[]; last_lr: number[]; last_epoch: number };
    layers: Record<string, LayerTruth>;
  }>('lightning', 'expected.json');
  const run = await readTorchCheckpoint(dir('lightning', 'checkpoints', 'epoch=0-step=8.ckpt'));
  assert.deepEqual(errors(run), []);
  assert.deepEqual(run.layerOrder, Object.keys(e.layers)); // `model.` removed: linear.weight, …
  assert.equal(run.snapshots[0].step, e.step);
  assert.equal(run.hyper.lr, e.lr);
  assert.equal(run.snapshots[0].scalars?.lr, e.lr);
  await checkLayers(run, e.layers, 'param_after', 'lightning');
  const w = run.issues.filter((i) => /kept as inert placeholders, never imported or called/.test(i.message));
  assert.equal(w.length, 1);
  for (const cls of e.placeholders) {
    const dot = cls.lastIndexOf('.');
    assert.ok(w[0].message.includes(`${cls.slice(dot + 1)} (${cls.slice(0, dot)})`), `${cls} in: ${w[0].message}`);
  }
  const s = run.snapshots[0].scalars!;
  for (const [k, v] of Object.entries(e.hyper_parameters)) assert.equal(s[`hyper_parameters.${k}`], v);
  assert.equal(s['lr_schedulers[0].base_lrs.0'], e.scheduler.base_lrs[0]);
  assert.equal(s['lr_schedulers[0].last_lr.0'], e.scheduler.last_lr[0]);
  assert.equal(s['lr_schedulers[0].last_epoch'], e.scheduler.last_epoch);
});

test('Lightning checkpoint of a module whose own layer is `linear`: the names stay linear.weight, linear.bias', async () => {
  const e = expected('lightning', 'expected_linear.json');
  const run = await readTorchCheckpoint(dir('lightning', 'checkpoints', 'linear-epoch=0-step=3.ckpt'));
  assert.deepEqual(run.layerOrder, ['linear.weight', 'linear.bias']);
  assert.equal(run.snapshots[0].step, 3);
  await checkLayers(run, e.layers, 'param_after', 'lightning linear');
});

test('legacy (pre-1.6) torch.save stream: magic, protocol, sys info, pickle, storage keys, raw storages — every figure', async () => {
  const e = expected('legacy', 'expected.json');
  const run = await readTorchCheckpoint(dir('legacy', 'legacy_step5.pt'));
  assert.deepEqual(run.issues, []);
  assert.equal(run.snapshots[0].step, 5);
  assert.equal(run.hyper.lr, e.lr);
  assert.deepEqual(run.layerOrder, Object.keys(e.layers));
  await checkLayers(run, e.layers, 'param_after', 'legacy');
  // The storages are read in place: after their 8-byte element counts, not copied.
  assert.ok(run.snapshots[0].tensors.every((t) => t.source.compression === 'none' && t.source.offset > 0));
});

test('AMSGrad: amsgrad stated per group, max_exp_avg_sq read as its role; RMS(u) with it matches torch', async () => {
  const e = expected<{ layers: Record<string, LayerTruth> }>('amsgrad', 'expected.json');
  const run = await readTorchCheckpoint(dir('amsgrad', 'amsgrad_step6.pt'));
  assert.deepEqual(run.hyper.betas, [0.9, 0.6]);
  assert.deepEqual(
    run.paramGroups?.map((g) => g.options?.amsgrad),
    [true],
  );
  assert.ok(
    run.snapshots[0].tensors.some((t) => t.role === 'max_exp_avg_sq'),
    'max_exp_avg_sq read as its role',
  );
  await checkLayers(run, e.layers, 'param_after', 'amsgrad');
  let differs = 0;
  for (const [layer, t] of Object.entries(e.layers)) {
    const max = find(run, layer, 'max_exp_avg_sq');
    assertClose(await mean(max), t.max_exp_avg_sq_mean!, 1e-12, `${layer} max_exp_avg_sq mean`);
    const u = await adamU(find(run, layer, 'exp_avg'), max, t.step!, 0.9, 0.6, 1e-8);
    assertClose(u, t.adam_u_rms_amsgrad!, 1e-9, `${layer} amsgrad u`);
    if (t.adam_u_rms_amsgrad! < 0.5 * t.adam_u_rms!) differs++;
  }
  assert.equal(differs, Object.keys(e.layers).length, 'the fixture makes max_exp_avg_sq matter in every layer');
});

test('odd tensors: each one that cannot be read gets an issue naming it; every other one is read exactly', async () => {
  const e = expected<{ tensors: Record<string, { shape: number[]; rms: number | null; contiguous: boolean; dtype: string }> }>(
    'odd_tensors',
    'expected.json',
  );
  const run = await readTorchCheckpoint(dir('odd_tensors', 'odd.pt'));
  assert.equal(run.snapshots[0].step, null);
  const read = new Set(run.snapshots[0].tensors.map((t) => t.key));
  assert.deepEqual([...read], ['normal', 'transposed', 'offset', 'scalar', 'last']);
  for (const k of read) assertClose(await rms(find(run, k, 'param')), e.tensors[k].rms!, 1e-12, `${k} rms`);
  assert.equal(e.tensors.transposed.contiguous, false);
  const issue = (k: string) => run.issues.find((i) => i.tensor === k);
  assert.match(issue('strided')!.message, /not contiguous \(shape \[3,3\], strides \[5,2\]\)/);
  assert.match(issue('empty')!.message, /no elements/);
  assert.ok(run.issues.some((i) => /non-float tensors.*int_buffer/.test(i.message)));
  assert.deepEqual(errors(run), []);
});

interface PeftTruth {
  training_args: { learning_rate: number; weight_decay: number; optim: string };
  checkpoints: Record<
    string,
    {
      step: number;
      lr: number;
      scheduler: { base_lrs: number[]; last_lr: number[]; last_epoch: number };
      layers: Record<string, LayerTruth>;
    }
  >;
}

test('HF PEFT checkpoint-N/: optimizer ids mapped to the adapter tensors (lora_A/lora_B) in the order their names imply; every figure; side files read, never an error', async () => {
  const e = expected<PeftTruth>('hf_peft', 'expected.json');
  const lrs: number[] = [];
  for (const [name, c] of Object.entries(e.checkpoints)) {
    const run = await readHfCheckpointFolder(dir('hf_peft', name));
    assert.deepEqual(errors(run), [], name);
    assert.ok(!run.issues.some((i) => /no model weights/.test(i.message)), name);
    assert.ok(!run.issues.some((i) => /ambiguous|cannot tell/.test(i.message)), JSON.stringify(run.issues));
    assert.ok(run.issues.some((i) => /order inferred from the key names/.test(i.message)));
    assert.equal(run.snapshots[0].step, c.step);
    assert.deepEqual([...run.layerOrder].sort(), Object.keys(c.layers).sort());
    // The lr of this step's own checkpoint (the scheduler has moved it between checkpoints).
    assert.equal(run.snapshots[0].scalars?.lr, c.lr);
    assert.equal(run.hyper.type, 'adamw'); // training_args.bin says optim=adamw_torch
    assert.equal(run.hyper.weightDecay, e.training_args.weight_decay); // the empty no-decay group says nothing
    await checkLayers(run, c.layers, 'param_after', name);
    const s = run.snapshots[0].scalars!;
    assert.equal(s['scheduler.base_lrs.0'], c.scheduler.base_lrs[0]);
    assert.equal(s['scheduler.last_lr.0'], c.scheduler.last_lr[0]);
    assert.equal(s['scheduler.last_epoch'], c.scheduler.last_epoch);
    assert.ok(run.inputs.some((i) => i.path.endsWith('training_args.bin')));
    lrs.push(c.lr);
  }
  assert.notEqual(lrs[0], lrs[1]);
});

test('HF side files read alone: scheduler.pt gives the lr at its step, training_args.bin the configured hyper-parameters, rng_state.pth nothing — no error', async () => {
  const e = expected<PeftTruth>('hf_peft', 'expected.json');
  const c4 = e.checkpoints['checkpoint-4'];
  const sched = await readTorchCheckpoint(dir('hf_peft', 'checkpoint-4', 'scheduler.pt'));
  assert.deepEqual(globalsOf(sched), [{ step: 4, values: { lr: c4.scheduler.last_lr[0] } }]);
  assert.deepEqual(errors(sched), []);
  const args = await readTorchCheckpoint(dir('hf_peft', 'checkpoint-4', 'training_args.bin'));
  assert.deepEqual(args.hyper, { source: 'config', type: 'adamw', lr: 2e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01 });
  assert.match(args.issues[0].message, /TrainingArguments, read as data, never instantiated/);
  const rng = await readTorchCheckpoint(dir('hf_peft', 'checkpoint-4', 'rng_state.pth'));
  assert.equal(rng.snapshots.length, 0);
  assert.deepEqual(errors(rng), []);
});

test('a PEFT model state dict with frozen base weights + an optimizer over the adapters: adapters mapped, base weights marked frozen', async () => {
  const e = expected<{ frozen: string[]; layers: Record<string, LayerTruth> }>('peft_frozen', 'expected.json');
  const run = await readCheckpointPair(dir('peft_frozen', 'model_step000006.pt'), dir('peft_frozen', 'optim_step000006.pt'));
  assert.deepEqual(run.frozenLayers, e.frozen);
  assert.equal(run.snapshots[0].step, 6);
  await checkLayers(run, e.layers, 'param_after', 'peft frozen');
  for (const f of e.frozen) assert.ok(!run.snapshots[0].tensors.some((t) => t.layer === f && t.role === 'exp_avg'));
});

test('tensor files with no step in their name or folder: a snapshot with step null, every tensor read', async () => {
  const e = expected<Record<string, Record<string, { shape: number[]; rms: number }>>>('no_step', 'expected.json');
  for (const [file, tensors] of Object.entries(e)) {
    const run = await readSafetensors(dir('no_step', ...file.split('/')));
    assert.equal(run.snapshots.length, 1);
    assert.equal(run.snapshots[0].step, null, file);
    for (const [k, t] of Object.entries(tensors)) assertClose(await rms(find(run, k, 'param')), t.rms, 1e-12, `${file} ${k}`);
  }
});
