// Thinning a long run for the dashboard (DESIGN.md: decimate in the host, send a few points per
// pixel). Keeps real steps — never averages — so every number the dashboard shows at a kept step is
// the exact figure of that step: per bucket of consecutive steps the first step, and the steps where
// the largest and the smallest relative step over all layers occur (spikes and dips survive), plus
// the report step, the last step with full figures and every step a finding points at. Run-level scalars
// (loss, grad norm, lr) are thinned on their own the same way, per key. The CLI and the exported JSON keep
// everything.

import type { LayerSeries, SeriesColumn, SeriesFigure } from '../shared/series';
import type { RunAnalysis } from '../core/analysis';
import type { GlobalObservation } from '../core/run/types';
import { absentColumn, SERIES_FIGURES } from '../shared/series';

export const DEFAULT_MAX_DASHBOARD_STEPS = 2000;
/**
 * Layers × steps sent at most: 600k points are 38 MB of packed float64 series, so a Llama-7B-shaped run
 * (291 tensors) arrives with all of its 2,000 dashboard steps; larger models get fewer steps.
 */
export const MAX_SERIES_POINTS = 600_000;
const MIN_STEPS = 200;
/** Run-level scalar records sent at most (a log of loss every step over 50k steps is thinned). */
export const MAX_GLOBAL_POINTS = 4000;

export interface Decimation {
  analysis: RunAnalysis;
  totalSteps: number;
  keptSteps: number;
}

export function decimateAnalysis(analysis: RunAnalysis, maxSteps = DEFAULT_MAX_DASHBOARD_STEPS): Decimation {
  const steps = analysis.result.steps;
  const totalSteps = steps.length;
  const layers = Math.max(1, analysis.series.length);
  maxSteps = Math.min(maxSteps, Math.max(MIN_STEPS, Math.floor(MAX_SERIES_POINTS / layers)));
  const globals = decimateGlobals(analysis.globals, MAX_GLOBAL_POINTS);
  if (totalSteps <= maxSteps) {
    return { analysis: globals === analysis.globals ? analysis : { ...analysis, globals }, totalSteps, keptSteps: totalSteps };
  }

  const index = new Map(steps.map((s, i) => [s, i]));
  const rel = analysis.series.map((s) => ({ idx: Int32Array.from(s.steps, (st) => index.get(st) ?? -1), values: s.figures.relStep }));
  // Over all layers: the largest and smallest relative step at each global step index.
  const hi = new Float64Array(totalSteps).fill(-Infinity);
  const lo = new Float64Array(totalSteps).fill(Infinity);
  for (const { idx, values } of rel) {
    for (let j = 0; j < idx.length; j++) {
      const v = values[j];
      const i = idx[j];
      if (i < 0 || v === undefined || !Number.isFinite(v)) continue;
      if (v > hi[i]) hi[i] = v;
      if (v < lo[i]) lo[i] = v;
    }
  }
  /** Per bucket of consecutive steps: its first step and those of the largest and smallest relative step. */
  const pick = (buckets: number): Set<number> => {
    const keep = new Set<number>();
    const size = totalSteps / buckets;
    for (let b = 0; b < buckets; b++) {
      const start = Math.floor(b * size);
      const end = Math.min(totalSteps, Math.floor((b + 1) * size));
      if (start >= end) continue;
      keep.add(start);
      let iHi = -1;
      let iLo = -1;
      for (let i = start; i < end; i++) {
        if (hi[i] !== -Infinity && (iHi < 0 || hi[i] > hi[iHi])) iHi = i;
        if (lo[i] !== Infinity && (iLo < 0 || lo[i] < lo[iLo])) iLo = i;
      }
      if (iHi >= 0) keep.add(iHi);
      if (iLo >= 0) keep.add(iLo);
    }
    return keep;
  };
  let buckets = Math.max(1, Math.floor(maxSteps / 3));
  let keep = pick(buckets);
  // The three picks of a bucket often coincide (a 291-tensor log of 2,035 steps kept 1,411 of a 2,000-step
  // budget): more buckets while the budget holds them.
  for (let round = 0; round < 4 && keep.size < 0.95 * maxSteps; round++) {
    const more = Math.min(totalSteps, Math.floor((buckets * maxSteps) / keep.size));
    if (more <= buckets) break;
    const next = pick(more);
    if (next.size > maxSteps) break;
    buckets = more;
    keep = next;
  }
  keep.add(totalSteps - 1);
  const must = [
    analysis.result.step,
    analysis.summary?.lastFullStep ?? null,
    ...analysis.result.findings.flatMap((f) => [f.step, f.steps?.first ?? null, f.steps?.last ?? null]),
    ...analysis.distributions.map((d) => d.step),
  ];
  for (const s of must) if (s !== null && index.has(s)) keep.add(index.get(s)!);

  const keptIdx = [...keep].sort((a, b) => a - b);
  const keptSteps = new Set(keptIdx.map((i) => steps[i]));
  // Layers that share a step axis share the thinned one (and its positions); a float32 column stays float32
  // (half the memory, and what the wire packs in 4 bytes a value without looking at every value again).
  const axes = new Map<ArrayLike<number>, { pos: number[]; steps: Float64Array }>();
  const series: LayerSeries[] = analysis.series.map((s) => {
    let axis = axes.get(s.steps);
    if (!axis) {
      const pos: number[] = [];
      s.steps.forEach((st, j) => keptSteps.has(st) && pos.push(j));
      axis = { pos, steps: Float64Array.from(pos, (j) => s.steps[j]) };
      axes.set(s.steps, axis);
    }
    const pos = axis.pos;
    const figures = {} as Record<SeriesFigure, SeriesColumn>;
    for (const f of SERIES_FIGURES) {
      const arr = s.figures[f];
      figures[f] = !arr
        ? absentColumn(pos.length)
        : arr instanceof Float32Array
          ? Float32Array.from(pos, (j) => arr[j])
          : Float64Array.from(pos, (j) => arr[j] ?? Number.NaN);
    }
    return { layer: s.layer, steps: axis.steps, figures };
  });
  return {
    analysis: {
      ...analysis,
      result: { ...analysis.result, steps: keptIdx.map((i) => steps[i]) },
      series,
      globals,
    },
    totalSteps,
    keptSteps: keptIdx.length,
  };
}

