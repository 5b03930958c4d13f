import type { DirectionSpec } from './spec';
import { decayTerms, type DirectionKernel, type UnknownDirection } from './kernel';

// Adamax as torch computes it: u_t = max(β2·u_{t−1}, |g| + ε) is saved as exp_inf (ε inside the max), and
// d = m/((1 − β1ᵗ)·u_t). Fully determined by the saved state.

export function adamaxKernel(spec: DirectionSpec): DirectionKernel | UnknownDirection {
  const { beta1, t } = spec;
  if (beta1 === null) return { unknown: `${spec.label}: betas are not stated` };
  if (t === null || t < 1) return { unknown: `${spec.label}: the step count is unknown` };
  const invBc1 = 1 / (1 - Math.pow(beta1, t));
  return {
    state: ['exp_avg', 'exp_inf'],
    needsGrad: false,
    needsParam: false,
    histogram: true,
    secondMoment: false,
    adamU: false,
    chunk(v, out) {
      const m = v.state.exp_avg!;
      const u = v.state.exp_inf!;
      for (let i = 0; i < v.n; i++) out[i] = u[i] === 0 ? 0 : (m[i] * invBc1) / u[i];
    },
    finalize() {
      return { scale: 1, ...decayTerms(spec, spec.lr) };
    },
  };
}
