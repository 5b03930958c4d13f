import type { DirectionSpec } from './spec';
import { decayTerms, type DirectionKernel, type UnknownDirection } from './kernel';

// RAdam as torch computes it: ρ∞ = 2/(1 − β2) − 1, ρ_t = ρ∞ − 2t·β2ᵗ/(1 − β2ᵗ). While ρ_t ≤ 5 the step is
// un-adapted, d = m̂ (SGD with momentum); after it d = m̂·r·√(1 − β2ᵗ)/(√v + ε) with the rectification
// r = √((ρ_t − 4)(ρ_t − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρ_t)) — ε added to the raw √v, unlike Adam (torch 1.13's foreach
// path adds none). With the default β2 = 0.999 the rectified regime starts at t = 6.

export function radamKernel(spec: DirectionSpec): DirectionKernel | UnknownDirection {
  const { beta1, beta2, eps, t } = spec;
  if (beta1 === null || beta2 === null || eps === null) return { unknown: `${spec.label}: betas and eps are not stated` };
  if (t === null || t < 1) return { unknown: `${spec.label}: the step count is unknown` };
  const bc1 = 1 - Math.pow(beta1, t);
  const bc2 = 1 - Math.pow(beta2, t);
  const rhoInf = 2 / (1 - beta2) - 1;
  const rhoT = rhoInf - (2 * t * Math.pow(beta2, t)) / bc2;
  const rectified = rhoT > 5;
  const r = rectified ? Math.sqrt(((rhoT - 4) * (rhoT - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rhoT)) : 0;
  const e = spec.radamNoEps ? 0 : eps;
  const k = rectified ? (r * Math.sqrt(bc2)) / bc1 : 1 / bc1;
  return {
    state: rectified ? ['exp_avg', 'exp_avg_sq'] : ['exp_avg'],
    needsGrad: false,
    needsParam: false,
    histogram: true,
    secondMoment: rectified,
    adamU: false,
    chunk(v, out, c) {
      const m = v.state.exp_avg!;
      if (!rectified) {
        for (let i = 0; i < v.n; i++) out[i] = m[i] * k;
        return;
      }
      const s = v.state.exp_avg_sq!;
      for (let i = 0; i < v.n; i++) {
        const V = s[i];
        const root = Math.sqrt(V);
        // V = 0 means m = 0 (no gradient yet): d = 0, also where torch's ε-free foreach path divides 0 by 0.
        out[i] = V === 0 ? 0 : (m[i] * k) / (root + e);
        c.vHat += V / bc2;
        if (V === 0) c.zero++;
        else if (root < eps) c.eps++;
      }
    },
    finalize() {
      return { scale: 1, ...decayTerms(spec, spec.lr) };
    },
  };
}
