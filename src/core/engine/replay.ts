import { TensorChunkReader } from '../io/tensorData';
import type { TensorRef } from '../run/types';
import { U_HISTOGRAM_BINS, U_HISTOGRAM_RANGE } from './tensorStats';

// Adam's state replayed from a complete gradient history (steps 1..T of one layer), for inputs that
// log gradients but not the optimizer state. m and v are kept in float64 (torch keeps float32; the
// difference is far below float32 precision of u). Memory: two float64 arrays of the layer's size.

export interface ReplayedAdamFigures {
  step: number;
  adamUpdateRms: number;
  /** Share of elements with 0 < √v̂ < ε (elements whose v is exactly 0 never had a gradient: zeroSecondMomentFraction). */
  epsDominatedFraction: number;
  zeroSecondMomentFraction: number;
  sqrtVHatRms: number;
  uHistogram: number[];
  /** u itself at this step (only when requested, for tests and distributions). */
  u?: Float64Array;
}

/**
 * Replay Adam over `grads[0..]` = the gradients of steps 1, 2, … (consecutive, from step 1).
 * Returns the figures of every step in `report` (all steps when omitted).
 */
export async function replayAdam(
  grads: TensorRef[],
  hyper: { beta1: number; beta2: number; eps: number },
  options: { report?: Set<number>; keepU?: boolean } = {},
): Promise<ReplayedAdamFigures[]> {
  if (grads.length === 0) return [];
  const numel = grads[0].numel;
  const m = new Float64Array(numel);
  const v = new Float64Array(numel);
  const { beta1, beta2, eps } = hyper;
  const out: ReplayedAdamFigures[] = [];
  for (let s = 0; s < grads.length; s++) {
    const t = s + 1;
    const ref = grads[s];
    if (ref.numel !== numel) throw new Error(`gradient of step ${t} has ${ref.numel} elements, step 1 had ${numel}`);
    const reader = new TensorChunkReader(ref);
    let at = 0;
    try {
      for (let c = await reader.next(); c; c = await reader.next()) {
        for (let i = 0; i < c.length; i++) {
          const g = c[i];
          m[at + i] = beta1 * m[at + i] + (1 - beta1) * g;
          v[at + i] = beta2 * v[at + i] + (1 - beta2) * g * g;
        }
        at += c.length;
      }
    } finally {
      reader.close();
    }
    if (options.report && !options.report.has(t)) continue;
    const invBc1 = 1 / (1 - Math.pow(beta1, t));
    const invBc2 = 1 / (1 - Math.pow(beta2, t));
    let uSq = 0;
    let vSum = 0;
    let epsCount = 0;
    let zeroCount = 0;
    const hist = new Array<number>(U_HISTOGRAM_BINS).fill(0);
    const lo = U_HISTOGRAM_RANGE[0];
    const scale = U_HISTOGRAM_BINS / (U_HISTOGRAM_RANGE[1] - U_HISTOGRAM_RANGE[0]);
    const u = options.keepU ? new Float64Array(numel) : undefined;
    for (let i = 0; i < numel; i++) {
      const vHat = v[i] * invBc2;
      const sq = Math.sqrt(vHat);
      const ui = (m[i] * invBc1) / (sq + eps);
      if (u) u[i] = ui;
      uSq += ui * ui;
      vSum += vHat;
      if (v[i] === 0) zeroCount++;
      else if (sq < eps) epsCount++;
      const bin = Math.min(U_HISTOGRAM_BINS - 1, Math.max(0, ((ui - lo) * scale) | 0));
      hist[bin]++;
    }
    out.push({
      step: t,
      adamUpdateRms: Math.sqrt(uSq / numel),
      epsDominatedFraction: epsCount / numel,
      zeroSecondMomentFraction: zeroCount / numel,
      sqrtVHatRms: Math.sqrt(vSum / numel),
      uHistogram: hist,
      u,
    });
  }
  return out;
}
