import { formatNumber as fmt, formatStep } from '../../shared/format';
import type { RunRuleContext } from './context';
import { describeLayers, describeSteps, groupHits, groupedFinding, type RuleHit } from './grouping';
import { RUN_RULES } from './ruleIds';
import type { Finding } from './types';

// eps-dominated: where √v̂ < ε for most elements the update is m̂/ε, proportional to the gradient, and
// Adam's scale invariance is lost.

export function epsDominatedFindings(ctx: RunRuleContext): Finding[] {
  const th = ctx.thresholds.epsDominatedFraction;
  const hits: RuleHit[] = [];
  const uRms = new Map<string, number | null>();
  for (const s of ctx.series) {
    if (ctx.frozenLayers?.has(s.layer)) continue;
    const f = s.figures.epsDominatedFraction;
    for (let j = 0; j < s.steps.length; j++) {
      const v = f[j];
      if (v !== null && v !== undefined && v > th) {
        hits.push({ layer: s.layer, step: s.steps[j], value: v });
        uRms.set(`${s.layer}\0${s.steps[j]}`, s.figures.adamUpdateRms[j] ?? null);
      }
    }
  }
  const order = ctx.series.map((s) => s.layer);
  const g = groupHits(hits, order, ctx.step, (a, b) => a > b);
  if (!g) return [];
  const u = uRms.get(`${g.worst.layer}\0${g.worst.step}`) ?? null;
  return [
    groupedFinding(
      'eps-dominated',
      RUN_RULES['eps-dominated'],
      g,
      ctx.step,
      `${describeLayers(g.layers, order.length)}: more than ${fmt(th * 100)}% of elements have √v̂ below ε${ctx.eps !== null ? ` = ${fmt(ctx.eps)}` : ''} ${describeSteps(g.steps)} ` +
        `(up to ${fmt(g.worst.value * 100)}%, ${g.worst.layer}, step ${formatStep(g.worst.step)}): ` +
        `there the update is m̂/ε, proportional to the gradient, not ≈ lr — Adam's scale invariance is lost` +
        (u !== null ? ` (RMS(u) = ${fmt(u)} instead of O(1))` : '') +
        `. Lower ε (rescale it with the gradients) or find why gradients are this small (loss scale, vanishing gradients).`,
      { epsDominatedFraction: g.worst.value, threshold: th, adamUpdateRms: u, eps: ctx.eps, worst: g.worst },
    ),
  ];
}
