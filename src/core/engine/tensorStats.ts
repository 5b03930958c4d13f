import { readTensorValues, TensorChunkReader, type FloatChunk } from '../io/tensorData';
import { ReaderError } from '../errors';
import { AUXILIARY_STATE_ROLES, type OptimizerStateRole, type TensorRef } from '../run/types';
import type { DirectionSpec } from './optimizers/spec';
import type { DirectionKernel, SecondMomentCounts } from './optimizers/kernel';
import { makeKernel, wholeRoles } from './optimizers/index';
import { bitsandbytesRoles, dequantize, inferBlockSize } from './optimizers/bitsandbytes';
import { measuredDirectionRms } from './optimizers/measured';
import { statsKernels, type AdamChunkAcc, type StatsKernels } from './wasm/kernels';

// The fused tensor-statistics pass: every tensor of one layer at one step is read once, chunk by chunk in lockstep,
// and all figures are accumulated in float64 from the float32 (or wider) values: parameter, gradient and update RMS,
// the optimizer's normalized direction d rebuilt from its saved state by the layer's update rule
// (engine/optimizers/), the predicted step, ε-dominance and zero second moments, and a histogram of d.
// A tensor that cannot be read (a short file, a size that does not fit the layer) is dropped with an issue and the
// pass runs again without it: the figures that need it are null, the others are kept.

/** The tensors of one layer that step t consumed and left. Any may be missing. */
export interface LayerTensorSet {
  layer: string;
  step: number | null;
  /** The parameter's shape (Adafactor's factoring and Muon's matrix need it; else the tensors' own). */
  shape?: number[];
  /** The parameter step t consumed. */
  paramBefore?: TensorRef;
  /** The parameter step t left (for the measured update). */
  paramAfter?: TensorRef;
  /** A saved parameter whose timing is "after step t" (checkpoints): the scale when paramBefore is missing. */
  paramSaved?: TensorRef;
  /** The parameter saved `stepsSpanned` steps before paramSaved (consecutive checkpoints): the net change over them. */
  paramEarlier?: TensorRef;
  stepsSpanned?: number;
  grad?: TensorRef;
  /** Optimizer state after step t, by role. */
  state?: Partial<Record<OptimizerStateRole, TensorRef>>;
}

/** A tensor of the set that could not be used: the figures that need it are null. */
export interface TensorIssue {
  what: string;
  path: string;
  offset?: number;
  message: string;
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
  /** RMS(p_saved − p_earlier) over `stepsSpanned` steps, and RMS(p_earlier). */
  spanUpdateRms: number | null;
  earlierParamRms: number | null;
  /** Adam's u = m̂/(√v̂+ε) (Adam, AdamW, AMSGrad, 8-bit Adam): = directionRms there. */
  adamUpdateRms: number | null;
  /** RMS of the normalized direction d (update ÷ lr, decoupled decay excluded). */
  directionRms: number | null;
  /** 'state': rebuilt from the optimizer state by the update rule; 'measured': (p_before − p_after)/lr, decay removed. */
  directionSource: 'state' | 'measured' | null;
  /** The rule applied (provenance wording). */
  directionLabel: string | null;
  /** RMS(lr·d + decay), the predicted update; divided by paramRms by the engine. */
  predictedUpdateRms: number | null;
  epsDominatedFraction: number | null;
  zeroSecondMomentFraction: number | null;
  sqrtVHatRms: number | null;
  expAvgRms: number | null;
  decayRms: number | null;
  momentumBufferRms: number | null;
  trustRatio: number | null;
  effectiveLr: number | null;
  updateClip: number | null;
  nonFinite: { what: string; count: number; firstIndex: number }[];
  /** Histogram of d over U_HISTOGRAM_EDGES (values outside go to the end bins); Adam: of u. */
  uHistogram: number[] | null;
  /** Why the direction or the prediction is unknown (null when both are known or no rule applies). */
  unknown: string | null;
  issues: TensorIssue[];
}

export const U_HISTOGRAM_BINS = 60;
export const U_HISTOGRAM_RANGE: [number, number] = [-3, 3];
export const U_HISTOGRAM_EDGES: number[] = Array.from(
  { length: U_HISTOGRAM_BINS + 1 },
  (_, i) => U_HISTOGRAM_RANGE[0] + ((U_HISTOGRAM_RANGE[1] - U_HISTOGRAM_RANGE[0]) * i) / U_HISTOGRAM_BINS,
);

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

