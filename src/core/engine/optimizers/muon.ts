import { muonScaleFactor } from '../../../shared/optimizers';
import { formatNumber } from '../../../shared/format';
import type { DirectionSpec } from './spec';
import { decayTerms, type DirectionKernel, type UnknownDirection } from './kernel';
import { newtonSchulz, newtonSchulzFlops } from './newtonSchulz';

// Muon (Keller Jordan's formulation; torch.optim.Muon; Moonlight): the momentum buffer (EMA form
// buf = β·buf + (1 − β)·g, or Moonlight's sum buf = μ·buf + g) is orthogonalized by Newton–Schulz —
// with Nesterov (the default everywhere) the input is (1 − β)·g + β·buf (sum form: g + μ·buf), which needs the
// gradient the step consumed — and scaled by the shape convention: d = c·NS(input), c = √max(1, rows/cols)
// (original) or 0.2·√max(rows, cols) (match_rms_adamw). Decoupled decay p·(1 − lr·wd) with the unscaled lr.
// Weights of more than two dimensions are orthogonalized as (shape[0], rest), as Keller Jordan's code does.

/** Above this many floating-point operations the orthogonalization is not run (≈ 10 s of float64 matmul here). */
export const MUON_NS_MAX_FLOPS = 1e10;

export interface MuonContext {
  shape: number[];
  /** momentum_buffer and (with Nesterov) grad, read whole. */
  whole: Record<string, Float64Array | undefined>;
  hasGrad: boolean;
}

export function muonNeedsGrad(spec: DirectionSpec): boolean {
  return spec.muon?.nesterov !== false;
}

export function muonKernel(spec: DirectionSpec, ctx: MuonContext): DirectionKernel | UnknownDirection {
  const mu = spec.muon;
  if (!mu) return { unknown: `${spec.label}: its settings are not stated` };
  const shape = ctx.shape;
  if (shape.length < 2) return { unknown: `${spec.label}: a ${shape.length}-D parameter is not orthogonalized (Muon runs on matrices)` };
  const rows = shape[0];
  const cols = shape.slice(1).reduce((x, y) => x * y, 1);
  const nesterov = mu.nesterov;
  if (nesterov && !ctx.hasGrad) {
    return {
      unknown: `${spec.label}: with Nesterov momentum the orthogonalized input (1 − β)·g + β·buf needs the gradient the step consumed`,
    };
  }
  const flops = newtonSchulzFlops(rows, cols, mu.nsSteps);
  if (flops > MUON_NS_MAX_FLOPS) {
    return {
      unknown: `${spec.label}: orthogonalizing the ${rows}×${cols} momentum takes ${formatNumber(flops)} floating-point operations, above the ${formatNumber(MUON_NS_MAX_FLOPS)} budget`,
    };
  }
  const buf = ctx.whole.momentum_buffer;
  const g = ctx.whole.grad;
  if (!buf || (nesterov && !g)) return { unknown: `${spec.label}: the momentum buffer could not be read` };
  const input = new Float64Array(buf.length);
  const beta = mu.momentum;
  for (let i = 0; i < input.length; i++) {
    if (!nesterov) input[i] = buf[i];
    else if (mu.bufferForm === 'ema') input[i] = (1 - beta) * g![i] + beta * buf[i];
    else input[i] = g![i] + beta * buf[i];
  }
  const o = newtonSchulz(input, rows, cols, mu.nsSteps, mu.nsCoefficients, mu.nsEps, mu.nsEpsMode);
  const c =
    mu.scaling === 'original'
      ? muonScaleFactor('original', shape[shape.length - 2], shape[shape.length - 1])
      : muonScaleFactor('match_rms_adamw', shape[0], shape[1]);
  return {
    state: [],
    needsGrad: false,
    needsParam: false,
    histogram: false,
    secondMoment: false,
    adamU: false,
    chunk(v, out) {
      for (let i = 0; i < v.n; i++) out[i] = c * o[v.offset + i];
    },
    finalize() {
      return { scale: 1, ...decayTerms(spec, spec.lr) };
    },
  };
}
