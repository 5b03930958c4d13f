import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzePaths } from '../../../src/core/pipeline';
import type { AnalyzeOptions } from '../../../src/core/analysis';
import type { LayerStats } from '../../../src/core/engine/types';
import { readNpz } from '../../../src/core/readers/npz';
import { readTensorValues } from '../../../src/core/io/tensorData';
import { assertClose, fixturePath, loadExpected, type Expected, type ExpectedLayer } from '../../support/fixtures';

// Every per-layer figure of expected.json (PyTorch ground truth), reproduced by the engine from the
// fixture's float32 tensor snapshots. Statistics are float64 over float32 values, as the ground truth's.

const REL = 1e-9;

function hyperOptions(exp: Expected): AnalyzeOptions {
  const h = exp.hyper;
  if (h.beta1 === undefined) return { optimizer: 'sgd' };
  return {
    betas: [h.beta1, h.beta2!],
    eps: h.eps!,
    optimizer: exp.optimizer === 'AdamW' ? 'adamw' : 'adam',
  };
}

/**
 * Per layer, the share of elements whose exp_avg_sq is exactly 0 in a fixture's npz (elements that never received a
 * gradient). expected.json's eps_dominated_frac counts them as √v̂ < ε; the engine reports them apart
 * (zeroSecondMomentFraction) and leaves them out of epsDominatedFraction.
 */
export async function zeroSecondMoment(run: string, step: string): Promise<Map<string, number>> {
  const data = await readNpz(fixturePath(run, 'tensors', `step_${step.padStart(6, '0')}.npz`));
  const out = new Map<string, number>();
  for (const t of data.snapshots[0].tensors) {
    if (t.role !== 'exp_avg_sq') continue;
    const v = await readTensorValues(t);
    out.set(t.layer, v.filter((x) => x === 0).length / v.length);
  }
  return out;
}

/** expected.json's row with eps_dominated_frac split into the two shares the engine reports. */
export function withZeroSplit(want: ExpectedLayer, zero: number | undefined): ExpectedLayer & { zero_v_frac: number | null } {
  if (want.eps_dominated_frac === null || want.eps_dominated_frac === undefined || zero === undefined)
    return { ...want, zero_v_frac: null };
  return { ...want, eps_dominated_frac: want.eps_dominated_frac - zero, zero_v_frac: zero };
}

export function compareLayer(
  run: string,
  step: string,
  got: LayerStats,
  want: ExpectedLayer & { zero_v_frac?: number | null },
  figures: (keyof LayerStats)[],
  rel = REL,
): void {
  const map: Partial<Record<keyof LayerStats, keyof ExpectedLayer>> = {
    paramRms: 'param_rms',
    gradRms: 'grad_rms',
    updateRms: 'update_rms',
    relStep: 'rel_step',
    adamUpdateRms: 'adam_u_rms',
    relStepPredicted: 'pred_rel_step',
    epsDominatedFraction: 'eps_dominated_frac',
    sqrtVHatRms: 'sqrt_v_hat_rms',
    decayRms: 'decay_rms',
    momentumBufferRms: 'momentum_buffer_rms',
    zeroSecondMomentFraction: 'zero_v_frac' as keyof ExpectedLayer,
    directionRms: 'adam_u_rms',
  };
  for (const f of figures) {
    const key = map[f]!;
    assertClose(got[f] as number | null, want[key] as number | null, rel, `${run} step ${step} ${got.name} ${f}`);
  }
}

const ADAM_FIGURES: (keyof LayerStats)[] = [
  'paramRms',
  'gradRms',
  'updateRms',
  'relStep',
  'adamUpdateRms',
  'relStepPredicted',
  'epsDominatedFraction',
  'sqrtVHatRms',
  'decayRms',
  'zeroSecondMomentFraction',
  'directionRms',
];
const SGD_FIGURES: (keyof LayerStats)[] = ['paramRms', 'gradRms', 'updateRms', 'relStep', 'momentumBufferRms'];