// The histogram is counted in four interleaved sub-histograms (bin·4 + i mod 4): consecutive values often fall in
// the same bin, and one counter would make every increment wait for the previous one.
const SUB = 4;
const H_SCALE = U_HISTOGRAM_BINS / (U_HISTOGRAM_RANGE[1] - U_HISTOGRAM_RANGE[0]);
const H_SHIFT = -U_HISTOGRAM_RANGE[0] * H_SCALE;
const H_TOP = U_HISTOGRAM_BINS - 0.5;

/** Σd², Σd·p and the histogram of one chunk of d̃. */
function accumulateDirection(
  d: Float64Array,
  n: number,
  p: FloatChunk | null,
  hist: Float64Array | null,
  acc: { dd: number; dp: number },
): void {
  let dd = 0;
  let dp = 0;
  if (p) {
    for (let i = 0; i < n; i++) {
      const x = d[i];
      dd += x * x;
      dp += x * p[i];
    }
  } else {
    for (let i = 0; i < n; i++) dd += d[i] * d[i];
  }
  if (hist) {
    for (let i = 0; i < n; i++) {
      let b = d[i] * H_SCALE + H_SHIFT;
      b = b < 0 ? 0 : b > H_TOP ? H_TOP : b;
      hist[((b | 0) << 2) | (i & 3)]++;
    }
  }
  acc.dd += dd;
  acc.dp += dp;
}

/** A stream failed mid-pass: the pass is run again without it. */
class StreamFailure extends Error {
  constructor(
    readonly what: string,
    readonly failure: unknown,
  ) {
    super(String((failure as Error)?.message ?? failure));
  }
}

function issueOf(what: string, ref: TensorRef | undefined, e: unknown): TensorIssue {
  if (e instanceof ReaderError) return { what, path: e.path, offset: e.offset, message: e.reason };
  return { what, path: ref?.source.path ?? '', message: String((e as Error)?.message ?? e) };
}

/**
 * Elements per chunk of the pass: 4 streams × 256 KiB stay in a core's L2 between the read and the kernels (the 1 GiB
 * snapshot, one thread, ms per layer of 4 × 16M: 32K chunks 85, 64K 84–89, 128K 88–99, 256K 86–97).
 */
export const CHUNK_ELEMENTS = 1 << 16;

const DTYPE_EPS: Record<string, number> = { F32: 2 ** -23, F64: 2 ** -52, F16: 2 ** -10, BF16: 2 ** -7, U8: 2 ** -23 };

/**
 * Reduce one layer's tensors at one step in a single fused pass. A tensor that cannot be read is dropped with an
 * issue (in `issues`) and the figures that need it are null; only a set with no tensors at all is an error.
 */
export async function computeTensorFigures(
  set: LayerTensorSet,
  spec: DirectionSpec | null,
  chunkElements = CHUNK_ELEMENTS,
): Promise<TensorFigures> {
  const issues: TensorIssue[] = [];
  const excluded = new Set<string>();
  for (;;) {
    try {
      return await pass(set, spec, chunkElements, issues, excluded);
    } catch (e) {
      if (!(e instanceof StreamFailure) || excluded.has(e.what)) throw e instanceof StreamFailure ? e.failure : e;
      issues.push(issueOf(e.what, refOf(set, e.what), e.failure));
      excluded.add(e.what);
    }
  }
}

function refOf(set: LayerTensorSet, what: string): TensorRef | undefined {
  switch (what) {
    case 'param':
      return set.paramBefore ?? set.paramSaved;
    case 'param_after':
      return set.paramAfter;
    case 'param_earlier':
      return set.paramEarlier;
    case 'grad':
      return set.grad;
    default:
      return set.state?.[what as OptimizerStateRole];
  }
}

interface Stream {
  what: string;
  ref: TensorRef;
  reader?: TensorChunkReader;
}

