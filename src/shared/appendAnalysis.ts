// Appending the analysis of a followed log's new records to the analysis on screen. A logged step's figures
// come from that step's own records (the engine's logged-scalar phase), so the appended steps carry exactly
// the figures a whole-run analysis gives them (test/shared/appendAnalysis.test.ts checks that on the fixture
// logs); what spans the run — the findings — stands until a whole-run pass. One home for the host (the
// analysis process and its client keep their answers this way) and the webview (an AppendSteps message
// carries only the new records' analysis, and the view appends it to what it shows).

import type { RunAnalysis, RunSummary } from '../core/analysis';
import { absentColumn, concatColumns, type LayerSeries } from './series';

/**
 * Whether `fresh` (the analysis of appended records alone) extends `prev`: only steps after prev's last, a
 * report step, every layer of prev's table at that step, and no tensor-derived parts (distributions, which
 * need the run's tensors).
 */
export function extendsAnalysis(prev: RunAnalysis, fresh: RunAnalysis): boolean {
  const prevSteps = prev.result.steps;
  const freshSteps = fresh.result.steps;
  if (!freshSteps.length || fresh.result.step === null || fresh.distributions.length) return false;
  if (prevSteps.length && freshSteps[0] <= prevSteps[prevSteps.length - 1]) return false;
  const layers = new Set(fresh.result.layers.map((l) => l.name));
  return prev.result.layers.every((l) => layers.has(l.name));
}

/** `prev` with `fresh`'s steps appended (extendsAnalysis must hold); prev's findings stand until a whole-run pass. */
export function appendAnalysis(prev: RunAnalysis, fresh: RunAnalysis): RunAnalysis {
  return {
    result: {
      ...prev.result,
      optimizer: fresh.result.optimizer,
      step: fresh.result.step,
      steps: prev.result.steps.concat(fresh.result.steps),
      layers: fresh.result.layers,
      issues: prev.result.issues.concat(fresh.result.issues),
    },
    summary: appendSummary(prev.summary, fresh.summary),
    series: appendSeries(prev.series, fresh.series),
    globals: prev.globals.concat(fresh.globals),
    distributions: prev.distributions,
    thresholds: prev.thresholds,
  };
}

/** Each layer's series with `fresh`'s points after its own (a layer new in `fresh` comes last). */
export function appendSeries(prev: LayerSeries[], fresh: LayerSeries[]): LayerSeries[] {
  const byLayer = new Map(fresh.map((s) => [s.layer, s]));
  const series: LayerSeries[] = prev.map((s) => {
    const f = byLayer.get(s.layer);
    if (!f) return s;
    byLayer.delete(s.layer);
    const figures = { ...s.figures };
    for (const k of Object.keys(figures) as (keyof LayerSeries['figures'])[])
      figures[k] = concatColumns(s.figures[k], f.figures[k] ?? absentColumn(f.steps.length));
    return { layer: s.layer, steps: concatColumns(s.steps, f.steps), figures };
  });
  series.push(...byLayer.values());
  return series;
}

function appendSummary(prev: RunSummary | undefined, fresh: RunSummary | undefined): RunSummary | undefined {
  if (!prev || !fresh) return fresh ?? prev;
  const steps =
    prev.steps && fresh.steps
      ? { first: prev.steps.first, last: fresh.steps.last, count: prev.steps.count + fresh.steps.count }
      : (fresh.steps ?? prev.steps);
  const a = prev.lrSchedule;
  const b = fresh.lrSchedule;
  const lrSchedule =
    a && b
      ? {
          peak: b.peak > a.peak ? b.peak : a.peak,
          peakStep: b.peak > a.peak ? b.peakStep : a.peakStep,
          first: a.first,
          firstStep: a.firstStep,
          last: b.last,
          lastStep: b.lastStep,
          points: a.points + b.points,
        }
      : (b ?? a);
  return { steps, lrSchedule, lastFullStep: fresh.lastFullStep ?? prev.lastFullStep };
}
