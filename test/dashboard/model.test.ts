// The dashboard model's per-step columns (webview/dashboard/model.ts), which the per-kind bands, outliers and
// the heatmap over steps read: checked against the plain lookup (a map from step to index, one copy per layer)
// on the 291-tensor run as the webview receives it (packed and unpacked, src/shared/packing.ts), after a live
// append (every layer's own step array), and on series that lack steps, have them out of order or repeat one.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunAnalysis } from '../../src/core/analysis';
import { DEFAULT_THRESHOLDS } from '../../src/core/rules/types';
import { appendAnalysis } from '../../src/shared/appendAnalysis';
import { packSeries, unpackSeries } from '../../src/shared/packing';
import { SERIES_FIGURES, type LayerSeries, type SeriesFigure } from '../../src/shared/series';
import { DashboardModel } from '../../webview/dashboard/model';
import { llamaRunAnalysis } from '../support/llamaRun';
import { stepsAfter } from '../webview/inPage';

const settings = { thresholds: { ...DEFAULT_THRESHOLDS }, targetRelativeStep: 1e-3, defaultEps: 1e-8 };

/** The column as the model computed it before: each series point placed at its step's index (the last one wins). */
function plainColumn(a: RunAnalysis, layer: string, figure: SeriesFigure): number[] {
  const index = new Map(a.result.steps.map((s, i) => [s, i]));
  const out = new Array<number>(a.result.steps.length).fill(NaN);
  const s = a.series.find((x) => x.layer === layer);
  if (!s) return out;
  for (let j = 0; j < s.steps.length; j++) {
    const i = index.get(s.steps[j]!);
    if (i !== undefined) out[i] = s.figures[figure][j]!;
  }
  return out;
}

/** Tensors outside their kind's band most of the run by more than 2× (the median log ratio), as plainly written. */
function plainOutliers(m: DashboardModel, a: RunAnalysis, figure: SeriesFigure): string[] {
  const bands = m.kindQuantiles(figure);
  const scored: { layer: string; score: number }[] = [];
  for (const kind of m.kinds) {
    if (kind.layers.length < 3) continue;
    const q = bands.get(kind.key)!;
    for (const layer of kind.layers) {
      const c = plainColumn(a, layer, figure);
      const ratios: number[] = [];
      let outside = 0;
      c.forEach((v, i) => {
        const med = q.median[i];
        if (!(v > 0) || med === null) return;
        ratios.push(Math.abs(Math.log10(v / med)));
        if (v < q.p10[i]! || v > q.p90[i]!) outside++;
      });
      if (!ratios.length || outside < ratios.length / 2) continue;
      const score = ratios.sort((x, y) => x - y)[ratios.length >> 1];
      if (score > Math.log10(2)) scored.push({ layer, score });
    }
  }
  return scored.sort((x, y) => y.score - x.score).map((s) => s.layer);
}

function checkColumns(a: RunAnalysis, layers: string[]): DashboardModel {
  const m = new DashboardModel(a, settings);
  for (const layer of layers)
    for (const figure of SERIES_FIGURES)
      assert.deepEqual([...m.column(layer, figure)], plainColumn(a, layer, figure), `${layer} ${figure}`);
  return m;
}

const unpacked = (a: RunAnalysis): RunAnalysis => ({ ...a, series: unpackSeries(packSeries(a.series)) });

describe('dashboard model columns', () => {
  const run = unpacked(llamaRunAnalysis({ steps: 300 }));
  const names = run.series.map((s) => s.layer);

  it('a layer logged at every step gives its own column; the columns equal the plain lookup', () => {
    const m = checkColumns(run, names);
    const s = run.series[5];
    assert.equal(s.steps.length, run.result.steps.length);
    assert.equal(m.column(s.layer, 'relStep'), s.figures.relStep, 'no copy');
    assert.equal(m.valueAt(s.layer, 'paramRms', run.result.steps[17]!), s.figures.paramRms[17]);
  });

  it('after a live append (each layer its own step array) the columns still equal the plain lookup', () => {
    // the new steps' records as the follower analyzes them alone (the synthetic run's values at steps 301–302)
    const grown = llamaRunAnalysis({ steps: 302 });
    const next = appendAnalysis(run, unpacked(stepsAfter(grown, 3000)));
    assert.equal(next.result.steps.length, 302);
    checkColumns(next, names);
    const m = new DashboardModel(next, settings);
    for (const figure of ['relStep', 'paramRms'] as const) {
      const outliers = m.outliers(figure, 300);
      assert.deepEqual(outliers, plainOutliers(m, next, figure));
      if (figure === 'relStep') assert.ok(outliers.length > 0, 'the run has stray tensors');
    }
  });

  it('series with missing, unordered or repeated steps, and a layer without a series, are placed by step', () => {
    const pick = (s: LayerSeries, idx: number[]): LayerSeries => {
      const figures = { ...s.figures };
      for (const f of SERIES_FIGURES) figures[f] = Float64Array.from(idx, (i) => s.figures[f][i]!);
      return { layer: s.layer, steps: Float64Array.from(idx, (i) => s.steps[i]!), figures };
    };
    const n = run.result.steps.length;
    const all = [...Array(n).keys()];
    const series = run.series.slice(0, 4).map(
      (s, k) =>
        k === 0
          ? pick(
              s,
              all.filter((i) => i % 3 !== 1),
            ) // every third step missing
          : k === 1
            ? pick(s, [...all].reverse()) // descending
            : k === 2
              ? pick(s, [0, 0, ...all.slice(1)]) // the first step twice
              : pick(s, all.slice(10, 20)), // a short stretch
    );
    const a: RunAnalysis = { ...run, series };
    const m = checkColumns(a, [...series.map((s) => s.layer), 'not.in.the.series']);
    assert.ok(Number.isNaN(m.column(series[0].layer, 'relStep')[1]));
    assert.equal(m.column(series[1].layer, 'relStep')[0], run.series[1].figures.relStep[0]);
  });
});
