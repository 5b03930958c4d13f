import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readNpz } from '../../../src/core/readers/npz';
import { mergeRunData } from '../../../src/core/run/merge';
import { analyzePaths, analyzeRunData } from '../../../src/core/pipeline';
import { readTensorValues } from '../../../src/core/io/tensorData';
import type { AnalyzeOptions } from '../../../src/core/analysis';
import type { LayerStats } from '../../../src/core/engine/types';
import type { OptimizerOptionValue, ParamGroupHyper, RunData } from '../../../src/core/run/types';
import type { OptimizerKind } from '../../../src/shared/optimizers';
import { assertClose, fixturePath } from '../../support/fixtures';

// Every optimizer's normalized direction d and predicted step, rebuilt by the engine from the state each library
// saves, against the fixtures' float64 ground truth (test/python/make_optimizer_fixtures.py: torch 1.13's own
// optimizers, and reference implementations of Lion, Adafactor, LAMB, LARS, Muon and bitsandbytes' 8-bit AdamW).
// The run data is built here as a checkpoint's reader states it — the tensors and the state by role, the param
// groups with their keys, the per-parameter scalar state — so this tests the engine alone.

interface ExpectedRow {
  kind: string;
  t: number;
  direction_rms: number;
  rel_step: number | null;
  pred_rel_step: number | null;
  pred_rel_step_used?: number | null;
  f32_bound: number | null;
  param_rms: number;
  adam_u_rms?: number;
  zero_v_frac?: number;
  eps_dominated_frac?: number;
  trust_ratio?: number;
  effective_lr?: number;
  update_clip?: number;
  undetermined?: number;
}
interface ExpectedStep {
  param_groups: (Record<string, OptimizerOptionValue> & { layers: string[] })[];
  layer_state: Record<string, Record<string, number>>;
  layers: Record<string, ExpectedRow>;
}
interface ExpectedRun {
  run: string;
  kind: string;
  optimizer_class: string;
  steps: Record<string, ExpectedStep>;
}

const RUNS = [
  'adam',
  'adamw',
  'amsgrad',
  'nadam',
  'nadam_foreach',
  'radam',
  'adamax',
  'adagrad',
  'rmsprop',
  'rmsprop_centered',
  'sgd_nesterov',
  'lion',
  'adafactor_hf',
  'adafactor_hf_beta1',
  'adafactor_torch',
  'lamb',
  'lars',
  'muon',
  'muon_bf16',
  'muon_torch',
  'adamw8bit',
] as const;

const KIND: Record<string, OptimizerKind> = {
  adam: 'adam',
  adamw: 'adamw',
  amsgrad: 'adamw',
  nadam: 'nadam',
  nadam_foreach: 'nadam',
  radam: 'radam',
  adamax: 'adamax',
  adagrad: 'adagrad',
  rmsprop: 'rmsprop',
  rmsprop_centered: 'rmsprop',
  sgd_nesterov: 'sgd',
  lion: 'lion',
  adafactor_hf: 'adafactor',
  adafactor_hf_beta1: 'adafactor',
  adafactor_torch: 'adafactor',
  lamb: 'lamb',
  lars: 'lars',
  muon: 'muon',
  muon_bf16: 'muon',
  muon_torch: 'muon',
  adamw8bit: 'adamw',
};

export function loadRun(run: string): ExpectedRun {
  return JSON.parse(readFileSync(fixturePath(`optim_${run}`, 'expected.json'), 'utf8')) as ExpectedRun;
}

const num = (v: OptimizerOptionValue | undefined): number | null => (typeof v === 'number' ? v : null);

/** The param groups as a checkpoint reader states them: the usual fields, the kind where it differs, every key. */
export function groupsOf(step: ExpectedStep, runKind: OptimizerKind): ParamGroupHyper[] {
  return step.param_groups.map((g) => {
    const { layers, ...options } = g;
    const betas = Array.isArray(g.betas) && g.betas.length === 2 ? ([g.betas[0], g.betas[1]] as [number, number]) : null;
    return {
      layers,
      lr: num(g.lr),
      betas,
      eps: num(g.eps),
      weightDecay: num(g.weight_decay),
      ...(g.use_muon === false ? { kind: 'adamw' as const } : g.use_muon === true ? { kind: runKind } : {}),
      options,
    };
  });
}

