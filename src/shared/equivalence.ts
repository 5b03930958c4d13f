// The equivalence arithmetic behind the dashboard's equivalence view and Explain Learning Rate.
// Pure functions (no DOM): the extension host imports them too.
//
// Adam's update is lr·u with u = m̂/(√v̂+ε) independent of the gradient's scale, so the relative
// step per step is lr·RMS(u)/RMS(p). Storing p' = k·p makes the gradient g/k, so √v̂ shrinks by k
// and u stays the same only with ε' = ε/k; with lr' = k·lr the training is exactly the same
// (test/fixtures adam_reparam_k8: lr 8·3e-4, ε 1e-8/8, parameters bit for bit 8× adam_base's): the
// triples (lr·k, scale·k, ε/k) share one relative step. For SGD (update lr·g, gradient of p' is g/k)
// the same relative step needs lr·k²; under a trust ratio (LAMB, LARS) lr stays (see lrScaling).

import { isOptimizerKind, optimizerKindFromName, OPTIMIZER_NORMALIZATION, type OptimizerKind } from './optimizers';

export interface EquivalentPair {
  k: number;
  lr: number;
  scale: number;
  eps: number | null;
}

export const EQUIVALENCE_FACTORS = [0.1, 0.5, 1, 2, 10];

export function normalizeOptimizer(type: string | null | undefined): OptimizerKind | null {
  return isOptimizerKind(type) ? type : optimizerKindFromName(type);
}

/**
 * How lr and ε change when the weights are stored ×k and training stays the same, by how the optimizer
 * normalizes its update: SGD (the step is lr·g, g shrinks by k) needs lr·k²; a trust ratio (LAMB, LARS) already
 * scales the step to ‖w‖, so lr stays; the others step by ≈ lr per weight, so lr·k. ε is rescaled (÷k) where it
 * is added to a gradient-scaled denominator (Adam family, LAMB); Lion and Muon have no such ε.
 * `null` (not stated) is read as Adam-like, as everywhere else.
 */
export function lrScaling(optimizer: OptimizerKind | null): { lrPower: 0 | 1 | 2; epsScales: boolean } {
  const n = optimizer === null ? 'second-moment' : OPTIMIZER_NORMALIZATION[optimizer];
  if (n === 'none') return { lrPower: 2, epsScales: false };
  if (n === 'trust-ratio') return { lrPower: 0, epsScales: optimizer === 'lamb' };
  return { lrPower: 1, epsScales: n === 'second-moment' };
}

export function equivalentPairs(
  lr: number,
  scale: number,
  eps: number | null,
  optimizer: OptimizerKind | null,
  factors: number[] = EQUIVALENCE_FACTORS,
): EquivalentPair[] {
  // Adafactor's step depends on scale_parameter (relative with it, Adam-like without): no pairs claimed.
  if (optimizer !== null && OPTIMIZER_NORMALIZATION[optimizer] === 'factored') return [];
  const { lrPower, epsScales } = lrScaling(optimizer);
  return factors.map((k) => ({
    k,
    lr: lr * k ** lrPower,
    scale: scale * k,
    eps: !epsScales || eps === null ? null : eps / k,
  }));
}

/**
 * How an lr for a target relative step was found: from the measured relative step; from the normalized
 * direction's RMS (RMS(u) for Adam, `rms-d` for others); |u| ≈ 1 (Adam early on); a sign update's exact
 * |d| = 1 (Lion); the trust ratio's lr = relative step (LAMB/LARS).
 */
export type TargetBasis = 'measured' | 'rms-u' | 'rms-d' | 'u-approx-1' | 'sign' | 'trust-ratio';

export interface LayerTargetLr {
  layer: string;
  paramRms: number | null;
  adamUpdateRms: number | null;
  relStep: number | null;
  /** lr that would give `target` relative step per step for this layer at this step. */
  lr: number | null;
  basis: TargetBasis | null;
}