/** What the chunk loop reads: the streams in lockstep and what turns their chunks into sums. */
interface ChunkLoop {
  streams: Stream[];
  numel: number;
  chunkElements: number;
  kernel: DirectionKernel | null;
  decoders: { from: string; qmap: Float64Array; absmax: Float64Array; block: number }[];
  /** Kernel role → the stream that holds it. */
  aliases: Map<string, string>;
  /** Σ(p − p_after)·p is wanted (the measured direction). */
  measured: boolean;
  /** Only these elements (a part of a layer split across lanes), each chunk's sums recorded in `record`. */
  range?: ChunkRange;
  record?: ChunkPartials;
}

/** Elements [from, to) of a layer, on chunk boundaries. */
export interface ChunkRange {
  from: number;
  to: number;
}

/**
 * A part of a layer's pass (plain data: it crosses from a worker): each chunk's sums in chunk order, so the parts of a
 * layer add up, in order, to exactly the sums of one pass over it; counts and histogram are integers.
 */
export interface ChunkPartials {
  sums: Record<string, number[]>;
  nonFinite: Record<string, { count: number; firstIndex: number }>;
  diffSq: number[];
  earlierSq: number[];
  diffDotP: number[];
  dd: number[];
  dp: number[];
  vHat: number[];
  zero: number;
  eps: number;
  undetermined: number;
  hist: number[] | null;
}

/** A part's result: its partials; `whole`: this layer's pass cannot be split (run it whole); `failed`: a tensor failed. */
export type PartResult = { partials: ChunkPartials } | { whole: true } | { failed: true };

/** The layer's sums after the chunk loop. */
interface LoopSums {
  sums: Map<string, number>;
  nonFinite: Map<string, { count: number; firstIndex: number }>;
  diffSq: number;
  earlierSq: number;
  /** Σ(p − p_after)·p, for the measured direction (p_before − p_after)/lr with the decay removed. */
  diffDotP: number;
  dirAcc: { dd: number; dp: number };
  counts: SecondMomentCounts;
  /** The histogram of d (bin·4 + i mod 4), where the kernel's d̃ is d element by element. */
  hist: Float64Array | null;
}

/**
 * Read every stream chunk by chunk in lockstep and accumulate the sums. A function of its own, apart from the pass's
 * setup and finalization: V8 optimizes the function that holds a hot loop whole, and optimizing the whole pass took
 * 150–450 ms of a core per thread on the 1 GiB snapshot, longer than the pass itself.
 */
async function streamChunks(c: ChunkLoop): Promise<LoopSums> {
  const { streams, numel, chunkElements, kernel, decoders, aliases } = c;
  const hist = kernel?.histogram ? new Float64Array(U_HISTOGRAM_BINS * SUB) : null;
  const sums = new Map<string, number>();
  const nonFinite = new Map<string, { count: number; firstIndex: number }>();
  const out: LoopSums = {
    sums,
    nonFinite,
    diffSq: 0,
    earlierSq: 0,
    diffDotP: 0,
    dirAcc: { dd: 0, dp: 0 },
    counts: { zero: 0, eps: 0, vHat: 0, undetermined: 0 },
    hist,
  };
  const kernels = statsKernels();
  kernels.startPass();
  const adamAcc: AdamChunkAcc = {
    uu: 0,
    up: 0,
    vh: 0,
    zero: 0,
    eps: 0,
    undetermined: 0,
    hist: hist ?? new Float64Array(U_HISTOGRAM_BINS * SUB),
  };
  const room = Math.min(chunkElements, Math.max(1, numel));
  const scratch = kernel ? new Float64Array(room) : null;
  const decoded = new Map<string, Float64Array>();
  for (const d of decoders) decoded.set(d.from, new Float64Array(room));
  const decodes = (what: string): boolean => decoders.some((d) => d.from === what);

  // Float32 streams are read straight into the kernels' memory (WebAssembly: no copy per chunk).
  const f32 = streams.filter((s) => s.ref.dtype === 'F32' && s.ref.source.compression === 'none');
  const regions = kernels.reserve(f32.length, room);
  try {
    for (const s of streams) {
      try {
        const r = f32.indexOf(s);
        s.reader = new TensorChunkReader(s.ref, chunkElements, r >= 0 ? regions[r] : undefined);
      } catch (e) {
        throw new StreamFailure(s.what, e);
      }
      sums.set(s.what, 0);
    }
    const record = c.record;
    const step = (chunks: Map<string, FloatChunk>, offset: number): number => {
      const n = accumulateChunk(c, chunks, offset, kernels, adamAcc, scratch, decoded, decodes, out);
      if (record) takeChunk(out, record);
      return n;
    };
    const from = c.range?.from ?? 0;
    const end = Math.min(numel, c.range?.to ?? numel);
    if (from > 0) for (const s of streams) s.reader!.seek(from);
    // Stored tensors (the common case) are read synchronously to the end in one call, so this async loop runs once
    // and never becomes hot; inflated ones take a promise per chunk.
    if (streams.every((s) => s.reader!.stored)) storedLoop(streams, from, end, step);
    else {
      let offset = 0;
      const chunks = new Map<string, FloatChunk>();
      while (offset < numel && streams.length > 0) {
        chunks.clear();
        for (const s of streams) {
          let ch: FloatChunk | null;
          try {
            ch = await s.reader!.next();
          } catch (e) {
            throw new StreamFailure(s.what, e);
          }
          chunks.set(s.what, ch ?? endedEarly(s));
        }
        offset += step(chunks, offset);
      }
    }
  } finally {
    for (const s of streams) s.reader?.close();
  }
  if (kernel?.fusedAdam) {
    kernels.flushAdam(adamAcc);
    out.counts.zero += adamAcc.zero;
    out.counts.eps += adamAcc.eps;
    out.counts.undetermined += adamAcc.undetermined;
  }
  if (c.record) {
    Object.assign(c.record, { zero: out.counts.zero, eps: out.counts.eps, undetermined: out.counts.undetermined });
    c.record.hist = hist ? [...hist] : null;
    for (const [what, nf] of nonFinite) c.record.nonFinite[what] = { ...nf };
  } else applyAliases(out.sums, aliases, decodes);
  return out;
}

