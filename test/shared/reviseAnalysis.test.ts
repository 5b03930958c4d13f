// A whole-run pass of a followed log sent as what changed (src/shared/reviseAnalysis.ts): the revision of the
// state a view shows (a thinned first read with new records appended, as the host keeps it) applied to that
// state equals the pass's analysis in every part, on the fixture logs real torch wrote, and carries only the
// points the view lacks or whose figures changed. Joined with the appends before or after it (what postFlow.ts
// sends when they wait together), it gives the same state as applying each in turn.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzePaths } from '../../src/core/pipeline';
import type { RunAnalysis } from '../../src/core/analysis';
import { appendAnalysis } from '../../src/shared/appendAnalysis';
import { appendThenRevise, applyRevision, reviseThenAppend, revisionOf } from '../../src/shared/reviseAnalysis';
import { SERIES_FIGURES, type LayerSeries } from '../../src/shared/series';
import { fixturePath, float64Series } from '../support/fixtures';
import { logPieces, thinAnalysis } from '../support/logParts';

const dir = mkdtempSync(join(tmpdir(), 'ol-revise-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const points = (a: RunAnalysis) => a.series.reduce((n, s) => n + s.steps.length, 0);

function assertSameAnalysis(actual: RunAnalysis, expected: RunAnalysis): void {
  assert.deepEqual(float64Series(actual.series), float64Series(expected.series));
  assert.deepEqual({ ...actual, series: [] }, { ...expected, series: [] });
}

describe('revising the analysis a view shows after a whole-run pass', () => {
  for (const run of ['adam_base', 'sgd_momentum']) {
    it(`${run}: the revision of a thinned read with appends, applied to it, is the pass's analysis`, async () => {
      const [first, fresh] = await logPieces(dir, run, [60]);
      const whole = await analyzePaths([fixturePath(run, 'stats.jsonl')]);
      // what the view shows: the first read thinned (every third step dropped), the appended records in full
      const shown = appendAnalysis(
        thinAnalysis(first!, (i) => i % 3 !== 1),
        fresh!,
      );
      // the pass thins the whole run afresh: some steps the view lacks come back, some it has go
      const next = thinAnalysis(whole, (i) => i % 4 !== 2);
      const rev = revisionOf(shown, next);
      assert.ok(rev, 'a revision');
      assertSameAnalysis(applyRevision(shown, rev), next);
      // only the points the view lacks travel: the steps the pass keeps that the view had dropped
      const had = new Set(shown.result.steps);
      const lacking = next.series.reduce((n, s) => n + s.steps.filter((st) => !had.has(st)).length, 0);
      assert.ok(lacking > 0 && lacking < points(next) / 4, `${lacking} of ${points(next)} points lacking`);
      assert.equal(points(rev), lacking);
      assert.deepEqual(
        rev.series.map((s) => s.layer),
        next.series.map((s) => s.layer),
      );
    });
  }

  it('a point whose figures changed travels; a layer that lost a step the pass keeps cannot be revised', async () => {
    const [first] = await logPieces(dir, 'adam_base', [60]);
    const shown = first!;
    const changed: RunAnalysis = structuredClone(shown);
    const layer = changed.series[2]!;
    layer.figures.relStep = Float64Array.from(layer.figures.relStep);
    layer.figures.relStep[5] = layer.figures.relStep[5]! * 1.5;
    const rev = revisionOf(shown, changed)!;
    assert.deepEqual(
      rev.series.map((s) => s.steps.length),
      changed.series.map((_, i) => (i === 2 ? 1 : 0)),
    );
    assert.equal(rev.series[2]!.steps[0], layer.steps[5]);
    assertSameAnalysis(applyRevision(shown, rev), changed);
    // a figure absent before and present now (NaN → a number) is a change too
    const filled: RunAnalysis = structuredClone(shown);
    // (a column the engine shares between layers is copied before it is changed)
    const column = Float64Array.from(filled.series[0]!.figures.zeroSecondMomentFraction);
    filled.series[0]!.figures.zeroSecondMomentFraction = column;
    const absentAt = [...column.keys()].find((i) => Number.isNaN(column[i]));
    assert.notEqual(absentAt, undefined, 'the fixture leaves a figure absent');
    column[absentAt!] = 0;
    assert.equal(points(revisionOf(shown, filled)!), 1);

    const lost: RunAnalysis = structuredClone(shown);
    const s = lost.series[1]!;
    const keep = [...s.steps.keys()].filter((i) => i !== 3);
    lost.series[1] = {
      layer: s.layer,
      steps: Float64Array.from(keep, (i) => s.steps[i]!),
      figures: Object.fromEntries(
        SERIES_FIGURES.map((f) => [f, Float64Array.from(keep, (i) => s.figures[f][i]!)]),
      ) as LayerSeries['figures'],
    };
    assert.equal(revisionOf(shown, lost), null);
  });

  it('joined with the appends before or after it: the same state as applying each in turn', async () => {
    const [a, b, c, d] = await logPieces(dir, 'adam_base', [40, 60, 80]);
    const shown = thinAnalysis(a!, (i) => i % 2 === 0);
    const withB = appendAnalysis(shown, b!);
    // a whole-run pass over a..c, thinned its own way, revising the state with b appended
    const passed = thinAnalysis(appendAnalysis(appendAnalysis(a!, b!), c!), (i) => i % 3 !== 0);
    const rev = revisionOf(withB, passed)!;
    assert.ok(rev);
    // b waiting, then the revision: one revision from `shown`
    assertSameAnalysis(applyRevision(shown, appendThenRevise(b!, rev)), applyRevision(withB, rev));
    // the revision waiting, then d appended: one revision from `withB`
    assertSameAnalysis(applyRevision(withB, reviseThenAppend(rev, d!)), appendAnalysis(applyRevision(withB, rev), d!));
  });
});
