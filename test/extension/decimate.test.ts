// Thinning long runs for the dashboard (src/extension/decimate.ts), on the real adam_base analysis.

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { analyzePaths } from '../../src/core/pipeline';
import type { RunAnalysis } from '../../src/core/analysis';
import { decimateAnalysis } from '../../src/extension/decimate';
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
    assert.ok(d.analysis.globals.every((g) => kept.includes(g.step)));
  });
});