for (const run of ['adam_base', 'adam_reparam_k8', 'adam_loss1e-10', 'adamw_wd0.05', 'sgd_momentum', 'sgd_reparam_k8']) {
  const exp = loadExpected(run);
  for (const step of Object.keys(exp.steps)) {
    test(`${run} step ${step}: every figure from tensors/step_${step.padStart(6, '0')}.npz`, async () => {
      const path = fixturePath(run, 'tensors', `step_${step.padStart(6, '0')}.npz`);
      // AdamW's weight decay differs per parameter group: the npz does not say, the checkpoint's param_groups do.
      const paths = exp.optimizer === 'AdamW' ? [path, fixturePath(run, 'ckpt')] : [path];
      const { result } = await analyzePaths(paths, { ...hyperOptions(exp), step: Number(step) });
      assert.equal(result.step, Number(step));
      const want = exp.steps[step];
      const layers = Object.keys(want).filter((k) => k !== 'global');
      assert.deepEqual(result.layers.map((l) => l.name).sort(), [...layers].sort());
      const zero = exp.optimizer === 'SGD' ? new Map<string, number>() : await zeroSecondMoment(run, step);
      for (const l of result.layers) {
        compareLayer(
          run,
          step,
          l,
          withZeroSplit(want[l.name] as ExpectedLayer, zero.get(l.name)),
          exp.optimizer === 'SGD' ? SGD_FIGURES : ADAM_FIGURES,
        );
        if (exp.optimizer === 'SGD') {
          assert.equal(l.adamUpdateRms, null, 'SGD has no Adam update');
          assert.equal(l.epsDominatedFraction, null);
        }
      }
    });
  }
}

test('Adam figures stay null without betas/eps (never a default)', async () => {
  const { result } = await analyzePaths([fixturePath('adam_base', 'tensors', 'step_000060.npz')]);
  for (const l of result.layers) {
    assert.equal(l.adamUpdateRms, null);
    assert.equal(l.relStepPredicted, null);
    assert.ok((l.paramRms !== null && l.relStep !== null) || l.paramRms === 0);
  }
});

test('--step selects a step; a step without figures is an error naming the available ones', async () => {
  const exp = loadExpected('adam_base');
  const paths = [fixturePath('adam_base', 'tensors', 'step_000001.npz'), fixturePath('adam_base', 'tensors', 'step_000002.npz')];
  const a = await analyzePaths(paths, { ...hyperOptions(exp), step: 1 });
  assert.equal(a.result.step, 1);
  assert.deepEqual(a.result.steps, [1, 2]);
  await assert.rejects(analyzePaths(paths, { ...hyperOptions(exp), step: 7 }), /step 7 has no figures; steps with figures: 1, 2/);
});

// The same figures from the other formats that hold them.
const FORMATS: {
  name: string;
  run: string;
  paths: string[];
  steps: string[];
  figures: (keyof LayerStats)[];
  rel: number;
  options?: AnalyzeOptions;
  /** Figures from tensors: elements with exp_avg_sq = 0 are reported apart from the ε-dominated ones. */
  zeroSplit?: boolean;
}[] = [
  {
    name: 'safetensors',
    run: 'adam_base',
    paths: ['tensors/step_000001.safetensors'],
    steps: ['1'],
    figures: ADAM_FIGURES,
    rel: REL,
    options: { betas: [0.9, 0.999], eps: 1e-8, lr: 3e-4, optimizer: 'adam' },
    zeroSplit: true,
  },
  {
    name: 'safetensors',
    run: 'adam_base',
    paths: ['tensors/step_000120.safetensors'],
    steps: ['120'],
    figures: ADAM_FIGURES,
    rel: REL,
    options: { betas: [0.9, 0.999], eps: 1e-8, lr: 3e-4, optimizer: 'adam' },
    zeroSplit: true,
  },
  {
    name: 'stats.jsonl (long-form log)',
    run: 'adam_base',
    paths: ['stats.jsonl'],
    steps: ['1', '2', '60', '120'],
    figures: ['paramRms', 'gradRms', 'updateRms', 'relStep', 'adamUpdateRms', 'relStepPredicted', 'epsDominatedFraction'],
    rel: 1e-12,
  },
  {
    name: 'stats.jsonl (long-form log)',
    run: 'adamw_wd0.05',
    paths: ['stats.jsonl'],
    steps: ['1', '2', '60', '120'],
    figures: ['paramRms', 'gradRms', 'updateRms', 'relStep', 'adamUpdateRms', 'relStepPredicted', 'epsDominatedFraction'],
    rel: 1e-12,
  },
  {
    name: 'history_wide.csv (W&B export)',
    run: 'adam_base',
    paths: ['history_wide.csv'],
    steps: ['1', '2', '60', '120'],
    figures: ['paramRms', 'gradRms', 'updateRms', 'relStep', 'adamUpdateRms'],
    rel: 1e-12,
  },
  {
    name: 'TensorBoard scalars (float32)',
    run: 'adam_base',
    paths: ['tb'],
    steps: ['1', '2', '60', '120'],
    figures: ['paramRms', 'gradRms', 'updateRms', 'relStep', 'adamUpdateRms'],
    rel: 1e-6,
  },
  {
    name: 'TensorBoard scalars (float32)',
    run: 'adam_loss1e-10',
    paths: ['tb'],
    steps: ['1', '60', '120'],
    figures: ['paramRms', 'gradRms', 'updateRms', 'relStep', 'adamUpdateRms'],
    rel: 1e-6,
  },
  {
    name: 'dump (deflated npz, <layer> and <layer>.grad; consecutive steps give the update; Adam replayed from the gradients in float64, torch keeps float32 state)',
    run: 'adam_base',
    paths: ['dump/step_000001.npz', 'dump/step_000002.npz', 'dump/step_000003.npz'],
    steps: ['1', '2'],
    figures: ['paramRms', 'gradRms', 'updateRms', 'relStep', 'adamUpdateRms', 'epsDominatedFraction'],
    rel: 1e-6,
    options: { betas: [0.9, 0.999], eps: 1e-8 },
    zeroSplit: true,
  },
];

