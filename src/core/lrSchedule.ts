import type { LrSchedule } from './analysis';
import type { GlobalObservation } from './run/types';

// The learning rate over a run, from what the inputs state: a logged global lr (HF `learning_rate`, a
// Lightning `lr-AdamW` column, TensorBoard `lr`) wins over the per-layer lr of the figures (our snippet's
// `lr`, a checkpoint's param_groups), which fills the steps the globals don't have.

export interface LrPoints {
  steps: number[];
  values: number[];
}

export function lrPoints(globals: readonly GlobalObservation[], fromFigures: LrPoints): LrPoints {
  const byStep = new Map<number, number>();
  for (let i = 0; i < fromFigures.steps.length; i++) byStep.set(fromFigures.steps[i], fromFigures.values[i]);
  for (const g of globals) {
    const v = g.values.lr;
    if (v !== undefined && Number.isFinite(v)) byStep.set(g.step, v);
  }
  const steps = [...byStep.keys()].sort((a, b) => a - b);
  return { steps, values: steps.map((s) => byStep.get(s)!) };
}

export function lrScheduleOf(points: LrPoints): LrSchedule | null {
  const n = points.steps.length;
  if (n === 0) return null;
  let peak = 0;
  for (let i = 1; i < n; i++) if (points.values[i] > points.values[peak]) peak = i;
  return {
    peak: points.values[peak],
    peakStep: points.steps[peak],
    first: points.values[0],
    firstStep: points.steps[0],
    last: points.values[n - 1],
    lastStep: points.steps[n - 1],
    points: n,
  };
}

/** The lr at `step`: the last known value at or before it (the first one before the first point), or null. */
export function lrAtFn(points: LrPoints): (step: number) => number | null {
  const { steps, values } = points;
  return (step) => {
    if (!steps.length) return null;
    let lo = 0;
    let hi = steps.length - 1;
    if (step < steps[0]) return values[0];
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (steps[mid] <= step) lo = mid;
      else hi = mid - 1;
    }
    return values[lo];
  };
}