async function runData(
  run: string,
  step: string,
  opts: { withGrad?: boolean; withAfter?: boolean; groups?: (g: ParamGroupHyper[]) => ParamGroupHyper[] } = {},
): Promise<RunData> {
  const exp = loadRun(run);
  const s = exp.steps[step];
  const file = `step_${step.padStart(6, '0')}.npz`;
  const tensors = await readNpz(fixturePath(`optim_${run}`, 'tensors', file));
  const drop = new Set([...(opts.withGrad === false ? ['grad'] : []), ...(opts.withAfter === false ? ['param_after'] : [])]);
  tensors.snapshots[0].tensors = tensors.snapshots[0].tensors.filter((t) => !drop.has(t.role));
  const state = await readNpz(fixturePath(`optim_${run}`, 'state', file));
  const data = mergeRunData([tensors, state]);
  const kind = KIND[run];
  const groups = groupsOf(s, kind);
  data.paramGroups = opts.groups ? opts.groups(groups) : groups;
  data.hyper = { ...data.hyper, type: kind, source: 'checkpoint' };
  for (const snap of data.snapshots) snap.layerState = s.layer_state;
  return data;
}

async function analyze(run: string, step: string, options: AnalyzeOptions = {}, o: Parameters<typeof runData>[2] = {}) {
  const data = await runData(run, step, o);
  return analyzeRunData(data, { step: Number(step), ...options });
}

const REL = 1e-9;

/** Every layer's figures at a step against the fixture's ground truth. */
function checkLayers(run: string, step: string, result: Awaited<ReturnType<typeof analyzeRunData>>['result']): void {
  const want = loadRun(run).steps[step].layers;
  // A checkpoint's model also holds parameters the optimizer does not train (torch Muon's run freezes the biases):
  // they have a scale and no direction.
  const trained = result.layers.filter((l) => l.name in want);
  assert.deepEqual(trained.map((l) => l.name).sort(), Object.keys(want).sort(), `${run} step ${step}: layers`);
  for (const l of result.layers.filter((x) => !(x.name in want))) assert.equal(l.directionRms, null, `${run} ${l.name} is not trained`);
  for (const l of trained) {
    const w = want[l.name];
    const what = `${run} step ${step} ${l.name}`;
    assert.equal(l.optimizer, w.kind === 'muon_aux' ? 'adamw' : KIND[run], `${what}: the rule applied`);
    if (w.undetermined) {
      // 8-bit: v quantized to 0 where m is not — the saved state does not determine d there.
      assert.match(l.provenance!.directionRms, /measured/, `${what}: ${w.undetermined} undetermined elements, d measured instead`);
      assert.equal(l.relStepPredicted, null, what);
      assert.ok(
        result.issues.some((i) => new RegExp(`${w.undetermined} of ${l.numel} elements have a second moment of 0`).test(i.message)),
        what,
      );
      continue;
    }
    assertClose(l.directionRms ?? null, w.direction_rms, REL, `${what} directionRms`);
    assertClose(l.relStep, w.rel_step, 1e-12, `${what} relStep (measured)`);
    assertClose(l.relStepPredicted, w.pred_rel_step, REL, `${what} relStepPredicted`);
    if (w.adam_u_rms !== undefined) assertClose(l.adamUpdateRms, w.adam_u_rms, REL, `${what} adamUpdateRms`);
    else assert.equal(l.adamUpdateRms, null, `${what}: no Adam u for ${w.kind}`);
    if (w.zero_v_frac !== undefined) assertClose(l.zeroSecondMomentFraction ?? null, w.zero_v_frac, REL, `${what} zero second moment`);
    if (w.eps_dominated_frac !== undefined) assertClose(l.epsDominatedFraction, w.eps_dominated_frac, REL, `${what} ε-dominated`);
    if (w.trust_ratio !== undefined) assertClose(l.trustRatio ?? null, w.trust_ratio, REL, `${what} trust ratio`);
    if (w.effective_lr !== undefined) assertClose(l.effectiveLr ?? null, w.effective_lr, REL, `${what} effective lr`);
    if (w.update_clip !== undefined) assertClose(l.updateClip ?? null, w.update_clip, REL, `${what} update clip`);
    // The premise, optimizer by optimizer: the measured relative step is the predicted one, to the float32
    // rounding of the stored step (f32_bound) and float32 arithmetic (1e-6 relative).
    if (w.rel_step === null || l.relStepPredicted === null || l.relStep === null) continue;
    const gap = Math.abs(l.relStep - l.relStepPredicted);
    if (run === 'adamw8bit') {
      // The step used the float32 moments; the checkpoint holds them 8-bit quantized.
      const quant = Math.abs(w.pred_rel_step! - w.pred_rel_step_used!);
      assert.ok(
        gap <= quant + w.f32_bound! + 1e-6 * l.relStepPredicted,
        `${what}: measured ${l.relStep} vs predicted ${l.relStepPredicted}`,
      );
      assert.ok(quant < 1e-3 * l.relStepPredicted, `${what}: 8-bit quantization moves the prediction by ${quant}`);
    } else if (run === 'muon_bf16') {
      // Newton–Schulz ran in bfloat16 (8 bits of mantissa, and each of the 5 iterations amplifies small singular
      // values' rounding by up to a = 3.4): the float64 prediction is within 5% of the step taken.
      assert.ok(gap <= 0.05 * l.relStepPredicted, `${what}: measured ${l.relStep} vs predicted ${l.relStepPredicted}`);
    } else {
      assert.ok(
        gap <= w.f32_bound! + 1e-6 * l.relStepPredicted,
        `${what}: measured ${l.relStep} vs predicted ${l.relStepPredicted} (gap ${gap}, float32 bound ${w.f32_bound})`,
      );
    }
  }
}

