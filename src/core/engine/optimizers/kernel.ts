import type { FloatChunk } from '../../io/tensorData';

// The contract between the fused tensor pass (tensorStats.ts) and one optimizer's update rule. The pass streams the
// layer's parameter-shaped tensors chunk by chunk; a kernel turns each chunk into d̃ (the direction up to one scalar
// known only at the end: a trust ratio, a clipping divisor, 1/lr) and counts its ε statistics; the pass sums Σd̃²,
// Σd̃·p and the histogram, and the kernel's finalize turns the layer's sums into the figures.

export interface ChunkView {
  /** Element index of the chunk's first element in the layer. */
  offset: number;
  n: number;
  /** The parameter the step consumed (or the saved one where that is all there is). */
  p: FloatChunk | null;
  /** The gradient the step consumed (sign and coupled decay applied by the kernel). */
  g: FloatChunk | null;
  /** Parameter-shaped state by role (bitsandbytes' state1/state2 already dequantized into the role they hold). */
  state: Record<string, FloatChunk | undefined>;
}

/** Second-moment statistics where the rule divides by √(second moment) + ε. */
export interface SecondMomentCounts {
  /** Elements whose second moment is exactly 0 (never received a gradient: their update is 0). */
  zero: number;
  /** Elements with a non-zero second moment whose root is below ε (the update is ≈ m/ε there). */
  eps: number;
  /** Σ v̂ (Adam family: for RMS(√v̂)). */
  vHat: number;
  /**
   * Elements whose second moment is 0 while the first is not: their d is not determined by the saved state
   * (bitsandbytes' 8-bit v quantized to its zero code while m was not). Their d̃ is set to 0.
   */
  undetermined: number;
}

/** The layer's sums after the pass. */
export interface PassSums {
  n: number;
  /** Σ d̃². */
  dd: number;
  /** Σ d̃·p (0 when the pass has no parameter). */
  dp: number;
  /** Σ p² of the parameter the kernel saw, and whether it is the one the step consumed. */
  pp: number | null;
  paramIsBefore: boolean;
  /** Σ g² (null without a gradient). */
  gg: number | null;
}

export interface KernelResult {
  /** d = scale·d̃; null: the direction is unknown (see `unknown`). */
  scale: number | null;
  /** The update, per element: α·d̃ + β·p; α null: the prediction is unknown. */
  alpha: number | null;
  beta: number;
  /** RMS(d) where d is not scale·d̃ (LAMB's coupled decay inside the trust-scaled update). */
  directionRms?: number;
  trustRatio?: number | null;
  effectiveLr?: number | null;
  updateClip?: number | null;
  /** Why the direction (or only the prediction) is unknown, in one sentence. */
  unknown?: string;
}

export interface DirectionKernel {
  /** Parameter-shaped state roles to stream. */
  readonly state: readonly string[];
  readonly needsGrad: boolean;
  /** The parameter is read by chunk(), not only summed (coupled decay on a gradient, LAMB's decay term). */
  readonly needsParam: boolean;
  /** d̃ = d element by element from the start (the histogram of d is meaningful). */
  readonly histogram: boolean;
  /** The rule divides by √(second moment) + ε: ε-dominance and zero second moments are counted. */
  readonly secondMoment: boolean;
  /** The rule is Adam's u = m̂/(√v̂+ε) (adamUpdateRms = directionRms). */
  readonly adamU: boolean;
  /** Fill d̃ for the chunk; count the second-moment statistics. Absent where the rule is `fusedAdam`. */
  chunk?(v: ChunkView, out: Float64Array, c: SecondMomentCounts): void;
  /**
   * Adam's u = m·a/(√(V·b) + ε) (Σ v̂ = Σ V·vs), run by the pass's fused SIMD kernel (wasm/kernels.ts) on the state
   * roles `m` and `v`: d̃ = u, with its sums, counts and histogram in one loop.
   */
  fusedAdam?: { m: string; v: string; a: number; b: number; vs: number; eps: number };
  finalize(s: PassSums): KernelResult;
}

/** A rule that cannot be evaluated on this layer's tensors: the sentence says why. */
export interface UnknownDirection {
  unknown: string;
}

export const rmsOf = (sumSq: number, n: number): number => (n > 0 ? Math.sqrt(sumSq / n) : 0);

/** g with `maximize` and coupled weight decay applied, as torch does before the moments. */
export function effectiveGrad(g: FloatChunk, p: FloatChunk | null, i: number, maximize: boolean, wd: number): number {
  const x = maximize ? -g[i] : g[i];
  return wd !== 0 && p ? x + wd * p[i] : x;
}

/**
 * α and β of the lens form for a step that applies `lrEff` to d, with the spec's decay: coupled decay is inside d
 * (β = 0); decoupled decay multiplies p by 1 − lr·wd first (β = lr·wd); decay after the step multiplies the whole
 * update too ((p − lr·d)(1 − lr·wd) = p − lr(1 − lr·wd)·d − lr·wd·p). null α: lr or wd unknown.
 */
export function decayTerms(
  spec: { decay: 'coupled' | 'decoupled' | 'after'; lr: number | null; weightDecay: number | null },
  lrEff: number | null,
): { alpha: number | null; beta: number } {
  if (lrEff === null) return { alpha: null, beta: 0 };
  if (spec.decay === 'coupled') return { alpha: lrEff, beta: 0 };
  const wd = spec.weightDecay;
  if (wd === null || spec.lr === null) return { alpha: null, beta: 0 };
  const lrWd = spec.lr * wd;
  return spec.decay === 'after' ? { alpha: lrEff * (1 - lrWd), beta: lrWd } : { alpha: lrEff, beta: lrWd };
}

/** The coupled weight decay a rebuilt gradient needs (0 for decoupled decay). */
export function coupledWd(spec: { decay: 'coupled' | 'decoupled' | 'after'; weightDecay: number | null }): number {
  return spec.decay === 'coupled' ? (spec.weightDecay ?? 0) : 0;
}
