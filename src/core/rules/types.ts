// The findings model: rules turn engine figures into findings with stable ids (README "Findings").

export type Severity = 'error' | 'warning' | 'info';

export interface Finding {
  rule: string;
  severity: Severity;
  layer: string | null;
  step: number | null;
  message: string;
  evidence: Record<string, unknown>;
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
