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
    // u = m·a/(√(V·b) + ε): torch's a = 1/(1 − β1ᵗ), b = 1/(1 − β2ᵗ); ε on the raw √V: a = √(1 − β2ᵗ)/(1 − β1ᵗ), b = 1.
    fusedAdam: { m: 'exp_avg', v: second, a: onRaw ? invBc1 * sqrtBc2 : invBc1, b: onRaw ? 1 : invBc2, vs: invBc2, eps },
    finalize() {
      return { scale: 1, ...decayTerms(spec, spec.lr) };
    },
  };
}
