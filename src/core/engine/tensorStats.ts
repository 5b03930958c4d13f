import { TensorChunkReader, type FloatChunk } from '../io/tensorData';
import { ReaderError } from '../errors';
import type { TensorRef } from '../run/types';

// The fused tensor-statistics pass: every tensor of one layer at one step is read once, chunk by chunk
// in lockstep, and all figures are accumulated in float64 from the float32 (or wider) values:
// parameter, gradient and update RMS, Adam's normalized update u = m̂/(√v̂+ε) exactly as torch
// computes it (ε added after bias correction), the predicted step, ε-dominance, and a histogram of u.

/** The tensors of one layer that step t consumed and left. Any may be missing. */
export interface LayerTensorSet {
  layer: string;
  step: number | null;
  /** The parameter step t consumed. */
  paramBefore?: TensorRef;
  /** The parameter step t left (for the measured update). */
  paramAfter?: TensorRef;
  /** A saved parameter whose timing is "after step t" (checkpoints): the scale when paramBefore is missing. */
  paramSaved?: TensorRef;
  grad?: TensorRef;
  expAvg?: TensorRef;
  expAvgSq?: TensorRef;
  momentumBuffer?: TensorRef;
}

/** What the Adam figures need; null fields make the figures that need them null. */
export interface AdamStepHyper {
  lr: number | null;
  beta1: number | null;
  beta2: number | null;
  eps: number | null;
  weightDecay: number | null;
  /** AdamW's decoupled decay (p ← p·(1 − lr·wd) − lr·u); Adam's weight decay is inside the gradient. */
  decoupled: boolean;
}

export interface TensorFigures {
  numel: number;
  paramRms: number | null;
  paramNorm: number | null;
  /** 'before' when the parameter step t consumed was read, 'saved' for a checkpoint's (after step t). */
  paramTiming: 'before' | 'saved' | null;
  gradRms: number | null;
  gradNorm: number | null;
  updateRms: number | null;
  updateNorm: number | null;
  adamUpdateRms: number | null;
  /** RMS(lr·u [+ lr·wd·p]), the predicted update; divided by paramRms by the engine. */
  predictedUpdateRms: number | null;
  epsDominatedFraction: number | null;
  sqrtVHatRms: number | null;
  expAvgRms: number | null;
  decayRms: number | null;
  momentumBufferRms: number | null;
  nonFinite: { what: string; count: number; firstIndex: number }[];
  /** Histogram of u over U_HISTOGRAM_EDGES (values outside go to the end bins). */
  uHistogram: number[] | null;
}

export const U_HISTOGRAM_BINS = 60;
export const U_HISTOGRAM_RANGE: [number, number] = [-3, 3];
export const U_HISTOGRAM_EDGES: number[] = Array.from(
  { length: U_HISTOGRAM_BINS + 1 },
  (_, i) => U_HISTOGRAM_RANGE[0] + ((U_HISTOGRAM_RANGE[1] - U_HISTOGRAM_RANGE[0]) * i) / U_HISTOGRAM_BINS,
);

function sumSquares(a: FloatChunk): number {
  let s0 = 0;
  let s1 = 0;
  const n = a.length;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    const x = a[i];
    const y = a[i + 1];
    s0 += x * x;
    s1 += y * y;
  }
  if (i < n) s0 += a[i] * a[i];
  return s0 + s1;
}

function sumSquaredDiff(a: FloatChunk, b: FloatChunk): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    s += d * d;
  }
  return s;
}

function countNonFinite(a: FloatChunk): { count: number; first: number } {
  let count = 0;
  let first = -1;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    if (x !== x || x === Infinity || x === -Infinity) {
      if (first < 0) first = i;
      count++;
    }
  }
  return { count, first };
}

interface AdamAccumulator {
  uSq: number;
  epsCount: number;
  mSq: number;
  sqrtVSq: number;
  predSq: number;
  decaySq: number;
  hist: Float64Array;
}

// The histogram is counted in four interleaved sub-histograms (bin·4 + i mod 4): consecutive u values
// often fall in the same bin, and one counter would make every increment wait for the previous one.
const SUB = 4;

