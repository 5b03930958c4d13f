// The findings model: rules turn engine figures into findings with stable ids (README "Findings").

export type Severity = 'error' | 'warning' | 'info';

export interface Finding {
  rule: string;
  severity: Severity;
  /** The one layer the finding is about; null for run-wide findings and for groups of layers (see `layers`). */
  layer: string | null;
  /** The step it was seen at (the first of `steps` for a finding over time); null when not tied to a step. */
  step: number | null;
  message: string;
  evidence: Record<string, unknown>;
  /** A grouped finding: every layer it holds for, in layer order (one finding per rule and cause, not one per layer). */
  layers?: string[];
  /** A finding over time: the steps it holds at (first, last, and how many steps with figures in between). */
  steps?: { first: number; last: number; count: number };
  /** Why it holds, when a cause is known: 'lr-decayed' (only where the schedule has driven the lr to ~0), … */
  cause?: string;
}

/** Thresholds of the rules (README "Findings"); each is a setting in the extension and a CLI option. */
export interface Thresholds {
  /** relative-step-high: relative step per step above this (default 1e-2). */
  relativeStepHigh: number;
  /** relative-step-low: relative step per step below this (default 1e-5). */
  relativeStepLow: number;
  /** eps-dominated: fraction of elements with √v̂ < ε above this (default 0.5). */
  epsDominatedFraction: number;
  /** scale-spread: ratio of largest to smallest layer parameter RMS above this (default 100). */
  scaleSpread: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = {
  relativeStepHigh: 1e-2,
  relativeStepLow: 1e-5,
  epsDominatedFraction: 0.5,
  scaleSpread: 100,
};
