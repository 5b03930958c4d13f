import { formatNumber as fmt, formatStep } from '../../shared/format';
import type { RunRuleContext } from './context';
import { RUN_RULES } from './ruleIds';
import type { Finding } from './types';

// loss-spike: a logged training loss far above its recent level. Robust to noisy curves: a point is a spike
// when it exceeds the median of the preceding window by SPIKE_MADS robust standard deviations (1.4826·MAD)
// and by SPIKE_RATIO of the median itself, so flat-but-noisy and slowly rising curves are not flagged.

const WINDOW = 50;
const MIN_HISTORY = 10;
const SPIKE_MADS = 6;
const SPIKE_RATIO = 0.25;
const MAX_LISTED = 20;

function median(sorted: Float64Array, n: number): number {
  return n % 2 ? sorted[(n - 1) >> 1] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
}

/** First index in sorted[0, n) whose value is ≥ x. */
function lowerBound(sorted: Float64Array, n: number, x: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Median of |x − med| over sorted[0, n) without sorting the deviations: they ascend outward from med on both
 * sides, so the middle one is found by merging the two runs (linear in n, no allocation).
 */
export function medianDeviation(sorted: Float64Array, n: number, med: number): number {
  let j = lowerBound(sorted, n, med);
  let i = j - 1;
  const k = (n - 1) >> 1;
  let kth = 0;
  for (let taken = 0; taken <= k + (n % 2 ? 0 : 1); taken++) {
    const left = i >= 0 ? med - sorted[i] : Infinity;
    const right = j < n ? sorted[j] - med : Infinity;
    const d = left <= right ? left : right;
    if (left <= right) i--;
    else j++;
    if (taken === k) kth = d;
    else if (taken === k + 1) return 0.5 * (kth + d);
  }
  return kth;
}

export interface LossSpike {
  step: number;
  loss: number;
  median: number;
}

/**
 * Spikes of a loss series (ascending steps, finite values). The window of the preceding values is kept sorted
 * as it slides (one insertion and one removal per step), not re-sorted at every step: at 52,721 logged steps the
 * re-sorting took 0.7 s of a 5 s analysis.
 */
export function lossSpikes(steps: readonly number[], values: readonly number[]): LossSpike[] {
  const out: LossSpike[] = [];
  const w = new Float64Array(WINDOW);
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    if (i >= MIN_HISTORY) {
      const med = median(w, n);
      const sigma = 1.4826 * medianDeviation(w, n, med);
      const v = values[i];
      if (v > med + SPIKE_MADS * sigma && v > med + SPIKE_RATIO * Math.abs(med)) out.push({ step: steps[i], loss: v, median: med });
    }
    // Slide: values[i] enters, values[i − WINDOW] leaves.
    if (n === WINDOW) {
      const at = lowerBound(w, n, values[i - WINDOW]);
      w.copyWithin(at, at + 1, n);
      n--;
    }
    const at = lowerBound(w, n, values[i]);
    w.copyWithin(at + 1, at, n);
    w[at] = values[i];
    n++;
  }
  return out;
}

export function lossSpikeFindings(ctx: RunRuleContext): Finding[] {
  const steps: number[] = [];
  const values: number[] = [];
  // (the globals of an analysis come in ascending steps: sorted only when they do not; the sort is stable)
  let ascending = true;
  for (let i = 1; i < ctx.globals.length && ascending; i++) ascending = ctx.globals[i - 1]!.step <= ctx.globals[i]!.step;
  for (const g of ascending ? ctx.globals : [...ctx.globals].sort((a, b) => a.step - b.step)) {
    const v = g.values.loss;
    if (v !== undefined && Number.isFinite(v)) {
      steps.push(g.step);
      values.push(v);
    }
  }
  const spikes = lossSpikes(steps, values);
  if (!spikes.length) return [];
  const worst = spikes.reduce((a, b) => (b.loss / Math.abs(b.median || 1) > a.loss / Math.abs(a.median || 1) ? b : a));
  const listed = spikes
    .slice(0, 5)
    .map((s) => formatStep(s.step))
    .join(', ');
  return [
    {
      rule: 'loss-spike',
      severity: RUN_RULES['loss-spike'],
      layer: null,
      step: worst.step,
      message:
        `The training loss spikes ${spikes.length === 1 ? 'once' : `${spikes.length} times`} (step${spikes.length === 1 ? '' : 's'} ${listed}${spikes.length > 5 ? ', …' : ''}): ` +
        `${fmt(worst.loss)} at step ${formatStep(worst.step)} against ${fmt(worst.median)} just before. ` +
        `Look at the relative step per layer around it: a layer whose step is far above the others (or an lr warmup ending) is the usual cause.`,
      evidence: { spikes: spikes.slice(0, MAX_LISTED), count: spikes.length },
      steps: { first: spikes[0].step, last: spikes[spikes.length - 1].step, count: spikes.length },
    },
  ];
}