for (const run of RUNS) {
  test(`${run}: d, the predicted step and the measured step per layer, at every saved step`, async () => {
    for (const step of Object.keys(loadRun(run).steps)) checkLayers(run, step, (await analyze(run, step)).result);
  });
}

test('AMSGrad: u uses max_exp_avg_sq as torch does, not exp_avg_sq', async () => {
  const exp = loadRun('amsgrad');
  const { result } = await analyze('amsgrad', '10');
  const fc1 = result.layers.find((l) => l.name === 'fc1.weight')!;
  assertClose(fc1.adamUpdateRms, exp.steps['10'].layers['fc1.weight'].adam_u_rms!, REL, 'RMS(u) with max_exp_avg_sq');
  // The same state read as plain AdamW (max_exp_avg_sq dropped): a different, wrong u.
  const data = await runData('amsgrad', '10');
  for (const s of data.snapshots) s.tensors = s.tensors.filter((t) => t.role !== 'max_exp_avg_sq');
  for (const g of data.paramGroups!) g.options = { ...g.options, amsgrad: false };
  const plain = (await analyzeRunData(data, { step: 10 })).result.layers.find((l) => l.name === 'fc1.weight')!;
  assert.ok(
    plain.adamUpdateRms! > 1.3 * fc1.adamUpdateRms!,
    `exp_avg_sq gives ${plain.adamUpdateRms}, max_exp_avg_sq ${fc1.adamUpdateRms}`,
  );
  assert.ok(Math.abs(plain.relStepPredicted! - fc1.relStep!) > 0.2 * fc1.relStep!, 'and exp_avg_sq does not predict the step torch took');
});

test('elements that never received a gradient count apart from the ε-dominated ones (fc1.weight: 4 of 16 input columns are always 0)', async () => {
  const { result } = await analyze('adamw', '10');
  const fc1 = result.layers.find((l) => l.name === 'fc1.weight')!;
  assert.equal(fc1.zeroSecondMomentFraction, 4 / 16);
  assert.equal(fc1.epsDominatedFraction, 0);
  assert.equal(result.layers.find((l) => l.name === 'fc2.weight')!.zeroSecondMomentFraction, 0);
});