/** One pass over a chunk of exp_avg and exp_avg_sq: u, ε-dominance, histogram, predicted step lr·u. */
function adamChunk(m: FloatChunk, v: FloatChunk, invBc1: number, invBc2: number, eps: number, lr: number, acc: AdamAccumulator): void {
  let uSq = 0;
  let epsCount = 0;
  let mSq = 0;
  let vHatSum = 0;
  const hist = acc.hist;
  const scale = U_HISTOGRAM_BINS / (U_HISTOGRAM_RANGE[1] - U_HISTOGRAM_RANGE[0]);
  const shift = -U_HISTOGRAM_RANGE[0] * scale;
  const top = U_HISTOGRAM_BINS - 0.5;
  const n = m.length;
  for (let i = 0; i < n; i++) {
    const mi = m[i];
    const vHat = v[i] * invBc2;
    const sqrtVHat = Math.sqrt(vHat);
    const u = (mi * invBc1) / (sqrtVHat + eps);
    uSq += u * u;
    mSq += mi * mi;
    vHatSum += vHat;
    epsCount += sqrtVHat < eps ? 1 : 0;
    let b = u * scale + shift;
    b = b < 0 ? 0 : b > top ? top : b;
    hist[((b | 0) << 2) | (i & 3)]++;
  }
  acc.uSq += uSq;
  acc.epsCount += epsCount;
  acc.mSq += mSq;
  acc.sqrtVSq += vHatSum;
  acc.predSq += lr * lr * uSq;
}

/** AdamW: the predicted step lr·u + lr·wd·p needs the parameter, element by element. */
function decoupledDecayChunk(
  m: FloatChunk,
  v: FloatChunk,
  p: FloatChunk,
  invBc1: number,
  invBc2: number,
  eps: number,
  lr: number,
  lrWd: number,
  acc: AdamAccumulator,
): void {
  let predSq = 0;
  let decaySq = 0;
  for (let i = 0; i < m.length; i++) {
    const u = (m[i] * invBc1) / (Math.sqrt(v[i] * invBc2) + eps);
    const decay = lrWd * p[i];
    const pred = lr * u + decay;
    predSq += pred * pred;
    decaySq += decay * decay;
  }
  acc.predSq += predSq;
  acc.decaySq += decaySq;
}

const rms = (sumSq: number, n: number): number => (n > 0 ? Math.sqrt(sumSq / n) : 0);

/**
 * Reduce one layer's tensors at one step in a single fused pass. Throws ReaderError when the tensors of
 * the set disagree in size or a file cannot be read.
 */
