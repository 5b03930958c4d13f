import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzePaths } from '../../../src/core/pipeline';
import { replayAdam } from '../../../src/core/engine/replay';
import { readNpz } from '../../../src/core/readers/npz';
import { readTensorValues } from '../../../src/core/io/tensorData';
import type { TensorRef } from '../../../src/core/run/types';
import { assertClose, fixturePath, loadExpected } from '../../support/fixtures';
import { writeNpyF32 } from '../../support/npyWriter';

// The product's premise, as properties of real runs: Adam's u does not see the gradient's scale
// (until √v̂ falls below ε), so the relative step depends on lr / parameter scale only.

const base = loadExpected('adam_base');
const ADAM = { betas: [0.9, 0.999] as [number, number], eps: 1e-8, optimizer: 'adam' as const };

async function gradRefs(run: string, steps: number[]): Promise<Map<string, TensorRef[]>> {
  const out = new Map<string, TensorRef[]>();
  for (const s of steps) {
    const d = await readNpz(fixturePath(run, 'tensors', `step_${String(s).padStart(6, '0')}.npz`));
    for (const t of d.snapshots[0].tensors.filter((x) => x.role === 'grad')) {
      if (!out.has(t.layer)) out.set(t.layer, []);
      out.get(t.layer)!.push(t);
    }
  }
  return out;
}