/** State roles held by another stream take its sums (bitsandbytes' float32 state1 is exp_avg). */
function applyAliases(sums: Map<string, number>, aliases: Map<string, string>, decodes: (what: string) => boolean): void {
  for (const [target, from] of aliases) if (!decodes(from) && sums.has(from)) sums.set(target, sums.get(from)!);
}

function emptyPartials(): ChunkPartials {
  return {
    sums: {},
    nonFinite: {},
    diffSq: [],
    earlierSq: [],
    diffDotP: [],
    dd: [],
    dp: [],
    vHat: [],
    zero: 0,
    eps: 0,
    undetermined: 0,
    hist: null,
  };
}

/** Record the chunk just accumulated and start the next from zero (0 + s is s: the recorded values are the chunk's). */
function takeChunk(out: LoopSums, r: ChunkPartials): void {
  for (const [what, v] of out.sums) {
    (r.sums[what] ??= []).push(v);
    out.sums.set(what, 0);
  }
  r.diffSq.push(out.diffSq);
  r.earlierSq.push(out.earlierSq);
  r.diffDotP.push(out.diffDotP);
  r.dd.push(out.dirAcc.dd);
  r.dp.push(out.dirAcc.dp);
  r.vHat.push(out.counts.vHat);
  out.diffSq = out.earlierSq = out.diffDotP = out.dirAcc.dd = out.dirAcc.dp = out.counts.vHat = 0;
}

/** The sums of one pass from its parts, added chunk by chunk in order (the same additions as one pass makes). */
function foldPartials(setup: PassSetup, parts: ChunkPartials[]): LoopSums {
  const fold = (pick: (p: ChunkPartials) => number[] | undefined): number => {
    let acc = 0;
    for (const p of parts) for (const v of pick(p) ?? []) acc += v;
    return acc;
  };
  const sums = new Map<string, number>();
  for (const s of setup.streams)
    sums.set(
      s.what,
      fold((p) => p.sums[s.what]),
    );
  const nonFinite = new Map<string, { count: number; firstIndex: number }>();
  for (const p of parts) {
    for (const [what, nf] of Object.entries(p.nonFinite)) {
      const prev = nonFinite.get(what);
      if (prev) prev.count += nf.count;
      else nonFinite.set(what, { ...nf });
    }
  }
  const hist = setup.kernel?.histogram ? new Float64Array(U_HISTOGRAM_BINS * SUB) : null;
  if (hist) for (const p of parts) p.hist?.forEach((v, k) => (hist[k] += v));
  const count = (pick: (p: ChunkPartials) => number): number => parts.reduce((a, p) => a + pick(p), 0);
  const out: LoopSums = {
    sums,
    nonFinite,
    diffSq: fold((p) => p.diffSq),
    earlierSq: fold((p) => p.earlierSq),
    diffDotP: fold((p) => p.diffDotP),
    dirAcc: { dd: fold((p) => p.dd), dp: fold((p) => p.dp) },
    counts: { zero: count((p) => p.zero), eps: count((p) => p.eps), vHat: fold((p) => p.vHat), undetermined: count((p) => p.undetermined) },
    hist,
  };
  applyAliases(sums, setup.aliases, () => false);
  return out;
}