const U_APPROX_ONE: ReadonlySet<OptimizerKind> = new Set(['adam', 'adamw', 'nadam', 'adamax']);

/**
 * lr per layer for a target relative step:
 * - measured: lr·target/relStep (the relative step is proportional to lr at fixed u);
 * - rms-u / rms-d: target·RMS(p)/RMS(d) when the run's lr or relative step is missing (d = u for Adam);
 * - sign (Lion): target·RMS(p) exactly; trust-ratio (LAMB/LARS): the target itself;
 * - u-approx-1 (Adam, only a scale known): target·RMS(p), exact only while |u| ≈ 1 (early steps).
 */
export function lrForTarget(
  layer: { name: string; paramRms: number | null; adamUpdateRms: number | null; relStep: number | null; directionRms?: number | null },
  runLr: number | null,
  target: number,
  optimizer: OptimizerKind | null,
): LayerTargetLr {
  const out: LayerTargetLr = {
    layer: layer.name,
    paramRms: layer.paramRms,
    adamUpdateRms: layer.adamUpdateRms,
    relStep: layer.relStep,
    lr: null,
    basis: null,
  };
  const positive = (v: number | null | undefined): v is number => v !== null && v !== undefined && Number.isFinite(v) && v > 0;
  const norm = optimizer === null ? 'second-moment' : OPTIMIZER_NORMALIZATION[optimizer];
  const direction = positive(layer.directionRms) ? layer.directionRms : norm === 'second-moment' ? layer.adamUpdateRms : null;
  if (positive(runLr) && positive(layer.relStep)) {
    out.lr = (runLr * target) / layer.relStep;
    out.basis = 'measured';
  } else if (norm === 'trust-ratio') {
    out.lr = target;
    out.basis = 'trust-ratio';
  } else if (norm === 'sign' && positive(layer.paramRms)) {
    out.lr = target * layer.paramRms;
    out.basis = 'sign';
  } else if (norm !== 'none' && norm !== 'factored' && positive(layer.paramRms) && positive(direction)) {
    out.lr = (target * layer.paramRms) / direction;
    out.basis = norm === 'second-moment' ? 'rms-u' : 'rms-d';
  } else if (optimizer !== null && U_APPROX_ONE.has(optimizer) && positive(layer.paramRms)) {
    out.lr = target * layer.paramRms;
    out.basis = 'u-approx-1';
  }
  return out;
}

export function median(values: (number | null | undefined)[]): number | null {
  const v = values.filter((x): x is number => x !== null && x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

export interface ExplainNumbers {
  relativeStep: number | null;
  equivalentPairs: { lr: number; scale: number; eps: number | null }[];
  lrForTarget: number | null;
}

/**
 * Explain an (lr, scale) pair: the relative step (Adam-like: lr/scale while RMS(u) ≈ 1; Lion: lr/scale
 * exactly; LAMB/LARS: lr itself; SGD, Muon, Adafactor: it needs more than the pair), pairs, lr for the target.
 */
export function explainNumbers(
  lr: number,
  scale: number | null,
  eps: number | null,
  optimizer: OptimizerKind | null,
  target: number,
): ExplainNumbers {
  if (scale === null || !(scale > 0) || !Number.isFinite(scale)) {
    return { relativeStep: null, equivalentPairs: [], lrForTarget: null };
  }
  const norm = optimizer === null ? 'second-moment' : OPTIMIZER_NORMALIZATION[optimizer];
  const perScale = norm === 'second-moment' || norm === 'sign';
  return {
    relativeStep: perScale ? lr / scale : norm === 'trust-ratio' ? lr : null,
    equivalentPairs: equivalentPairs(lr, scale, eps, optimizer).map(({ lr: l, scale: s, eps: e }) => ({ lr: l, scale: s, eps: e })),
    lrForTarget: perScale ? target * scale : norm === 'trust-ratio' ? target : null,
  };
}
