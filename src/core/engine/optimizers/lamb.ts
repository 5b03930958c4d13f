import type { DirectionSpec } from './spec';
import type { DirectionKernel, UnknownDirection } from './kernel';

// LAMB as timm computes it (You et al. 2019): u = m̂/(√v̂ + ε) (without bias_correction m/(√v + ε)); weight decay
// is added to u (u += wd·p), or with decoupled_decay multiplies p by (1 − lr·wd) first; where wd ≠ 0 or
// always_adapt, the trust ratio r = ‖p‖/‖u‖ (1 where a norm is 0; trust_clip: min(r, 1)) scales the layer's
// update: p −= lr·r·u. So d = r·u, and r needs the parameter the step consumed. One pass gives Σu₀², Σu₀·p and
// Σp², enough for r, RMS(d) and the predicted step.

export function lambKernel(spec: DirectionSpec): DirectionKernel | UnknownDirection {
  const { beta1, beta2, eps, t } = spec;
  if (beta1 === null || beta2 === null || eps === null) return { unknown: `${spec.label}: betas and eps are not stated` };
  if (t === null || t < 1) return { unknown: `${spec.label}: the step count (the group's step) is unknown` };
  if (spec.weightDecay === null) return { unknown: `${spec.label}: weight decay is not stated` };
  const wd = spec.weightDecay;
  const bc1 = spec.noBiasCorrection ? 1 : 1 - Math.pow(beta1, t);
  const bc2 = spec.noBiasCorrection ? 1 : 1 - Math.pow(beta2, t);
  const invBc1 = 1 / bc1;
  const invSqrtBc2 = 1 / Math.sqrt(bc2);
  const adapt = wd !== 0 || spec.alwaysAdapt === true;
  const decoupled = spec.decay === 'decoupled';
  return {
    state: ['exp_avg', 'exp_avg_sq'],
    needsGrad: false,
    needsParam: adapt || wd !== 0,
    histogram: false,
    secondMoment: true,
    adamU: false,
    chunk(v, out, c) {
      const m = v.state.exp_avg!;
      const s = v.state.exp_avg_sq!;
      for (let i = 0; i < v.n; i++) {
        const V = s[i];
        const root = Math.sqrt(V) * invSqrtBc2;
        out[i] = (m[i] * invBc1) / (root + eps);
        c.vHat += V / bc2;
        if (V === 0) c.zero++;
        else if (root < eps) c.eps++;
      }
    },
    finalize(sums) {
      const lr = spec.lr;
      if (!adapt) return { scale: 1, alpha: lr, beta: 0, trustRatio: null };
      if (sums.pp === null || !sums.paramIsBefore) {
        return {
          scale: null,
          alpha: null,
          beta: 0,
          unknown: `${spec.label}: the trust ratio ‖w‖/‖u‖ needs the parameter the step consumed (a checkpoint holds the one it left)`,
        };
      }
      const lrWd = lr === null ? null : lr * wd;
      // u = u₀ + wd·p (coupled) or u₀ with p scaled by (1 − lr·wd) first (decoupled).
      const uu = decoupled ? sums.dd : sums.dd + 2 * wd * sums.dp + wd * wd * sums.pp;
      if (decoupled && lrWd === null) return { scale: null, alpha: null, beta: 0, unknown: `${spec.label}: decoupled decay needs the lr` };
      const wNorm = Math.sqrt(sums.pp) * (decoupled ? 1 - lrWd! : 1);
      const uNorm = Math.sqrt(uu);
      let r = wNorm > 0 && uNorm > 0 ? wNorm / uNorm : 1;
      if (spec.trustClip) r = Math.min(r, 1);
      const n = sums.n;
      const directionRms = n > 0 ? r * Math.sqrt(uu / n) : 0;
      // Expressed on d̃ = u₀: update = lr·r·u₀ + (coupled: lr·r·wd | decoupled: lr·wd)·p.
      const alpha = lr === null ? null : lr * r;
      const beta = lr === null ? 0 : decoupled ? lrWd! : lr * r * wd;
      return { scale: r, alpha, beta, trustRatio: r, directionRms };
    },
  };
}