/**
 * Whether a layer's pass can be split into element ranges on several lanes with the one pass's sums bit for bit: every
 * tensor stored (read by offset), no 8-bit codes, and a rule whose sums are per chunk (Adam's fused kernel, or none).
 */
function splittable(p: PassSetup): boolean {
  return (
    p.decoders.size === 0 &&
    (p.kernel === null || p.kernel.fusedAdam !== undefined) &&
    p.streams.every((s) => s.ref.source.compression === 'none')
  );
}

/** The pass over elements [range.from, range.to) of a layer: each chunk's sums, for `combineTensorParts`. */
export async function computeTensorPart(
  set: LayerTensorSet,
  spec: DirectionSpec | null,
  range: ChunkRange,
  chunkElements = CHUNK_ELEMENTS,
): Promise<PartResult> {
  try {
    const setup = await setupPass(set, spec, [], new Set());
    if (!splittable(setup)) return { whole: true };
    const record = emptyPartials();
    await streamChunks({ ...loopOf(setup, chunkElements), range, record });
    return { partials: record };
  } catch {
    // The layer is run whole, where a tensor that fails becomes an issue as in any pass.
    return { failed: true };
  }
}

/** A layer's figures from the partials of its element ranges, in order (= `computeTensorFigures` bit for bit). */
export async function combineTensorParts(set: LayerTensorSet, spec: DirectionSpec | null, parts: ChunkPartials[]): Promise<TensorFigures> {
  const issues: TensorIssue[] = [];
  const setup = await setupPass(set, spec, issues, new Set());
  return finishPass(setup, foldPartials(setup, parts), issues);
}

function endedEarly(s: Stream): never {
  throw new StreamFailure(s.what, new ReaderError(s.ref.source.path, `tensor '${s.ref.key}' ended early`));
}

/** The chunk loop over stored streams: synchronous reads, chunk by chunk in lockstep, elements [from, end). */
function storedLoop(streams: Stream[], from: number, end: number, step: (chunks: Map<string, FloatChunk>, offset: number) => number): void {
  const chunks = new Map<string, FloatChunk>();
  let offset = from;
  while (offset < end && streams.length > 0) {
    chunks.clear();
    for (const s of streams) {
      let ch: FloatChunk | null;
      try {
        ch = s.reader!.nextSync();
      } catch (e) {
        throw new StreamFailure(s.what, e);
      }
      chunks.set(s.what, ch ?? endedEarly(s));
    }
    offset += step(chunks, offset);
  }
}

