import { formatNumber as fmt } from '../../shared/format';
import type { RunRuleContext } from './context';
import { RUN_RULES } from './ruleIds';
import type { Finding } from './types';

// scale-spread: at the report step the largest trained layer's parameter RMS is more than the threshold
// times the smallest: one learning rate gives very different relative steps. Frozen layers don't count.

export function scaleSpreadFindings(ctx: RunRuleContext): Finding[] {
  const scaled = ctx.layers.filter((l) => l.paramRms !== null && l.paramRms > 0 && !ctx.frozenLayers?.has(l.name));
  if (scaled.length < 2) return [];
  let lo = scaled[0];
  let hi = scaled[0];
  for (const l of scaled) {
    if (l.paramRms! < lo.paramRms!) lo = l;
    if (l.paramRms! > hi.paramRms!) hi = l;
  }
  const ratio = hi.paramRms! / lo.paramRms!;
  if (!(ratio > ctx.thresholds.scaleSpread)) return [];
  return [
    {
      rule: 'scale-spread',
      severity: RUN_RULES['scale-spread'],
      layer: null,
      step: ctx.step,
      message: `Parameter scales differ ${fmt(ratio)}× (${hi.name} ${fmt(hi.paramRms!)} vs ${lo.name} ${fmt(lo.paramRms!)}): one learning rate gives relative steps ${fmt(ratio)}× apart across these layers.`,
      evidence: {
        ratio,
        largest: hi.name,
        largestRms: hi.paramRms,
        smallest: lo.name,
        smallestRms: lo.paramRms,
        threshold: ctx.thresholds.scaleSpread,
      },
    },
  ];
}