test('where d needs the gradient the step consumed and the input has none, d is null and an issue says why (never a guess)', async () => {
  for (const [run, phrase] of [
    ['nadam', /NAdam.*: d needs the gradient the step consumed/],
    ['adagrad', /Adagrad.*: d needs the gradient/],
    ['rmsprop', /RMSprop.*: d needs the gradient/],
    ['sgd_nesterov', /SGD.*: d needs the gradient/],
    ['adafactor_hf', /without a first moment: d = g\/√V̂ needs the gradient/],
    ['adafactor_torch', /without a first moment: d = g\/√V̂ needs the gradient/],
    ['muon', /Nesterov momentum the orthogonalized input .* needs the gradient/],
  ] as const) {
    const exp = loadRun(run);
    // With the parameter before and after the step, d is measured instead: (p_before − p_after)/lr, decay removed.
    const measured = await analyze(run, '10', {}, { withGrad: false });
    for (const l of measured.result.layers.filter((x) => x.optimizer === KIND[run])) {
      assert.match(l.provenance!.directionRms, /measured/, `${run} ${l.name}`);
      assertClose(l.directionRms ?? null, exp.steps['10'].layers[l.name].direction_rms, 1e-4, `${run} ${l.name} measured d`);
      assert.equal(l.relStepPredicted, null, `${run} ${l.name}: no prediction without the state's d`);
    }
    const { result } = await analyze(run, '10', {}, { withGrad: false, withAfter: false });
    const affected = result.layers.filter((l) => l.optimizer === KIND[run]);
    assert.ok(affected.length > 0, run);
    for (const l of affected) {
      assert.equal(l.directionRms, null, `${run} ${l.name}`);
      assert.equal(l.relStepPredicted, null, `${run} ${l.name}`);
    }
    const issue = result.issues.find((i) => phrase.test(i.message));
    assert.ok(issue, `${run}: an issue matching ${phrase} among ${result.issues.map((i) => i.message).join(' | ')}`);
    assert.match(issue.message, /layers? .*at step 10/);
  }
  // The state alone suffices where the rule is a function of it.
  for (const run of ['adam', 'radam', 'adamax', 'rmsprop_centered', 'lamb', 'lars', 'adafactor_hf_beta1', 'adamw8bit'] as const) {
    const exp = loadRun(run);
    const { result } = await analyze(run, '10', {}, { withGrad: false });
    for (const l of result.layers)
      assertClose(l.directionRms ?? null, exp.steps['10'].layers[l.name].direction_rms, REL, `${run} ${l.name} from state alone`);
  }
});

test('Lion without the gradient: RMS(d) is known (|d| = 1 where exp_avg ≠ 0), the decay’s share of the step is not', async () => {
  const exp = loadRun('lion');
  const { result } = await analyze('lion', '10', {}, { withGrad: false });
  for (const l of result.layers) {
    assertClose(l.directionRms ?? null, exp.steps['10'].layers[l.name].direction_rms, REL, `${l.name} RMS(sign)`);
    assert.equal(l.relStepPredicted, null, `${l.name}: weight decay 0.1 needs the signs`);
  }
  assert.ok(result.issues.some((i) => /Lion: without the gradient the signs of d are unknown/.test(i.message)));
  assert.ok(
    result.issues.some((i) => /decoupled_weight_decay=True .* is not saved/.test(i.message)),
    'the decay assumption is said',
  );
  const fc1 = result.layers.find((l) => l.name === 'fc1.weight')!;
  assertClose(fc1.directionRms ?? null, Math.sqrt(12 / 16), REL, 'fc1.weight: 4 of 16 columns never moved');
});

