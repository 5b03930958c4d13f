import type { DirectionSpec } from './spec';
import { rmsOf, type DirectionKernel, type PassSums, type UnknownDirection } from './kernel';

// Adafactor (Shazeer & Stern 2018) as transformers and torch.optim compute it. The second moment of a matrix
// [..., R, C] is factored into row and column averages; V̂_rc = row_r·col_c / mean(row) (per leading index), and
// U = g/√V̂; the update is clipped by its RMS, U/max(1, RMS(U)/clip_threshold), and multiplied by the step size:
//  - transformers: lr_t = ρ_t·(max(ε2, RMS(w)) if scale_parameter else 1), ρ_t = min(1e-2 (warmup_init: 1e-6·t),
//    1/√t) with relative_step, else the group's lr; ε1 is added to g² before averaging (so it is in the saved
//    rows and columns); with beta1 the saved exp_avg *is* the (lr-scaled) update; decay p·(1 − wd·lr_t).
//  - torch: α_t = max(ε2, RMS(w))·min(lr, 1/√t), V̂ floored at ε1² (ε1 = the dtype's machine ε when None), the
//    row mean at ε1; decay p·(1 − lr·wd) with the group's lr; no first moment.
// RMS(w) is of the parameter the step consumed (transformers saves it as the state's `RMS`). Without a first moment
// d needs the gradient the step consumed: the state holds only squared statistics.

export interface AdafactorContext {
  shape: number[];
  /** exp_avg_sq_row / exp_avg_sq_col read whole (rows and columns of the factored moment). */
  whole: Record<string, Float64Array | undefined>;
  hasGrad: boolean;
  /** Machine ε of the parameter's dtype (torch's ε1 = None). */
  dtypeEps: number;
}