/** One chunk of every stream into the sums; returns the chunk's length. */
function accumulateChunk(
  c: ChunkLoop,
  chunks: Map<string, FloatChunk>,
  offset: number,
  kernels: StatsKernels,
  adamAcc: AdamChunkAcc,
  scratch: Float64Array | null,
  decoded: Map<string, Float64Array>,
  decodes: (what: string) => boolean,
  out: LoopSums,
): number {
  const { kernel, aliases } = c;
  const { sums, nonFinite, dirAcc, counts } = out;
  const n = chunks.values().next().value!.length;
  for (const dec of c.decoders)
    chunks.set(
      `decoded:${dec.from}`,
      dequantize(chunks.get(dec.from)!, n, offset, dec.qmap, dec.absmax, dec.block, decoded.get(dec.from)!),
    );
  for (const [what, ch] of chunks) {
    if (what.startsWith('decoded:') || decodes(what)) continue;
    const s = kernels.sumsq(ch);
    if (!Number.isFinite(s)) {
      const nf = countNonFinite(ch);
      if (nf.count > 0) {
        const prev = nonFinite.get(what);
        if (prev) prev.count += nf.count;
        else nonFinite.set(what, { count: nf.count, firstIndex: offset + nf.first });
      }
    }
    sums.set(what, sums.get(what)! + s);
  }
  const p = chunks.get('param') ?? null;
  const pa = chunks.get('param_after');
  const pe = chunks.get('param_earlier');
  if (p && pa) out.diffSq += kernels.sumsqdiff(pa, p);
  if (p && pe) out.earlierSq += kernels.sumsqdiff(p, pe);
  if (c.measured && p && pa) {
    let m = 0;
    for (let i = 0; i < n; i++) m += (p[i] - pa[i]) * p[i];
    out.diffDotP += m;
  }
  if (kernel) {
    const state: Record<string, FloatChunk | undefined> = {};
    for (const r of kernel.state) {
      const from = aliases.get(r) ?? r;
      state[r] = decodes(from) ? chunks.get(`decoded:${from}`) : chunks.get(from);
    }
    const fused = kernel.fusedAdam;
    if (fused) {
      kernels.adam(state[fused.m]!, state[fused.v]!, p, fused.a, fused.b, fused.vs, fused.eps, adamAcc);
      dirAcc.dd += adamAcc.uu;
      dirAcc.dp += adamAcc.up;
      counts.vHat += adamAcc.vh;
    } else {
      kernel.chunk!({ offset, n, p, g: chunks.get('grad') ?? null, state }, scratch!, counts);
      accumulateDirection(scratch!, n, p, out.hist, dirAcc);
    }
  }
  // State roles served by a decoder are summed as the values they hold (exp_avg's RMS of 8-bit Adam).
  for (const [target, from] of aliases) {
    const d = decodes(from) ? chunks.get(`decoded:${from}`)! : null;
    if (d) sums.set(target, (sums.get(target) ?? 0) + kernels.sumsq(d));
  }
  return n;
}

/** What the pass streams and the rule it applies, after the layer's tensors are checked. */
interface PassSetup {
  set: LayerTensorSet;
  spec: DirectionSpec | null;
  streams: Stream[];
  numel: number;
  kernel: DirectionKernel | null;
  /** Why the direction is unknown, as far as the setup knows. */
  unknown: string | null;
  decoders: Map<string, { from: string; qmap: Float64Array; absmax: Float64Array; block: number }>;
  /** Kernel role → the stream that holds it. */
  aliases: Map<string, string>;
}

async function pass(
  set: LayerTensorSet,
  spec: DirectionSpec | null,
  chunkElements: number,
  issues: TensorIssue[],
  excluded: Set<string>,
): Promise<TensorFigures> {
  const setup = await setupPass(set, spec, issues, excluded);
  return finishPass(setup, await streamChunks(loopOf(setup, chunkElements)), issues);
}

function loopOf(p: PassSetup, chunkElements: number): ChunkLoop {
  return {
    streams: p.streams,
    numel: p.numel,
    chunkElements,
    kernel: p.kernel,
    decoders: [...p.decoders.values()],
    aliases: p.aliases,
    measured: p.spec !== null && p.set.paramBefore !== undefined,
  };
}

