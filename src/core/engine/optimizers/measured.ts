import type { DirectionSpec } from './spec';

// The direction measured from the parameter before and after the step, for when the saved state cannot give it:
// d = (p·(1 − c) − p_after)/lr_eff with the rule's decoupled decay c (c = 0 when the decay is in the gradient;
// after the step, (p − p_after/(1 − c))/lr_eff). From δ = p − p_after: ‖p(1 − c) − p_after‖² = Σδ² − 2cΣδp + c²Σp².
// lr_eff is the lr the rule applies to d (Adagrad's decayed lr, Adafactor's relative step size); null where it
// is not known.

export interface MeasuredSums {
  n: number;
  /** Σ (p − p_after)². */
  dd: number;
  /** Σ (p − p_after)·p. */
  dp: number;
  /** Σ p² of the parameter the step consumed. */
  pp: number;
}

/** The lr the rule applies to d, and its decay coefficient c, given RMS of the parameter the step consumed. */
export function appliedLr(spec: DirectionSpec, rmsBefore: number): { lrEff: number; c: number } | null {
  const { lr, t } = spec;
  const wd = spec.weightDecay ?? 0;
  if (spec.kind === 'adafactor') {
    const a = spec.adafactor;
    if (!a || t === null || t < 1) return null;
    if (a.flavor === 'hf') {
      const rho = a.relativeStep ? Math.min(a.warmupInit ? 1e-6 * t : 1e-2, 1 / Math.sqrt(t)) : lr;
      if (rho === null) return null;
      const rmsW = a.stateRms ?? rmsBefore;
      const lrT = a.scaleParameter ? Math.max(a.eps2, rmsW) * rho : rho;
      return { lrEff: lrT, c: wd * lrT };
    }
    if (lr === null) return null;
    return { lrEff: Math.max(a.eps2, rmsBefore) * Math.min(lr, 1 / Math.sqrt(t)), c: lr * wd };
  }
  if (lr === null) return null;
  if (spec.kind === 'adagrad') return t === null ? null : { lrEff: lr / (1 + (t - 1) * (spec.lrDecay ?? 0)), c: 0 };
  if (spec.decay === 'coupled') return { lrEff: lr, c: 0 };
  if (spec.weightDecay === null) return null;
  return { lrEff: lr, c: lr * wd };
}

/** RMS of the measured d, or null where the rule's lr is not known. */
export function measuredDirectionRms(spec: DirectionSpec, s: MeasuredSums): number | null {
  if (s.n === 0) return null;
  const applied = appliedLr(spec, Math.sqrt(s.pp / s.n));
  if (!applied || !(applied.lrEff > 0)) return null;
  const { lrEff, c } = applied;
  let sq = s.dd - 2 * c * s.dp + c * c * s.pp;
  if (spec.decay === 'after') sq /= (1 - c) * (1 - c);
  return Math.sqrt(Math.max(0, sq) / s.n) / lrEff;
}
