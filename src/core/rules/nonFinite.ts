import type { RunRuleContext } from './context';
import { RUN_RULES } from './ruleIds';
import type { Finding } from './types';

// non-finite: NaN/Inf in a tensor or a logged value (a NaN loss included), with the first place it was seen.

export function nonFiniteFindings(ctx: RunRuleContext): Finding[] {
  if (ctx.nonFinite.length === 0) return [];
  const total = ctx.nonFinite.reduce((s, n) => s + n.count, 0);
  const first = ctx.nonFinite[0];
  const where = `${first.path}${first.line !== undefined ? `:${first.line}` : ''}${first.layer ? ` (${first.layer}` + (first.step !== null ? `, step ${first.step})` : ')') : first.step !== null ? ` (step ${first.step})` : ''}`;
  return [
    {
      rule: 'non-finite',
      severity: RUN_RULES['non-finite'],
      layer: first.layer,
      step: first.step,
      message: `${total} non-finite value${total === 1 ? '' : 's'} (NaN/Inf) in ${ctx.nonFinite.length} place${ctx.nonFinite.length === 1 ? '' : 's'}; first: ${first.what} at ${where}${first.firstIndex !== undefined ? `, element ${first.firstIndex}` : ''}.`,
      evidence: { count: total, places: ctx.nonFinite.slice(0, 20) },
    },
  ];
}
