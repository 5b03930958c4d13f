import { formatNumber as fmt, formatStep } from '../../shared/format';
import type { RunRuleContext } from './context';
import { describeLayers, describeSteps, groupHits, groupedFinding, type RuleHit } from './grouping';
import { RUN_RULES } from './ruleIds';
import type { Finding } from './types';

// eps-dominated: where √v̂ < ε for most elements the update is m̂/ε, proportional to the gradient, and
// Adam's scale invariance is lost. Elements whose second moment is exactly 0 are counted apart (the engine
// leaves them out of epsDominatedFraction): they never received a gradient, m = 0 too, and their update is 0,
// not m̂/ε — unused embedding rows or masked weights, which lowering ε would not change.

export function epsDominatedFindings(ctx: RunRuleContext): Finding[] {
  const th = ctx.thresholds.epsDominatedFraction;
  const order = ctx.series.map((s) => s.layer);
  const key = (layer: string, step: number): string => `${layer}\0${step}`;
  const hits: RuleHit[] = [];
  const zeroHits: RuleHit[] = [];
  const uRms = new Map<string, number | null>();
  const zeroAt = new Map<string, number>();
  for (const s of ctx.series) {
    if (ctx.frozenLayers?.has(s.layer)) continue;
    const f = s.figures.epsDominatedFraction;
    const z = s.figures.zeroSecondMomentFraction ?? [];
    // A logged fraction (no zero count beside it: our snippet's eps_dominated_frac counts √v̂ < ε with v = 0 among
    // them) loses the zero share of the next step whose tensors were read: a weight that has never received a gradient
    // by then had none before, so that share is a lower bound of the zeros inside the logged fraction.
    let laterZero = 0;
    const zeroBelow = new Array<number>(s.steps.length);
    for (let j = s.steps.length - 1; j >= 0; j--) {
      if (z[j] !== null && z[j] !== undefined) laterZero = z[j]!;
      zeroBelow[j] = z[j] !== null && z[j] !== undefined ? 0 : laterZero;
    }
    for (let j = 0; j < s.steps.length; j++) {
      const raw = f[j];
      const v = raw === null || raw === undefined ? raw : Math.max(0, raw - zeroBelow[j]);
      const zv = z[j];
      if (zv !== null && zv !== undefined) {
        zeroAt.set(key(s.layer, s.steps[j]), zv);
        if (zv > th) zeroHits.push({ layer: s.layer, step: s.steps[j], value: zv });
      }
      if (v !== null && v !== undefined && v > th) {
        hits.push({ layer: s.layer, step: s.steps[j], value: v });
        uRms.set(key(s.layer, s.steps[j]), s.figures.adamUpdateRms[j] ?? null);
      }
    }
  }
  const out: Finding[] = [];
  const g = groupHits(hits, order, ctx.step, (a, b) => a > b);
  if (g) {
    const u = uRms.get(key(g.worst.layer, g.worst.step)) ?? null;
    const zero = zeroAt.get(key(g.worst.layer, g.worst.step)) ?? 0;
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
  const z = groupHits(zeroHits, order, ctx.step, (a, b) => a > b);
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