/**
 * Run-level scalars thinned to about `maxPoints` records: per bucket of consecutive records the first one and,
 * per key, the records with its largest and smallest value (a loss spike survives). Kept records are whole.
 */
export function decimateGlobals(globals: GlobalObservation[], maxPoints = MAX_GLOBAL_POINTS): GlobalObservation[] {
  const n = globals.length;
  if (n <= maxPoints) return globals;
  const keys = [...new Set(globals.flatMap((g) => Object.keys(g.values)))];
  const buckets = Math.max(1, Math.floor(maxPoints / (1 + 2 * Math.max(1, keys.length))));
  const size = n / buckets;
  const keep = new Set<number>([0, n - 1]);
  for (let b = 0; b < buckets; b++) {
    const start = Math.floor(b * size);
    const end = Math.min(n, Math.floor((b + 1) * size));
    if (start >= end) continue;
    keep.add(start);
    for (const k of keys) {
      let iHi = -1;
      let iLo = -1;
      for (let i = start; i < end; i++) {
        const v = globals[i].values[k];
        if (v === undefined || Number.isNaN(v)) continue;
        if (iHi < 0 || v > globals[iHi].values[k]) iHi = i;
        if (iLo < 0 || v < globals[iLo].values[k]) iLo = i;
      }
      if (iHi >= 0) keep.add(iHi);
      if (iLo >= 0) keep.add(iLo);
    }
  }
  return [...keep].sort((a, b) => a - b).map((i) => globals[i]);
}