export async function computeTensorFigures(
  set: LayerTensorSet,
  hyper: AdamStepHyper | null,
  chunkElements = 1 << 16,
): Promise<TensorFigures> {
  const param = set.paramBefore ?? set.paramSaved;
  const named: [string, TensorRef | undefined][] = [
    ['param', param],
    ['grad', set.grad],
    ['param_after', set.paramBefore ? set.paramAfter : undefined],
    ['exp_avg', set.expAvg],
    ['exp_avg_sq', set.expAvgSq],
    ['momentum_buffer', set.momentumBuffer],
  ];
  const present = named.filter((e): e is [string, TensorRef] => e[1] !== undefined);
  if (present.length === 0) throw new Error(`no tensors for layer ${set.layer}`);
  const numel = present[0][1].numel;
  for (const [what, ref] of present) {
    if (ref.numel !== numel) {
      throw new ReaderError(ref.source.path, `layer '${set.layer}': ${what} has ${ref.numel} elements but ${present[0][0]} has ${numel}`);
    }
  }

  const t = set.step;
  const adamReady =
    set.expAvg !== undefined &&
    set.expAvgSq !== undefined &&
    hyper !== null &&
    hyper.beta1 !== null &&
    hyper.beta2 !== null &&
    hyper.eps !== null &&
    t !== null &&
    t >= 1;
  const invBc1 = adamReady ? 1 / (1 - Math.pow(hyper!.beta1!, t!)) : 0;
  const invBc2 = adamReady ? 1 / (1 - Math.pow(hyper!.beta2!, t!)) : 0;
  const eps = adamReady ? hyper!.eps! : 0;
  const lr = hyper?.lr ?? null;
  const wd = hyper?.weightDecay ?? null;
  const predictionReady = adamReady && lr !== null && (!hyper!.decoupled || (wd !== null && param !== undefined));
  const lrWd = predictionReady && hyper!.decoupled ? lr! * wd! : 0;
  const useParamInAdam = predictionReady && hyper!.decoupled && lrWd !== 0;

  const readers = new Map<string, TensorChunkReader>();
  const sums = new Map<string, number>();
  const nonFinite = new Map<string, { count: number; firstIndex: number }>();
  let diffSq = 0;
  const acc: AdamAccumulator = {
    uSq: 0,
    epsCount: 0,
    mSq: 0,
    sqrtVSq: 0,
    predSq: 0,
    decaySq: 0,
    hist: new Float64Array(U_HISTOGRAM_BINS * SUB),
  };
  try {
    for (const [what, ref] of present) {
      readers.set(what, new TensorChunkReader(ref, chunkElements));
      sums.set(what, 0);
    }
    let offset = 0;
    while (offset < numel) {
      const chunks = new Map<string, FloatChunk>();
      for (const [what, reader] of readers) {
        const c = await reader.next();
        if (!c) throw new ReaderError(reader.ref.source.path, `tensor '${reader.ref.key}' ended early`);
        chunks.set(what, c);
      }
      for (const [what, c] of chunks) {
        const s = sumSquares(c);
        if (!Number.isFinite(s)) {
          const nf = countNonFinite(c);
          if (nf.count > 0) {
            const prev = nonFinite.get(what);
            if (prev) prev.count += nf.count;
            else nonFinite.set(what, { count: nf.count, firstIndex: offset + nf.first });
          }
        }
        sums.set(what, sums.get(what)! + s);
      }
      const p = chunks.get('param');
      const pa = chunks.get('param_after');
      if (p && pa) diffSq += sumSquaredDiff(pa, p);
      if (adamReady) {
        const m = chunks.get('exp_avg')!;
        const v = chunks.get('exp_avg_sq')!;
        if (useParamInAdam) {
          // lr·u + lr·wd·p does not follow from RMS(u): a second loop over the chunk (still in cache).
          const before = acc.predSq;
          adamChunk(m, v, invBc1, invBc2, eps, 0, acc);
          acc.predSq = before;
          decoupledDecayChunk(m, v, p!, invBc1, invBc2, eps, lr!, lrWd, acc);
        } else {
          adamChunk(m, v, invBc1, invBc2, eps, predictionReady ? lr! : 0, acc);
        }
      }
      offset += chunks.values().next().value!.length;
    }
  } finally {
    for (const r of readers.values()) r.close();
  }

  const has = (w: string): boolean => sums.has(w);
  const rmsOf = (w: string): number | null => (has(w) ? rms(sums.get(w)!, numel) : null);
  const normOf = (w: string): number | null => (has(w) ? Math.sqrt(sums.get(w)!) : null);
  return {
    numel,
    paramRms: rmsOf('param'),
    paramNorm: normOf('param'),
    paramTiming: set.paramBefore ? 'before' : set.paramSaved ? 'saved' : null,
    gradRms: rmsOf('grad'),
    gradNorm: normOf('grad'),
    updateRms: has('param_after') && has('param') ? rms(diffSq, numel) : null,
    updateNorm: has('param_after') && has('param') ? Math.sqrt(diffSq) : null,
    adamUpdateRms: adamReady ? rms(acc.uSq, numel) : null,
    predictedUpdateRms: predictionReady ? rms(acc.predSq, numel) : null,
    epsDominatedFraction: adamReady && numel > 0 ? acc.epsCount / numel : null,
    sqrtVHatRms: adamReady ? rms(acc.sqrtVSq, numel) : null,
    expAvgRms: rmsOf('exp_avg'),
    decayRms: predictionReady ? (hyper!.decoupled ? rms(acc.decaySq, numel) : 0) : null,
    momentumBufferRms: rmsOf('momentum_buffer'),
    nonFinite: [...nonFinite].map(([what, v]) => ({ what, ...v })),
    uHistogram: adamReady
      ? Array.from(
          { length: U_HISTOGRAM_BINS },
          (_, b) => acc.hist[b * SUB] + acc.hist[b * SUB + 1] + acc.hist[b * SUB + 2] + acc.hist[b * SUB + 3],
        )
      : null,
  };
}
