import type { DirectionSpec } from './spec';
import { effectiveGrad, type DirectionKernel, type UnknownDirection } from './kernel';

// SGD as torch computes it: with momentum (not Nesterov) the saved buffer is the direction; with Nesterov
// d = g + μ·buf, without momentum d = g — both need the gradient the step consumed (coupled decay added to it).
// LARS (timm) runs the same recursion on the gradient scaled by its trust ratio
//   r = trust_coeff·‖w‖/(‖g‖ + wd·‖w‖ + ε)   (1 where a norm is 0; trust_clip: min(r/lr, 1)),
// applied where weight decay ≠ 0 or always_adapt; the buffer is the direction, r is reported from ‖w‖ and ‖g‖.

export function sgdKernel(spec: DirectionSpec): DirectionKernel | UnknownDirection {
  const active = spec.momentumActive === true;
  const nesterov = spec.nesterov === true;
  const momentum = spec.momentum ?? null;
  if (active && nesterov && momentum === null)
    return { unknown: `${spec.label}: the Nesterov step g + μ·buf needs μ, which is not stated` };
  const fromBuffer = active && !nesterov;
  const lars = spec.kind === 'lars';
  if (lars && !fromBuffer)
    return {
      unknown: `${spec.label}: LARS with Nesterov or without momentum scales the gradient by its trust ratio before the recursion; not rebuilt`,
    };
  if (!fromBuffer && spec.weightDecay === null) return { unknown: `${spec.label}: weight decay is not stated` };
  const wd = spec.weightDecay ?? 0;
  return {
    state: active ? ['momentum_buffer'] : [],
    needsGrad: !fromBuffer,
    needsParam: !fromBuffer && wd !== 0,
    histogram: false,
    secondMoment: false,
    adamU: false,
    chunk(v, out) {
      const buf = v.state.momentum_buffer;
      if (fromBuffer) {
        for (let i = 0; i < v.n; i++) out[i] = buf![i];
        return;
      }
      const g = v.g!;
      for (let i = 0; i < v.n; i++) {
        const ge = effectiveGrad(g, v.p, i, spec.maximize, wd);
        out[i] = active ? ge + momentum! * buf![i] : ge;
      }
    },
    finalize(s) {
      let trustRatio: number | null = null;
      if (lars && (wd !== 0 || spec.alwaysAdapt) && s.pp !== null && s.paramIsBefore && s.gg !== null) {
        const w = Math.sqrt(s.pp);
        const gn = Math.sqrt(s.gg);
        trustRatio = w > 0 && gn > 0 ? ((spec.trustCoeff ?? 1e-3) * w) / (gn + wd * w + (spec.eps ?? 0)) : 1;
        if (spec.trustClip && spec.lr !== null) trustRatio = Math.min(trustRatio / spec.lr, 1);
      }
      return { scale: 1, alpha: spec.lr, beta: 0, trustRatio };
    },
  };
}
