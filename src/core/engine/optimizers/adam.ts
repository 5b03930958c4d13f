import type { DirectionSpec } from './spec';
import { decayTerms, type DirectionKernel, type UnknownDirection } from './kernel';

// Adam and AdamW as torch computes them (and bitsandbytes' 8-bit Adam on the dequantized state, transformers' AdamW):
//   d = u = m̂ / (√v̂ + ε),  m̂ = m/(1 − β1ᵗ),  v̂ = V/(1 − β2ᵗ),  V = exp_avg_sq, or max_exp_avg_sq with AMSGrad
// (torch takes the running maximum of the raw v and bias-corrects that). ε is added after the bias correction;
// with `epsOnRaw` (transformers' AdamW, Moonlight) to the raw √V: d = m̂·√(1 − β2ᵗ)/(√V + ε).
// Elements whose V is exactly 0 never received a gradient: their d is 0 (m is 0 too), and they are counted apart
// from the ε-dominated ones. Where V is 0 but m is not (bitsandbytes' 8-bit v quantized to its zero code), the saved
// state does not determine d: such elements make the direction unknown.

export function adamKernel(spec: DirectionSpec): DirectionKernel | UnknownDirection {
  const { beta1, beta2, eps, t } = spec;
  if (beta1 === null || beta2 === null || eps === null)
    return { unknown: `${spec.label}: betas and eps are not stated (pass --betas and --eps)` };
  if (t === null || t < 1) return { unknown: `${spec.label}: the step count is unknown (bias corrections need it)` };
  const bc1 = spec.noBiasCorrection ? 1 : 1 - Math.pow(beta1, t);
  const bc2 = spec.noBiasCorrection ? 1 : 1 - Math.pow(beta2, t);
  const invBc1 = 1 / bc1;
  const invBc2 = 1 / bc2;
  const sqrtBc2 = Math.sqrt(bc2);
  const second = spec.amsgrad ? 'max_exp_avg_sq' : 'exp_avg_sq';
  const onRaw = spec.epsOnRaw;
  return {
    state: ['exp_avg', second],
    needsGrad: false,
    needsParam: false,
    histogram: true,
    secondMoment: true,
    adamU: true,
    chunk(v, out, c) {
      const m = v.state.exp_avg!;
      const s = v.state[second]!;
      let zero = 0;
      let epsN = 0;
      let vHat = 0;
      let undetermined = 0;
      for (let i = 0; i < v.n; i++) {
        const V = s[i];
        const vh = V * invBc2;
        const root = Math.sqrt(vh);
        out[i] = onRaw ? (m[i] * invBc1 * sqrtBc2) / (Math.sqrt(V) + eps) : (m[i] * invBc1) / (root + eps);
        vHat += vh;
        if (V === 0) {
          if (m[i] === 0) zero++;
          else {
            undetermined++;
            out[i] = 0;
          }
        } else if ((onRaw ? Math.sqrt(V) : root) < eps) epsN++;
      }
      c.zero += zero;
      c.eps += epsN;
      c.vHat += vHat;
      c.undetermined += undetermined;
    },
    finalize() {
      return { scale: 1, ...decayTerms(spec, spec.lr) };
    },
  };
}
