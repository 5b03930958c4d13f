// Thinning long runs for the dashboard (src/extension/decimate.ts), on the real adam_base analysis.

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { analyzePaths } from '../../src/core/pipeline';
import type { RunAnalysis } from '../../src/core/analysis';
import { decimateAnalysis, decimateGlobals } from '../../src/extension/decimate';
import { fixturePath } from '../support/fixtures';

let full: RunAnalysis;
before(async () => {
  full = await analyzePaths([fixturePath('adam_base', 'stats.jsonl')]);
});

describe('dashboard decimation', () => {
  it('leaves a run within the budget untouched', () => {
    const d = decimateAnalysis(full, 2000);
    assert.equal(d.analysis, full);
    assert.equal(d.totalSteps, 120);
    assert.equal(d.keptSteps, 120);
  });

  it('keeps real steps with their exact figures: first, last, report step, finding steps, and per-bucket extremes', () => {
    const d = decimateAnalysis(full, 30);
    assert.equal(d.totalSteps, 120);
    assert.ok(d.keptSteps <= 30 + 2 + full.result.findings.length, `kept ${d.keptSteps}`);
    assert.ok(d.keptSteps < 120);
    const kept = d.analysis.result.steps;
    assert.deepEqual(
      kept,
      [...kept].sort((a, b) => a - b),
    );
    assert.ok(kept.includes(1) && kept.includes(120));
    for (const f of full.result.findings) if (f.step !== null) assert.ok(kept.includes(f.step), `finding step ${f.step} kept`);
    // The global maximum of the relative step over all layers and steps survives (a spike is not averaged away).
    let best = { v: -Infinity, step: -1 };
    for (const s of full.series) s.figures.relStep.forEach((v, i) => v !== null && v > best.v && (best = { v, step: s.steps[i] }));
    assert.ok(kept.includes(best.step), `step ${best.step} of the largest relative step kept`);
    // Every kept value equals the original at that step, figure by figure.
    for (const s of d.analysis.series) {
      const orig = full.series.find((o) => o.layer === s.layer)!;
      s.steps.forEach((step, j) => {
        const i = orig.steps.indexOf(step);
        for (const f of ['paramRms', 'relStep', 'adamUpdateRms'] as const)
          assert.equal(s.figures[f][j], orig.figures[f][i], `${s.layer} ${f} @${step}`);
      });
    }
    // The report's layers (the CLI contract) are untouched.
    assert.deepEqual(d.analysis.result.layers, full.result.layers);
    // Run-level scalars are not tied to the kept per-layer steps: a short log of them stays whole.
    assert.deepEqual(d.analysis.globals, full.globals);
  });

  it("fills its budget: where a bucket's first step and extremes coincide, more buckets", () => {
    for (const budget of [40, 80, 100]) {
      const d = decimateAnalysis(full, budget);
      const musts = 2 + full.result.findings.length;
      assert.ok(d.keptSteps >= 0.9 * budget && d.keptSteps <= budget + musts, `budget ${budget}: kept ${d.keptSteps} of 120`);
    }
  });

  it('a float32 column stays float32 with the figures of the kept steps; layers that share a step axis share the thinned one', () => {
    // As the engine gives logged float32 figures (runFigures.ts) and one axis for layers logged at the same steps.
    const axis = full.series[0].steps;
    const series = full.series.map((s, k) => ({
      layer: s.layer,
      steps: k % 2 === 0 && s.steps.length === axis.length ? axis : s.steps,
      figures: Object.fromEntries(
        Object.entries(s.figures).map(([f, c]) => [f, f === 'paramRms' ? Float32Array.from(c) : c]),
      ) as typeof s.figures,
    }));
    const d = decimateAnalysis({ ...full, series }, 30);
    const kept = d.analysis.result.steps;
    d.analysis.series.forEach((t, k) => {
      const s = series[k];
      assert.ok(t.figures.paramRms instanceof Float32Array, 'float32 stays float32');
      assert.ok(t.figures.relStep instanceof Float64Array);
      const at = Array.from(t.steps, (st) => s.steps.indexOf(st));
      assert.deepEqual(
        Array.from(t.steps),
        Array.from(s.steps).filter((st) => kept.includes(st)),
      );
      assert.deepEqual(
        Array.from(t.figures.paramRms),
        at.map((j) => s.figures.paramRms[j]),
      );
      assert.deepEqual(
        Array.from(t.figures.relStep),
        at.map((j) => s.figures.relStep[j]),
      );
    });
    const shared = d.analysis.series.filter((_, k) => series[k].steps === axis);
    assert.ok(shared.length > 2);
    assert.ok(
      shared.every((t) => t.steps === shared[0].steps),
      'one thinned axis',
    );
  });

  it('keeps the last step with full figures (the default report step) even when the report step is another', () => {
    const asked = { ...full, result: { ...full.result, step: 7 }, summary: { ...full.summary!, lastFullStep: 93 } };
    const kept = decimateAnalysis(asked, 30).analysis.result.steps;
    assert.ok(kept.includes(7) && kept.includes(93), kept.join(','));
  });

  it('thins run-level scalars per key on their own: first, last, spikes and dips kept, each record whole', () => {
    const globals = Array.from({ length: 50_000 }, (_, i) => ({
      step: i + 1,
      values: { loss: 2 + Math.sin(i / 500), lr: 3e-4 * (1 - i / 50_000) },
    }));
    globals[31_337].values.loss = 40; // a loss spike
    globals[12_000].values.loss = 0.1; // a dip
    const thin = decimateGlobals(globals, 4000);
    assert.ok(thin.length <= 4000 + 2 && thin.length > 1000, `${thin.length} records`);
    assert.equal(thin[0], globals[0]);
    assert.equal(thin[thin.length - 1], globals[globals.length - 1]);
    assert.ok(thin.includes(globals[31_337]) && thin.includes(globals[12_000]));
    assert.deepEqual(
      thin.map((g) => g.step),
      [...thin.map((g) => g.step)].sort((a, b) => a - b),
    );
    assert.equal(decimateGlobals(globals.slice(0, 100), 4000).length, 100);
  });
});
