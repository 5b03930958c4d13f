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

function median(sorted: Float64Array): number {
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) >> 1] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
}

export interface LossSpike {
  step: number;
  loss: number;
  median: number;
}

/** Spikes of a loss series (ascending steps, finite values). */
export function lossSpikes(steps: readonly number[], values: readonly number[]): LossSpike[] {
  const out: LossSpike[] = [];
  for (let i = MIN_HISTORY; i < values.length; i++) {
    const w = Float64Array.from(values.slice(Math.max(0, i - WINDOW), i)).sort();
    const med = median(w);
    const dev = Float64Array.from(w, (x) => Math.abs(x - med)).sort();
    const sigma = 1.4826 * median(dev);
    const v = values[i];
    if (v > med + SPIKE_MADS * sigma && v > med + SPIKE_RATIO * Math.abs(med)) out.push({ step: steps[i], loss: v, median: med });
  }
  return out;
}

export function lossSpikeFindings(ctx: RunRuleContext): Finding[] {
  const steps: number[] = [];
  const values: number[] = [];
  for (const g of [...ctx.globals].sort((a, b) => a.step - b.step)) {
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