test('Muon: the shape scaling is the layout’s where it says, an option otherwise, and an assumption said when neither', async () => {
  const exp = loadRun('muon');
  // Keller Jordan's layout (use_muon groups) states √max(1, rows/cols); the option overrides it.
  const keller = (await analyze('muon', '10')).result.layers.find((l) => l.name === 'fc1.weight')!;
  const moon = (await analyze('muon', '10', { muonScaling: 'match_rms_adamw' })).result.layers.find((l) => l.name === 'fc1.weight')!;
  // fc1.weight is 32 × 16: √max(1, 32/16) = √2 against 0.2·√32.
  assertClose(moon.directionRms! / keller.directionRms!, (0.2 * Math.sqrt(32)) / Math.sqrt(2), 1e-12, 'ratio of the conventions');
  assertClose(keller.directionRms ?? null, exp.steps['10'].layers['fc1.weight'].direction_rms, REL, 'original');
  // Without use_muon (a bare Muon group) the convention is assumed and said.
  const bare = await analyze(
    'muon',
    '10',
    {},
    {
      groups: (gs) =>
        gs.map((g) => ({ ...g, options: Object.fromEntries(Object.entries(g.options ?? {}).filter(([k]) => k !== 'use_muon')) })),
    },
  );
  assert.ok(bare.result.issues.some((i) => /Muon’s shape scaling is not stated: √max\(1, rows\/cols\) .* assumed/.test(i.message)));
  // The AdamW groups of a Muon run are analyzed as AdamW.
  const bias = (await analyze('muon', '10')).result.layers.find((l) => l.name === 'fc1.bias')!;
  assert.equal(bias.optimizer, 'adamw');
  assertClose(bias.adamUpdateRms, exp.steps['10'].layers['fc1.bias'].adam_u_rms!, REL, 'aux AdamW u');
});

test('LAMB’s trust ratio makes lr a relative step: RMS(update)/RMS(w) = lr·RMS(u)·r/RMS(w) = lr for a layer whose ratio applies', async () => {
  const { result } = await analyze('lamb', '10');
  const fc1 = result.layers.find((l) => l.name === 'fc1.weight')! as LayerStats;
  // ‖r·u‖ = ‖w‖ exactly where the ratio applies, so the predicted relative step is lr (1e-2) itself.
  assertClose(fc1.relStepPredicted, 1e-2, 1e-12, 'relative step = lr');
  const bias = result.layers.find((l) => l.name === 'fc1.bias')!;
  assert.equal(bias.trustRatio, null, 'no decay and no always_adapt: no ratio');
});

test('RAdam: d is m̂ while the rectification term is undefined (t ≤ 5), rectified after', async () => {
  const exp = loadRun('radam');
  const early = (await analyze('radam', '2')).result.layers;
  const late = (await analyze('radam', '10')).result.layers;
  for (const l of early) assert.equal(l.epsDominatedFraction, null, `${l.name}: no √v in the un-rectified step`);
  for (const l of late) assert.notEqual(l.epsDominatedFraction, null, `${l.name}: rectified`);
  assert.equal((exp.steps['2'].layers['fc1.weight'] as unknown as { rectified: boolean }).rectified, false);
  assert.equal((exp.steps['10'].layers['fc1.weight'] as unknown as { rectified: boolean }).rectified, true);
});

// The same figures through the checkpoint reader: the state dict as each library saves it (torch.save of
// {'model', 'optimizer', 'step'}), beside the tensor dump holding the parameter before the step and the gradient.
for (const run of RUNS) {
  test(`${run}: the checkpoint the library saves, read and recognized, gives the same figures`, async () => {
    const exp = loadRun(run);
    for (const step of run === 'adamw8bit' ? ['1', '10'] : ['10']) {
      const file = `step_${step.padStart(6, '0')}`;
      // torch.optim.Adam with weight decay saves what AdamW saves: the flag says which (the assumption is tested below).
      const options: AnalyzeOptions = run === 'adam' ? { optimizer: 'adam', step: Number(step) } : { step: Number(step) };
      const { result } = await analyzePaths(
        [fixturePath(`optim_${run}`, 'ckpt', `${file}.pt`), fixturePath(`optim_${run}`, 'tensors', `${file}.npz`)],
        options,
      );
      assert.equal(result.optimizer.type, KIND[run], `${run}: recognized from state and group keys (${exp.optimizer_class})`);
      checkLayers(run, step, result);
    }
  });
}