async function setupPass(
  set: LayerTensorSet,
  spec: DirectionSpec | null,
  issues: TensorIssue[],
  excluded: Set<string>,
): Promise<PassSetup> {
  const param = set.paramBefore ?? set.paramSaved;
  const candidates: [string, TensorRef | undefined][] = [
    ['param', param],
    ['param_after', set.paramBefore ? set.paramAfter : undefined],
    ['param_earlier', !set.paramBefore && set.paramSaved ? set.paramEarlier : undefined],
    ['grad', set.grad],
  ];
  for (const [role, ref] of Object.entries(set.state ?? {}) as [OptimizerStateRole, TensorRef][]) {
    if (!AUXILIARY_STATE_ROLES.has(role)) candidates.push([role, ref]);
  }
  const present = candidates.filter((e): e is [string, TensorRef] => e[1] !== undefined && !excluded.has(e[0]));
  const allRefs = candidates.filter((e) => e[1] !== undefined);
  if (allRefs.length === 0 && Object.keys(set.state ?? {}).length === 0) throw new Error(`no tensors for layer ${set.layer}`);
  const numel = (param ?? allRefs[0]?.[1] ?? Object.values(set.state ?? {})[0])!.numel;
  const streams: Stream[] = [];
  for (const [what, ref] of present) {
    if (ref.numel !== numel) {
      issues.push({
        what,
        path: ref.source.path,
        message: `layer '${set.layer}': ${what} '${ref.key}' has ${ref.numel} elements but the layer has ${numel}; not used`,
      });
      excluded.add(what);
      continue;
    }
    streams.push({ what, ref });
  }
  const has = (w: string): boolean => streams.some((s) => s.what === w);
  const shape = set.shape ?? param?.shape ?? set.grad?.shape ?? [numel];

  // The update rule, with what it reads whole and the state it streams (8-bit codes dequantized into their role).
  let kernel: DirectionKernel | null = null;
  let unknown: string | null = null;
  const decoders = new Map<string, { from: string; qmap: Float64Array; absmax: Float64Array; block: number }>();
  const aliases = new Map<string, string>(); // kernel role → stream
  if (spec) {
    const readWhole = async (role: string, ref: TensorRef | undefined): Promise<Float64Array | undefined> => {
      if (!ref || excluded.has(role)) return undefined;
      try {
        return await readTensorValues(ref);
      } catch (e) {
        issues.push(issueOf(role, ref, e));
        excluded.add(role);
        return undefined;
      }
    };
    if (spec.bitsandbytes) {
      const roles = bitsandbytesRoles(spec.kind);
      if (!roles) unknown = `${spec.label}: bitsandbytes' state layout for this optimizer is not rebuilt`;
      else {
        for (const [k, target] of [['1', roles.state1] as const, ['2', roles.state2] as const]) {
          if (!target) continue;
          const from = `state${k}`;
          const ref = set.state?.[from as OptimizerStateRole];
          if (!ref || !has(from)) continue;
          aliases.set(target, from);
          // 8-bit codes come with their map and per-block absmax (float32 state has neither).
          if (!set.state?.[`qmap${k}` as OptimizerStateRole] && ref.dtype !== 'U8') continue;
          const qmap = await readWhole(`qmap${k}`, set.state?.[`qmap${k}` as OptimizerStateRole]);
          const absmax = await readWhole(`absmax${k}`, set.state?.[`absmax${k}` as OptimizerStateRole]);
          const block = absmax ? inferBlockSize(numel, absmax.length) : null;
          if (!qmap || qmap.length !== 256 || !absmax || block === null) {
            unknown = `${spec.label}: ${from} holds 8-bit codes but its quantization map (qmap${k}, 256 entries) or per-block absmax${k} is missing or does not fit`;
            aliases.delete(target);
            continue;
          }
          decoders.set(from, { from, qmap, absmax, block });
        }
      }
    }
    const whole: Record<string, Float64Array | undefined> = {};
    if (unknown === null) {
      for (const role of wholeRoles(spec, shape, has('grad'))) {
        whole[role] = await readWhole(role, role === 'grad' ? set.grad : set.state?.[role as OptimizerStateRole]);
      }
      const k = makeKernel(spec, { shape, hasGrad: has('grad'), whole, dtypeEps: DTYPE_EPS[param?.dtype ?? 'F32'] ?? 2 ** -23 });
      if ('unknown' in k) unknown = k.unknown;
      else {
        const missing = k.state.filter((r) => !has(aliases.get(r) ?? r));
        if (missing.length) unknown = `${spec.label}: the input has no ${missing.join(', ')} for this layer`;
        else if (k.needsGrad && !has('grad'))
          unknown = `${spec.label}: d needs the gradient the step consumed (the saved state is after the step), and the input has none`;
        else if (k.needsParam && !has('param')) unknown = `${spec.label}: d needs the parameter the step consumed, and the input has none`;
        else kernel = k;
      }
    }
  }

  return { set, spec, streams, numel, kernel, unknown, decoders, aliases };
}