for (const f of FORMATS) {
  test(`${f.run}: figures from ${f.name} (${f.paths.join(', ')})`, async () => {
    const exp = loadExpected(f.run);
    for (const step of f.steps) {
      const { result } = await analyzePaths(
        f.paths.map((p) => fixturePath(f.run, ...p.split('/'))),
        { ...(f.options ?? {}), step: Number(step) },
      );
      const want = exp.steps[step];
      const names = Object.keys(want).filter((k) => k !== 'global');
      assert.deepEqual(result.layers.map((l) => l.name).sort(), [...names].sort(), `layers at step ${step}`);
      const zero = f.zeroSplit ? await zeroSecondMoment(f.run, step) : new Map<string, number>();
      for (const l of result.layers)
        compareLayer(f.run, step, l, withZeroSplit(want[l.name] as ExpectedLayer, zero.get(l.name)), f.figures, f.rel);
    }
  });
}

test('PyTorch checkpoints (model + optimizer state after step 120): saved scale, u, ε-dominance and hyper-parameters', async () => {
  for (const [run, paths] of [
    ['adam_base', ['ckpt/model_step000120.pt', 'ckpt/optim_step000120.pt']],
    ['adam_base', ['ckpt/checkpoint_step000120.pt']],
    ['adam_reparam_k8', ['lightning_logs/version_0/checkpoints/epoch=1-step=120.ckpt']],
    ['adamw_wd0.05', ['ckpt']],
    ['adamw_wd0.05', ['checkpoint-120']],
    ['adam_loss1e-10', ['ckpt']],
  ] as const) {
    const exp = loadExpected(run);
    const { result } = await analyzePaths(paths.map((p) => fixturePath(run, ...p.split('/'))));
    assert.equal(result.step, 120, `${run} ${paths}`);
    assert.equal(result.optimizer.source, 'checkpoint');
    assert.equal(result.optimizer.lr, exp.hyper.lr);
    assert.equal(result.optimizer.eps, exp.hyper.eps);
    assert.deepEqual(result.optimizer.betas, [exp.hyper.beta1, exp.hyper.beta2]);
    assert.equal(result.layers.length, 14);
    const zero = await zeroSecondMoment(run, '120');
    for (const l of result.layers) {
      const want = withZeroSplit(exp.steps['120'][l.name] as ExpectedLayer, zero.get(l.name));
      assertClose(l.zeroSecondMomentFraction ?? null, want.zero_v_frac, REL, `${run} ${l.name} zero second moment`);
      assertClose(l.directionRms ?? null, want.adam_u_rms!, REL, `${run} ${l.name} directionRms = RMS(u)`);
      // A checkpoint saved after step t holds the parameter step t left: its RMS is param_rms_after.
      assertClose(l.paramRms, want.param_rms_after, REL, `${run} ${l.name} paramRms (saved)`);
      assertClose(l.adamUpdateRms, want.adam_u_rms!, REL, `${run} ${l.name} adamUpdateRms`);
      assertClose(l.epsDominatedFraction, want.eps_dominated_frac!, REL, `${run} ${l.name} eps`);
      assertClose(l.sqrtVHatRms ?? null, want.sqrt_v_hat_rms!, REL, `${run} ${l.name} sqrt v hat`);
      assert.equal(l.gradRms, null, 'a checkpoint holds no gradient');
      assert.equal(l.relStep, null, 'one checkpoint cannot measure an update');
      assert.equal(l.provenance?.paramRms, 'tensors (saved after the step)');
    }
  }
});