test('gradients × k leave u unchanged up to ε: exact when ε is rescaled too; tiny gradients (k = 1e-10) break it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-prop-'));
  try {
    const grads = await gradRefs('adam_base', [1, 2]);
    for (const [layer, refs] of grads) {
      const plain = await replayAdam(refs, { beta1: 0.9, beta2: 0.999, eps: 1e-8 });
      for (const k of [1000, 1 / 64, 1e-10]) {
        const scaled: TensorRef[] = [];
        for (let s = 0; s < refs.length; s++) {
          const v = await readTensorValues(refs[s]);
          scaled.push(
            writeNpyF32(
              join(dir, `${layer}-${s}-${k}.npy`),
              v.map((x) => x * k),
              refs[s].shape,
              layer,
              'grad',
            ),
          );
        }
        const r = await replayAdam(scaled, { beta1: 0.9, beta2: 0.999, eps: 1e-8 });
        const rescaledEps = await replayAdam(scaled, { beta1: 0.9, beta2: 0.999, eps: 1e-8 * k });
        for (let s = 0; s < 2; s++) {
          // ε × k as well: the same u up to float32 rounding of the scaled gradients.
          assertClose(rescaledEps[s].adamUpdateRms, plain[s].adamUpdateRms, 1e-6, `${layer} step ${s + 1} k=${k} with ε·k`);
          if (k === 1e-10) {
            // Every element is ε-dominated or never had a gradient (v = 0: unused embedding rows, pos_embed's last row).
            assert.equal(r[s].epsDominatedFraction + r[s].zeroSecondMomentFraction, 1, `${layer}: every element ε-dominated at k=1e-10`);
            assert.equal(
              r[s].zeroSecondMomentFraction,
              plain[s].zeroSecondMomentFraction,
              `${layer}: the same elements never had a gradient`,
            );
            assert.ok(r[s].adamUpdateRms < 1e-3 * plain[s].adamUpdateRms + 1e-12, `${layer}: u collapses at k=1e-10`);
          } else if (k > 1) {
            // ε's share of the denominator is ε/√v̂: at most ~1e-4 relative here (√v̂ ≳ 1e-4 where not 0).
            assertClose(r[s].adamUpdateRms, plain[s].adamUpdateRms, 2e-3, `${layer} step ${s + 1} k=${k}`);
          }
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('weights stored as 8·w with lr·8 and ε/8 give the same relative steps as adam_base (real runs)', async () => {
  for (const step of ['1', '2', '60', '120']) {
    const f = `step_${step.padStart(6, '0')}.npz`;
    const a = await analyzePaths([fixturePath('adam_base', 'tensors', f)], ADAM);
    const b = await analyzePaths([fixturePath('adam_reparam_k8', 'tensors', f)], { ...ADAM, eps: 1.25e-9 });
    for (const la of a.result.layers) {
      const lb = b.result.layers.find((l) => l.name === la.name)!;
      assertClose(lb.paramRms, la.paramRms === null ? null : la.paramRms * 8, 1e-12, `${la.name} scale ×8`);
      assertClose(lb.relStep, la.relStep, 1e-12, `${la.name} relStep step ${step}`);
      assertClose(lb.relStepPredicted, la.relStepPredicted, 1e-12, `${la.name} predicted step ${step}`);
      assertClose(lb.adamUpdateRms, la.adamUpdateRms, 1e-12, `${la.name} u step ${step}`);
    }
  }
});

test('the same lr on weights 8× larger gives 8× smaller relative steps', async () => {
  const f = 'step_000060.npz';
  const a = await analyzePaths([fixturePath('adam_base', 'tensors', f)], ADAM);
  // The reparameterized run's state, predicted with adam_base's lr (3e-4) instead of 8·3e-4.
  const b = await analyzePaths([fixturePath('adam_reparam_k8', 'tensors', f)], { ...ADAM, eps: 1.25e-9, lr: 3e-4 });
  let compared = 0;
  for (const la of a.result.layers) {
    if (la.relStepPredicted === null) continue;
    const lb = b.result.layers.find((l) => l.name === la.name)!;
    assertClose(lb.relStepPredicted, la.relStepPredicted / 8, 1e-12, `${la.name}`);
    compared++;
  }
  assert.equal(compared, 14);
});

test('tiny gradients (adam_loss1e-10) trip eps-dominated on every layer; adam_base trips none', async () => {
  for (const step of ['2', '120']) {
    const f = `step_${step.padStart(6, '0')}.npz`;
    const tiny = await analyzePaths([fixturePath('adam_loss1e-10', 'tensors', f)], ADAM);
    // One grouped finding listing every layer.
    const eps = tiny.result.findings.filter((x) => x.rule === 'eps-dominated');
    assert.equal(eps.length, 1);
    const flagged = [...(eps[0].layers ?? [])].sort();
    assert.deepEqual(
      flagged,
      Object.keys(base.steps[step])
        .filter((k) => k !== 'global')
        .sort(),
    );
    for (const x of tiny.result.findings.filter((x) => x.rule === 'eps-dominated')) {
      assert.equal(x.severity, 'warning');
      assert.equal((x.evidence as { epsDominatedFraction: number }).epsDominatedFraction, 1);
    }
    const ok = await analyzePaths([fixturePath('adam_base', 'tensors', f)], ADAM);
    assert.equal(ok.result.findings.filter((x) => x.rule === 'eps-dominated').length, 0);
  }
});

test('thresholds are options: relative-step-high and scale-spread follow them', async () => {
  const path = fixturePath('adam_base', 'tensors', 'step_000120.npz');
  const def = await analyzePaths([path], ADAM);
  const high = def.result.findings.filter((f) => f.rule === 'relative-step-high').flatMap((f) => f.layers ?? []);
  const expected = Object.entries(base.steps['120'])
    .filter(([k, v]) => k !== 'global' && (v as { rel_step: number }).rel_step > 1e-2)
    .map(([k]) => k);
  assert.deepEqual(high.sort(), expected.sort());
  assert.ok(expected.length > 0);
  const strict = await analyzePaths([path], { ...ADAM, thresholds: { relativeStepHigh: 1, scaleSpread: 1e6 } });
  assert.equal(strict.result.findings.filter((f) => f.rule === 'relative-step-high' || f.rule === 'scale-spread').length, 0);
  assert.ok(def.result.findings.some((f) => f.rule === 'scale-spread'));
});

test('an SGD run is recognized from its state when no input names the optimizer, and no finding speaks of Adam', async () => {
  for (const input of [fixturePath('sgd_momentum', 'tensors', 'step_000120.npz'), fixturePath('sgd_momentum', 'stats.jsonl')]) {
    const a = await analyzePaths([input]);
    assert.equal(a.result.optimizer.type, 'sgd', input);
    assert.match(a.result.optimizer.typeAssumedFrom ?? '', /momentum buffer|momentum_buffer/);
    for (const f of a.result.findings) assert.doesNotMatch(f.message, /\bAdam\b/, `${input}: ${f.rule}`);
  }
  const adam = await analyzePaths([fixturePath('adam_base', 'tensors', 'step_000120.npz')]);
  assert.equal(adam.result.optimizer.type, null, 'Adam state alone does not say Adam or AdamW: not assumed');
});
