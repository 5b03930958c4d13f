import type { DirectionSpec } from './spec';
import { effectiveGrad, type DirectionKernel, type UnknownDirection } from './kernel';

// Adagrad as torch computes it: sum += g² (from initial_accumulator_value), the step is clr·g/(√sum + ε) with
// clr = lr/(1 + (t − 1)·lr_decay). d = g/(√sum + ε) needs the gradient the step consumed: consecutive sums give
// only |g|. The effective lr is clr.

export function adagradKernel(spec: DirectionSpec): DirectionKernel | UnknownDirection {
  const { eps, t } = spec;
  if (eps === null) return { unknown: `${spec.label}: eps is not stated` };
  if (t === null || t < 1) return { unknown: `${spec.label}: the step count is unknown` };
  if (spec.weightDecay === null) return { unknown: `${spec.label}: weight decay is not stated` };
  const wd = spec.weightDecay;
  const clr = spec.lr === null ? null : spec.lr / (1 + (t - 1) * (spec.lrDecay ?? 0));
  return {
    state: ['sum'],
    needsGrad: true,
    needsParam: wd !== 0,
    histogram: true,
    secondMoment: true,
    adamU: false,
    chunk(v, out, c) {
      const s = v.state.sum!;
      const g = v.g!;
      for (let i = 0; i < v.n; i++) {
        const root = Math.sqrt(s[i]);
        out[i] = effectiveGrad(g, v.p, i, spec.maximize, wd) / (root + eps);
        c.vHat += s[i];
        if (s[i] === 0) c.zero++;
        else if (root < eps) c.eps++;
      }
    },
    finalize() {
      return { scale: 1, alpha: clr, beta: 0, effectiveLr: clr };
    },
  };
}
