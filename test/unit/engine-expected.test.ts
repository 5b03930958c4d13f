import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzePaths } from '../../src/core/engine/analyze';
import type { AnalyzeOptions, LayerStats } from '../../src/core/types';
import { assertClose, fixturePath, loadExpected, type Expected, type ExpectedLayer } from './fixtures';

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

export function compareLayer(run: string, step: string, got: LayerStats, want: ExpectedLayer, figures: (keyof LayerStats)[], rel = REL): void {
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
];
const SGD_FIGURES: (keyof LayerStats)[] = ['paramRms', 'gradRms', 'updateRms', 'relStep', 'momentumBufferRms'];

for (const run of ['adam_base', 'adam_reparam_k8', 'adam_loss1e-10', 'adamw_wd0.05', 'sgd_momentum', 'sgd_reparam_k8']) {
  const exp = loadExpected(run);
  for (const step of Object.keys(exp.steps)) {
    test(`${run} step ${step}: every figure from tensors/step_${step.padStart(6, '0')}.npz`, async () => {
      const path = fixturePath(run, 'tensors', `step_${step.padStart(6, '0')}.npz`);
      const { result } = await analyzePaths([path], hyperOptions(exp));
      assert.equal(result.step, Number(step));
      const want = exp.steps[step];
      const layers = Object.keys(want).filter((k) => k !== 'global');
      assert.deepEqual(result.layers.map((l) => l.name).sort(), [...layers].sort());
      for (const l of result.layers) {
        compareLayer(run, step, l, want[l.name] as ExpectedLayer, exp.optimizer === 'SGD' ? SGD_FIGURES : ADAM_FIGURES);
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
    assert.ok(l.paramRms !== null && l.relStep !== null || l.paramRms === 0);
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