export function adafactorKernel(spec: DirectionSpec, ctx: AdafactorContext): DirectionKernel | UnknownDirection {
  const a = spec.adafactor;
  const t = spec.t;
  if (!a) return { unknown: `${spec.label}: its settings are not stated` };
  if (t === null || t < 1) return { unknown: `${spec.label}: the step count is unknown` };
  const hf = a.flavor === 'hf';
  const wd = spec.weightDecay ?? 0;
  const rho = hf
    ? a.relativeStep
      ? Math.min(a.warmupInit ? 1e-6 * t : 1e-2, 1 / Math.sqrt(t))
      : spec.lr
    : spec.lr === null
      ? null
      : Math.min(spec.lr, 1 / Math.sqrt(t));
  if (rho === null) return { unknown: `${spec.label}: the lr is not stated` };
  const scaled = hf ? a.scaleParameter : true;

  /** lr_t (transformers) / α_t (torch), from the parameter's RMS where the rule scales by it. */
  const stepSize = (s: PassSums): number | { unknown: string } => {
    if (!scaled) return rho;
    let rmsW = hf ? a.stateRms : null;
    if (rmsW === null) {
      if (s.pp === null || !s.paramIsBefore)
        return {
          unknown: `${spec.label}: the step size scales with RMS of the parameter the step consumed, which the input does not hold`,
        };
      rmsW = rmsOf(s.pp, s.n);
    }
    // transformers keeps RMS as a float32 tensor: where it is the scale, lr_t is a float32 product.
    if (hf && a.stateRms !== null && a.stateRms > a.eps2) return Math.fround(rmsW * Math.fround(rho));
    return Math.max(a.eps2, rmsW) * rho;
  };

  if (hf && a.beta1 !== null) {
    // The saved exp_avg is the update itself: d = exp_avg/lr_t.
    return {
      state: ['exp_avg'],
      needsGrad: false,
      needsParam: false,
      histogram: false,
      secondMoment: false,
      adamU: false,
      chunk(v, out) {
        const m = v.state.exp_avg!;
        for (let i = 0; i < v.n; i++) out[i] = m[i];
      },
      finalize(s) {
        const lrT = stepSize(s);
        if (typeof lrT !== 'number') return { scale: null, alpha: null, beta: 0, unknown: lrT.unknown };
        return { scale: 1 / lrT, alpha: 1, beta: wd * lrT, effectiveLr: lrT, updateClip: null };
      },
    };
  }
  if (!ctx.hasGrad) {
    return {
      unknown: `${spec.label} without a first moment: d = g/√V̂ needs the gradient the step consumed (the state holds only squared statistics)`,
    };
  }
  const shape = ctx.shape;
  const factored = shape.length >= 2;
  const R = factored ? shape[shape.length - 2] : 0;
  const C = factored ? shape[shape.length - 1] : 0;
  let rowFactor: Float64Array | null = null;
  let colFactor: Float64Array | null = null;
  const eps1 = a.eps1 ?? ctx.dtypeEps;
  if (factored) {
    const row = ctx.whole.exp_avg_sq_row;
    const col = ctx.whole.exp_avg_sq_col;
    if (!row || !col) return { unknown: `${spec.label}: the factored second moment (rows and columns) is missing` };
    const lead = row.length / R;
    if (!Number.isInteger(lead) || col.length !== lead * C) {
      return { unknown: `${spec.label}: rows (${row.length}) and columns (${col.length}) do not fit the shape [${shape}]` };
    }
    rowFactor = new Float64Array(row.length);
    colFactor = new Float64Array(col.length);
    for (let l = 0; l < lead; l++) {
      let mean = 0;
      for (let r = 0; r < R; r++) mean += row[l * R + r];
      mean /= R;
      if (hf) {
        for (let r = 0; r < R; r++) rowFactor[l * R + r] = 1 / Math.sqrt(row[l * R + r] / mean);
        for (let c = 0; c < C; c++) colFactor[l * C + c] = 1 / Math.sqrt(col[l * C + c]);
      } else {
        // torch: V̂ = row·col/max(mean, ε1), floored at ε1² per element (applied in chunk()).
        const m = Math.max(mean, eps1);
        for (let r = 0; r < R; r++) rowFactor[l * R + r] = row[l * R + r] / m;
        for (let c = 0; c < C; c++) colFactor[l * C + c] = col[l * C + c];
      }
    }
  }
  const second = 'exp_avg_sq';
  const floor = eps1 * eps1;
  return {
    state: factored ? [] : [second],
    needsGrad: true,
    needsParam: false,
    histogram: false,
    secondMoment: false,
    adamU: false,
    chunk(v, out) {
      const g = v.g!;
      const neg = spec.maximize;
      if (factored) {
        const plane = R * C;
        for (let i = 0; i < v.n; i++) {
          const k = v.offset + i;
          const l = Math.floor(k / plane);
          const rc = k - l * plane;
          const r = Math.floor(rc / C);
          const c = rc - r * C;
          const gi = neg ? -g[i] : g[i];
          if (hf) out[i] = gi * rowFactor![l * R + r] * colFactor![l * C + c];
          else {
            const vh = rowFactor![l * R + r] * colFactor![l * C + c];
            out[i] = gi / Math.sqrt(vh > floor ? vh : floor);
          }
        }
      } else {
        const s = v.state[second]!;
        for (let i = 0; i < v.n; i++) {
          const gi = neg ? -g[i] : g[i];
          out[i] = hf ? gi / Math.sqrt(s[i]) : gi / Math.sqrt(s[i] > floor ? s[i] : floor);
        }
      }
    },
    finalize(s) {
      const lrT = stepSize(s);
      if (typeof lrT !== 'number') return { scale: null, alpha: null, beta: 0, unknown: lrT.unknown };
      const clip = Math.max(1, rmsOf(s.dd, s.n) / a.clipThreshold);
      const beta = hf ? wd * lrT : spec.lr === null ? 0 : spec.lr * wd;
      return { scale: 1 / clip, alpha: lrT / clip, beta, effectiveLr: lrT, updateClip: clip };
    },
  };
}
