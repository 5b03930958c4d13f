import type { RunRuleContext } from './context';
import { epsDominatedFindings } from './epsDominated';
import { lossSpikeFindings } from './lossSpike';
import { lrWithoutScaleFindings } from './lrWithoutScale';
import { nonFiniteFindings } from './nonFinite';
import { relativeStepFindings } from './relativeStep';
import { scaleSpreadFindings } from './scaleSpread';
import type { Finding } from './types';

// The run rules, each in its own file, evaluated over the whole run (every layer and step with figures):
// one finding per rule and cause, listing its layers and steps. Thresholds are options (README "Findings").

export { RUN_RULES, type RunRuleId } from './ruleIds';
export type { RunRuleContext } from './context';

export function evaluateRunRules(ctx: RunRuleContext): Finding[] {
  return [
    ...lrWithoutScaleFindings(ctx),
    ...relativeStepFindings(ctx),
    ...epsDominatedFindings(ctx),
    ...scaleSpreadFindings(ctx),
    ...nonFiniteFindings(ctx),
    ...lossSpikeFindings(ctx),
  ];
}
