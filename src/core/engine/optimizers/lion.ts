import type { DirectionSpec } from './spec';
import { decayTerms, type DirectionKernel, type UnknownDirection } from './kernel';

// Lion (Chen et al. 2023, as lion-pytorch and bitsandbytes compute it): p ← p·(1 − lr·wd), then
//   d = sign(β1·m_{t−1} + (1 − β1)·g_t),   and only then m_t = β2·m_{t−1} + (1 − β2)·g_t is saved.
// One saved m_t leaves m_{t−1} and g_t underdetermined: with the gradient, m_{t−1} = (m_t − (1 − β2)·g_t)/β2 and d
// follows exactly. Without it only |d| is known — 1 wherever the sign's argument is not 0, which (but for a
// measure-zero cancellation) is where m_t ≠ 0 — so RMS(d) is known, the signs (the histogram, the decay's cross
// term) are not.

export function lionKernel(spec: DirectionSpec, hasGrad: boolean): DirectionKernel | UnknownDirection {
  const { beta1, beta2 } = spec;
  if (beta1 === null || beta2 === null) return { unknown: `${spec.label}: betas are not stated` };
  if (beta2 === 0 && hasGrad) return { unknown: `${spec.label}: β2 = 0 leaves m_{t−1} unrecoverable` };
  return {
    state: ['exp_avg'],
    needsGrad: hasGrad,
    needsParam: false,
    histogram: hasGrad,
    secondMoment: false,
    adamU: false,
    chunk(v, out) {
      const m = v.state.exp_avg!;
      if (!hasGrad) {
        for (let i = 0; i < v.n; i++) out[i] = m[i] === 0 ? 0 : 1;
        return;
      }
      const g = v.g!;
      for (let i = 0; i < v.n; i++) {
        const gi = spec.maximize ? -g[i] : g[i];
        const prev = (m[i] - (1 - beta2) * gi) / beta2;
        const c = beta1 * prev + (1 - beta1) * gi;
        out[i] = c > 0 ? 1 : c < 0 ? -1 : 0;
      }
    },
    finalize() {
      const t = decayTerms(spec, spec.lr);
      if (!hasGrad && t.beta !== 0) {
        return {
          scale: 1,
          alpha: null,
          beta: 0,
          unknown: `${spec.label}: without the gradient the signs of d are unknown, so the decay's share of the step is too (RMS(d) is known)`,
        };
      }
      return { scale: 1, ...t };
    },
  };
}