test('what the state dict leaves ambiguous is said: Adam with weight decay vs AdamW, RAdam’s layout, bitsandbytes’ 2-state layout', async () => {
  const cases: [string, RegExp][] = [
    ['adam', /cannot tell torch\.optim\.Adam .* from AdamW .*: assumed AdamW/],
    ['radam', /read as torch\.optim\.RAdam/],
    ['adamw8bit', /bitsandbytes 2-state layout .* read as AdamW/],
  ];
  for (const [run, phrase] of cases) {
    const { result } = await analyzePaths([fixturePath(`optim_${run}`, 'ckpt', 'step_000010.pt')]);
    assert.ok(
      result.issues.some((i) => phrase.test(i.message)),
      `${run}: ${result.issues.map((i) => i.message).join(' | ')}`,
    );
  }
  // Where the layout is one optimizer's own, nothing is assumed.
  for (const run of [
    'nadam',
    'adamax',
    'adagrad',
    'rmsprop',
    'lion',
    'adafactor_hf',
    'adafactor_torch',
    'lamb',
    'lars',
    'muon',
    'muon_torch',
  ]) {
    const { result } = await analyzePaths([fixturePath(`optim_${run}`, 'ckpt', 'step_000010.pt')]);
    assert.equal(result.optimizer.type, KIND[run], run);
    assert.ok(!result.issues.some((i) => /assumed|read as/.test(i.message)), `${run}: ${result.issues.map((i) => i.message).join(' | ')}`);
  }
});

test('consecutive checkpoints measure the update: exactly at steps 1 → 2, as a mean per step over 2 → 10', async () => {
  const exp = loadRun('adamw');
  const { result, series } = await analyzePaths([fixturePath('optim_adamw', 'ckpt')]);
  const at = (step: number, layer: string) => {
    const s = series.find((x) => x.layer === layer)!;
    const i = s.steps.indexOf(step);
    return { relStep: s.figures.relStep[i], relStepPredicted: s.figures.relStepPredicted[i] };
  };
  for (const layer of ['fc1.weight', 'fc2.weight']) {
    // Step 2: the checkpoint of step 1 holds the parameter step 2 consumed — the exact measured update and the
    // prediction from step 2's state with it.
    const w2 = exp.steps['2'].layers[layer];
    assertClose(at(2, layer).relStep, w2.rel_step, 1e-12, `${layer} step 2 measured`);
    assertClose(at(2, layer).relStepPredicted, w2.pred_rel_step, REL, `${layer} step 2 predicted`);
  }
  // Step 10: 8 steps after the checkpoint of step 2, a mean per step, said so.
  const fc1 = result.layers.find((l) => l.name === 'fc1.weight')!;
  assert.equal(result.step, 10);
  assert.match(fc1.provenance!.relStep, /checkpoints at steps 2 and 10: the net change over 8 steps ÷ 8, a mean per step/);
  const p2 = await readNpz(fixturePath('optim_adamw', 'tensors', 'step_000002.npz'));
  const p10 = await readNpz(fixturePath('optim_adamw', 'tensors', 'step_000010.npz'));
  const ref = (d: RunData, role: string) => d.snapshots[0].tensors.find((t) => t.layer === 'fc1.weight' && t.role === role)!;
  const a = await readTensorValues(ref(p2, 'param_after'));
  const b = await readTensorValues(ref(p10, 'param_after'));
  let dd = 0;
  let aa = 0;
  for (let i = 0; i < a.length; i++) {
    dd += (b[i] - a[i]) ** 2;
    aa += a[i] ** 2;
  }
  assertClose(fc1.relStep, Math.sqrt(dd / aa) / 8, 1e-12, 'RMS(p10 − p2)/(8·RMS(p2))');
});
