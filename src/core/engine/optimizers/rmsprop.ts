import type { DirectionSpec } from './spec';
import { effectiveGrad, type DirectionKernel, type UnknownDirection } from './kernel';

// RMSprop as torch computes it (no bias correction): sq = α·sq + (1 − α)·g², centered: ga = α·ga + (1 − α)·g and
// avg = √(sq − ga²) + ε, else avg = √sq + ε. With momentum > 0 the saved buffer is the direction
// (buf = μ·buf + g/avg, p −= lr·buf); without momentum d = g/avg needs the gradient the step consumed.

export function rmspropKernel(spec: DirectionSpec): DirectionKernel | UnknownDirection {
  const { eps } = spec;
  if (eps === null) return { unknown: `${spec.label}: eps is not stated` };
  const centered = spec.centered === true;
  const fromBuffer = spec.momentumActive === true;
  if (!fromBuffer && spec.weightDecay === null) return { unknown: `${spec.label}: weight decay is not stated` };
  const wd = spec.weightDecay ?? 0;
  const state = fromBuffer ? ['momentum_buffer', 'square_avg'] : ['square_avg'];
  if (centered) state.push('grad_avg');
  return {
    state,
    needsGrad: !fromBuffer,
    needsParam: !fromBuffer && wd !== 0,
    histogram: true,
    secondMoment: true,
    adamU: false,
    chunk(v, out, c) {
      const sq = v.state.square_avg!;
      const ga = centered ? v.state.grad_avg! : null;
      const buf = fromBuffer ? v.state.momentum_buffer! : null;
      const g = v.g;
      for (let i = 0; i < v.n; i++) {
        const s = ga ? sq[i] - ga[i] * ga[i] : sq[i];
        const root = Math.sqrt(s > 0 ? s : 0);
        if (buf) out[i] = buf[i];
        else out[i] = effectiveGrad(g!, v.p, i, spec.maximize, wd) / (root + eps);
        c.vHat += sq[i];
        if (sq[i] === 0) c.zero++;
        else if (root < eps) c.eps++;
      }
    },
    finalize() {
      return { scale: 1, alpha: spec.lr, beta: 0 };
    },
  };
}
