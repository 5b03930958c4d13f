import { formatNumber as fmt, formatStep } from '../../shared/format';
import type { RunRuleContext } from './context';
import { describeLayers, describeSteps, groupedFinding, HitGrouper, type RuleHit } from './grouping';
import { seriesValue, type LayerSeries } from '../../shared/series';
import { RUN_RULES } from './ruleIds';
import type { Finding } from './types';

// eps-dominated: where √v̂ < ε for most elements the update is m̂/ε, proportional to the gradient, and
// Adam's scale invariance is lost. Elements whose second moment is exactly 0 are counted apart (the engine
// leaves them out of epsDominatedFraction): they never received a gradient, m = 0 too, and their update is 0,
// not m̂/ε — unused embedding rows or masked weights, which lowering ε would not change.

export function epsDominatedFindings(ctx: RunRuleContext): Finding[] {
  const th = ctx.thresholds.epsDominatedFraction;
  const order = ctx.series.map((s) => s.layer);
  const hits = new HitGrouper(order, ctx.step, 'largest');
  const zeroHits = new HitGrouper(order, ctx.step, 'largest');
  let zeroBelow = new Float64Array(0);
  for (const s of ctx.series) {
    if (ctx.frozenLayers?.has(s.layer)) continue;
    const f = s.figures.epsDominatedFraction;
    const z = s.figures.zeroSecondMomentFraction;
    const n = s.steps.length;
    // A logged fraction (no zero count beside it: our snippet's eps_dominated_frac counts √v̂ < ε with v = 0 among
    // them) loses the zero share of the next step whose tensors were read: a weight that has never received a gradient
    // by then had none before, so that share is a lower bound of the zeros inside the logged fraction.
    if (zeroBelow.length < n) zeroBelow = new Float64Array(n);
    let laterZero = 0;
    for (let j = n - 1; j >= 0; j--) {
      const zv = z[j]!;
      if (Number.isNaN(zv)) zeroBelow[j] = laterZero;
      else {
        laterZero = zv;
        zeroBelow[j] = 0;
      }
    }
    for (let j = 0; j < n; j++) {
      const zv = z[j]!;
      if (zv > th) zeroHits.add(s.layer, s.steps[j]!, zv);
      const raw = f[j]!;
      if (Number.isNaN(raw)) continue;
      const v = Math.max(0, raw - zeroBelow[j]!);
      if (v > th) hits.add(s.layer, s.steps[j]!, v);
    }
  }
  const out: Finding[] = [];
  const g = hits.group();
  if (g) {
    const at = entryOf(ctx, g.worst);
    const u = at ? seriesValue(at.series.figures.adamUpdateRms[at.j]) : null;
    const zero = at ? (seriesValue(at.series.figures.zeroSecondMomentFraction[at.j]) ?? 0) : 0;
    out.push(
      groupedFinding(
        'eps-dominated',
        RUN_RULES['eps-dominated'],
        g,
        ctx.step,
        `${describeLayers(g.layers, order.length)}: more than ${fmt(th * 100)}% of elements have √v̂ below ε${ctx.eps !== null ? ` = ${fmt(ctx.eps)}` : ''} ${describeSteps(g.steps)} ` +
          `(up to ${fmt(g.worst.value * 100)}%, ${g.worst.layer}, step ${formatStep(g.worst.step)}` +
          (zero > 0 ? `; a further ${fmt(zero * 100)}% with v = 0 are not counted: their update is 0` : '') +
          `): there the update is m̂/ε, proportional to the gradient, not ≈ lr — Adam's scale invariance is lost` +
          (u !== null ? ` (RMS(u) = ${fmt(u)} instead of O(1))` : '') +
          `. Lower ε (rescale it with the gradients) or find why gradients are this small (loss scale, vanishing gradients).`,
        {
          epsDominatedFraction: g.worst.value,
          threshold: th,
          adamUpdateRms: u,
          eps: ctx.eps,
          zeroSecondMomentFraction: zero,
          worst: g.worst,
        },
      ),
    );
  }
  const z = zeroHits.group();
  if (z) {
    out.push(
      groupedFinding(
        'eps-dominated',
        'info',
        z,
        ctx.step,
        `${describeLayers(z.layers, order.length)}: more than ${fmt(th * 100)}% of elements have a second moment of exactly 0 ${describeSteps(z.steps)} ` +
          `(up to ${fmt(z.worst.value * 100)}%, ${z.worst.layer}, step ${formatStep(z.worst.step)}): they have never received a gradient, ` +
          `so their update is 0, not m̂/ε: not an ε problem, and lowering ε changes nothing there. ` +
          `Usually unused embedding rows (tokens absent from the data), masked or tied weights, or a parameter outside the graph.`,
        { zeroSecondMomentFraction: z.worst.value, threshold: th, worst: z.worst },
        'zero-second-moment',
      ),
    );
  }
  return out;
}

/** The series entry of a hit (its layer's series, the index of its step). */
function entryOf(ctx: RunRuleContext, hit: RuleHit): { series: LayerSeries; j: number } | null {
  const series = ctx.series.find((s) => s.layer === hit.layer && !ctx.frozenLayers?.has(s.layer));
  if (!series) return null;
  const steps = series.steps;
  let lo = 0;
  let hi = steps.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (steps[mid]! < hit.step) lo = mid + 1;
    else hi = mid;
  }
  return lo < steps.length && steps[lo] === hit.step ? { series, j: lo } : null;
}