/** The figures from the layer's sums. */
function finishPass(setup: PassSetup, acc: LoopSums, issues: TensorIssue[]): TensorFigures {
  const { set, spec, streams, numel, kernel } = setup;
  let unknown = setup.unknown;
  const has = (w: string): boolean => streams.some((s) => s.what === w);
  const { sums, nonFinite, diffSq, earlierSq, diffDotP, dirAcc, counts, hist } = acc;

  const rms = (sumSq: number): number => (numel > 0 ? Math.sqrt(sumSq / numel) : 0);
  const rmsOf = (w: string): number | null => (sums.has(w) ? rms(sums.get(w)!) : null);
  const normOf = (w: string): number | null => (sums.has(w) ? Math.sqrt(sums.get(w)!) : null);
  const pp = sums.has('param') ? sums.get('param')! : null;

  let directionRms: number | null = null;
  let directionSource: TensorFigures['directionSource'] = null;
  let predicted: number | null = null;
  let decayRms: number | null = null;
  let trustRatio: number | null = null;
  let effectiveLr: number | null = null;
  let updateClip: number | null = null;
  let histogram: number[] | null = null;
  if (kernel) {
    const r = kernel.finalize({
      n: numel,
      dd: dirAcc.dd,
      dp: dirAcc.dp,
      pp,
      paramIsBefore: set.paramBefore !== undefined && has('param'),
      gg: sums.get('grad') ?? null,
    });
    if (r.unknown) unknown = r.unknown;
    if (counts.undetermined > 0) {
      unknown = `${spec!.label}: ${counts.undetermined} of ${numel} elements have a second moment of 0 but a first moment that is not 0, so the saved state does not determine their update${spec!.bitsandbytes ? ' (8-bit quantization rounded v to 0; the step used the float32 moments)' : ''}`;
      r.scale = null;
      r.alpha = null;
    }
    if (r.scale !== null) {
      directionRms = r.directionRms ?? Math.abs(r.scale) * rms(dirAcc.dd);
      directionSource = 'state';
    }
    trustRatio = r.trustRatio ?? null;
    effectiveLr = r.effectiveLr ?? null;
    updateClip = r.updateClip ?? null;
    if (r.alpha !== null && (r.beta === 0 || pp !== null)) {
      const { alpha, beta } = r;
      const sq = alpha * alpha * dirAcc.dd + 2 * alpha * beta * dirAcc.dp + beta * beta * (pp ?? 0);
      predicted = rms(Math.max(0, sq));
      decayRms = beta === 0 ? 0 : Math.abs(beta) * rms(pp!);
    } else if (r.alpha !== null && unknown === null) {
      unknown = `${spec!.label}: the decoupled decay's share of the step needs the parameter, and the input has none`;
    }
    if (hist && r.scale === 1) {
      histogram = Array.from(
        { length: U_HISTOGRAM_BINS },
        (_, b) => hist[b * SUB] + hist[b * SUB + 1] + hist[b * SUB + 2] + hist[b * SUB + 3],
      );
    }
  }
  if (directionRms === null && spec && set.paramBefore && has('param') && has('param_after')) {
    directionRms = measuredDirectionRms(spec, { n: numel, dd: diffSq, dp: diffDotP, pp: pp! });
    if (directionRms !== null) directionSource = 'measured';
  }
  const second = kernel?.secondMoment === true;
  return {
    numel,
    paramRms: rmsOf('param'),
    paramNorm: normOf('param'),
    paramTiming: !has('param') ? null : set.paramBefore ? 'before' : 'saved',
    gradRms: rmsOf('grad'),
    gradNorm: normOf('grad'),
    updateRms: has('param_after') && has('param') ? rms(diffSq) : null,
    updateNorm: has('param_after') && has('param') ? Math.sqrt(diffSq) : null,
    spanUpdateRms: has('param_earlier') && has('param') ? rms(earlierSq) : null,
    earlierParamRms: rmsOf('param_earlier'),
    adamUpdateRms: kernel?.adamU && directionSource === 'state' ? directionRms : null,
    directionRms,
    directionSource,
    directionLabel: spec?.label ?? null,
    predictedUpdateRms: predicted,
    epsDominatedFraction: second && numel > 0 ? counts.eps / numel : null,
    zeroSecondMomentFraction: second && numel > 0 ? counts.zero / numel : null,
    sqrtVHatRms: second ? rms(counts.vHat) : null,
    expAvgRms: rmsOf('exp_avg'),
    decayRms,
    momentumBufferRms: rmsOf('momentum_buffer'),
    trustRatio,
    effectiveLr,
    updateClip,
    nonFinite: [...nonFinite].map(([what, v]) => ({ what, ...v })),
    uHistogram: histogram,
    unknown,
    issues,
  };
}
