import type { DirectionSpec } from './spec';
import { coupledWd, decayTerms, effectiveGrad, type DirectionKernel, type UnknownDirection } from './kernel';

// NAdam as torch computes it: with μ_t = β1(1 − ½·0.96^(tψ)), μ_{t+1} likewise, Π_t = mu_product after step t,
//   d = (1 − μ_t)/(1 − Π_t) · g/den + c · m/den,   den = √(v/(1 − β2ᵗ)) + ε,
//   c = μ_{t+1}/(1 − Π_t·μ_{t+1})   (torch ≥ 2.0, and 1.13's foreach path)
//   c = μ_{t+1}/(1 − Π_t·μ_t·μ_{t+1})   (torch 1.13's default single-tensor path: one μ_t too many).
// The gradient term needs the gradient the step consumed: the saved m and v are after it.

export function nadamKernel(spec: DirectionSpec): DirectionKernel | UnknownDirection {
  const { beta1, beta2, eps, t } = spec;
  if (beta1 === null || beta2 === null || eps === null) return { unknown: `${spec.label}: betas and eps are not stated` };
  if (t === null || t < 1) return { unknown: `${spec.label}: the step count is unknown` };
  const psi = spec.momentumDecay ?? 4e-3;
  const mu = (k: number): number => beta1 * (1 - 0.5 * Math.pow(0.96, k * psi));
  let prod = spec.muProduct ?? null;
  if (prod === null) {
    prod = 1;
    for (let k = 1; k <= t; k++) prod *= mu(k);
  }
  const muT = mu(t);
  const muNext = mu(t + 1);
  const cg = (1 - muT) / (1 - prod);
  const cm = spec.nadamLegacy ? muNext / (1 - prod * muT * muNext) : muNext / (1 - prod * muNext);
  const invBc2 = 1 / (1 - Math.pow(beta2, t));
  const wd = coupledWd(spec);
  if (spec.decay === 'coupled' && spec.weightDecay === null) return { unknown: `${spec.label}: weight decay is not stated` };
  return {
    state: ['exp_avg', 'exp_avg_sq'],
    needsGrad: true,
    needsParam: wd !== 0,
    histogram: true,
    secondMoment: true,
    adamU: false,
    chunk(v, out, c) {
      const m = v.state.exp_avg!;
      const s = v.state.exp_avg_sq!;
      const g = v.g!;
      for (let i = 0; i < v.n; i++) {
        const V = s[i];
        const vh = V * invBc2;
        const root = Math.sqrt(vh);
        const den = root + eps;
        out[i] = (cg * effectiveGrad(g, v.p, i, spec.maximize, wd) + cm * m[i]) / den;
        c.vHat += vh;
        if (V === 0) c.zero++;
        else if (root < eps) c.eps++;
      }
    },
    finalize() {
      return { scale: 1, ...decayTerms(spec, spec.lr) };
    },
  };
}
