// The run rules' stable ids and default severities: the same ids in the CLI's JSON, the Problems panel and
// the dashboard (README "Findings").
export const RUN_RULES = {
  'lr-without-scale': 'warning',
  'relative-step-high': 'warning',
  'relative-step-low': 'info',
  'eps-dominated': 'warning',
  'scale-spread': 'info',
  'non-finite': 'error',
  'loss-spike': 'warning',
} as const;

export type RunRuleId = keyof typeof RUN_RULES;
