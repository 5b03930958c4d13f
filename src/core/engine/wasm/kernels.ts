import type { FloatChunk } from '../../io/tensorData';
import { STATS_WASM_BASE64 } from './statsWasm';

// The fused pass's hot loops: sums of squares, the measured update's squared differences, and Adam's update with
// its sums, counts and histogram — in WebAssembly SIMD (stats.wat) where the runtime has it, else in the JavaScript
// twins below, which follow the .wat's partial-sum order exactly so both give bit-identical float64 results.

/**
 * Sums and counts of Adam's update: `uu`, `up`, `vh` are the last chunk's sums; the counts and the histogram accumulate
 * over the pass, complete after `flushAdam`.
 */
export interface AdamChunkAcc {
  uu: number;
  up: number;
  vh: number;
  zero: number;
  eps: number;
  undetermined: number;
  /** 60 bins × 4 interleaved sub-histograms (bin·4 + i mod 4). */
  hist: Float64Array;
}

export interface StatsKernels {
  readonly simd: boolean;
  /**
   * Buffers for `streams` chunks of `elements` float32 that the kernels read in place (regions of the WebAssembly
   * memory: a TensorChunkReader reading into one saves a copy per chunk). Valid until the next reserve().
   */
  reserve(streams: number, elements: number): Uint8Array[];
  /** Start a pass: Adam's counts not yet flushed are dropped. */
  startPass(): void;
  sumsq(x: FloatChunk): number;
  sumsqdiff(a: FloatChunk, b: FloatChunk): number;
  /** u = m·a/(√(V·b) + ε); 0 where V = 0 and m ≠ 0 (counted undetermined). Σv̂ = Σ V·vs. */
  adam(m: FloatChunk, v: FloatChunk, p: FloatChunk | null, a: number, b: number, vs: number, eps: number, acc: AdamChunkAcc): void;
  /** Add the counts and histogram gathered since the last flush to `acc` (WebAssembly keeps them in its memory). */
  flushAdam(acc: AdamChunkAcc): void;
}

// ---- JavaScript twins (the same partial sums as stats.wat) ----------------------------------------------------------

function sumsqJs(x: FloatChunk): number {
  const n = x.length;
  const end = n & ~7;
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0; // prettier-ignore
  let i = 0;
  for (; i < end; i += 8) {
    const x0 = x[i], x1 = x[i + 1], x2 = x[i + 2], x3 = x[i + 3]; // prettier-ignore
    const x4 = x[i + 4], x5 = x[i + 5], x6 = x[i + 6], x7 = x[i + 7]; // prettier-ignore
    s0 += x0 * x0;
    s1 += x1 * x1;
    s2 += x2 * x2;
    s3 += x3 * x3;
    s4 += x4 * x4;
    s5 += x5 * x5;
    s6 += x6 * x6;
    s7 += x7 * x7;
  }
  let t = 0;
  for (; i < n; i++) t += x[i] * x[i];
  return s0 + s1 + (s2 + s3) + (s4 + s5 + (s6 + s7)) + t;
}

function sumsqdiffJs(a: FloatChunk, b: FloatChunk): number {
  const n = a.length;
  const end = n & ~7;
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0; // prettier-ignore
  let i = 0;
  for (; i < end; i += 8) {
    const d0 = a[i] - b[i], d1 = a[i + 1] - b[i + 1], d2 = a[i + 2] - b[i + 2], d3 = a[i + 3] - b[i + 3]; // prettier-ignore
    const d4 = a[i + 4] - b[i + 4], d5 = a[i + 5] - b[i + 5], d6 = a[i + 6] - b[i + 6], d7 = a[i + 7] - b[i + 7]; // prettier-ignore
    s0 += d0 * d0;
    s1 += d1 * d1;
    s2 += d2 * d2;
    s3 += d3 * d3;
    s4 += d4 * d4;
    s5 += d5 * d5;
    s6 += d6 * d6;
    s7 += d7 * d7;
  }
  let t = 0;
  for (; i < n; i++) {
    const d = a[i] - b[i];
    t += d * d;
  }
  return s0 + s1 + (s2 + s3) + (s4 + s5 + (s6 + s7)) + t;
}

function adamJs(
  m: FloatChunk,
  v: FloatChunk,
  p: FloatChunk | null,
  a: number,
  b: number,
  vs: number,
  eps: number,
  acc: AdamChunkAcc,
): void {
  const n = m.length;
  const hist = acc.hist;
  // Partial k accumulates elements 4j + k (the .wat's two f64x2 accumulators); the tail goes to t*.
  let uu0 = 0, uu1 = 0, uu2 = 0, uu3 = 0, up0 = 0, up1 = 0, up2 = 0, up3 = 0, vh0 = 0, vh1 = 0, vh2 = 0, vh3 = 0; // prettier-ignore
  let tuu = 0;
  let tup = 0;
  let tvh = 0;
  let zero = 0;
  let epsN = 0;
  let undet = 0;
  const end = n & ~3;
  for (let i = 0; i < n; i++) {
    const mi = m[i];
    const V = v[i];
    const root = Math.sqrt(V * b);
    let u = (mi * a) / (root + eps);
    if (V === 0) {
      if (mi === 0) zero++;
      else {
        undet++;
        u = 0;
      }
    } else if (root < eps) epsN++;
    let bin = u * 10 + 30;
    bin = bin < 0 ? 0 : bin > 59.5 ? 59.5 : bin;
    hist[((bin | 0) << 2) | (i & 3)]++;
    const uu = u * u;
    const vh = V * vs;
    const up = p ? u * p[i] : 0;
    if (i >= end) {
      tuu += uu;
      tvh += vh;
      tup += up;
      continue;
    }
    switch (i & 3) {
      case 0:
        uu0 += uu;
        vh0 += vh;
        up0 += up;
        break;
      case 1:
        uu1 += uu;
        vh1 += vh;
        up1 += up;
        break;
      case 2:
        uu2 += uu;
        vh2 += vh;
        up2 += up;
        break;
      default:
        uu3 += uu;
        vh3 += vh;
        up3 += up;
    }
  }
  acc.uu = uu0 + uu1 + (uu2 + uu3) + tuu;
  acc.up = up0 + up1 + (up2 + up3) + tup;
  acc.vh = vh0 + vh1 + (vh2 + vh3) + tvh;
  acc.zero += zero;
  acc.eps += epsN;
  acc.undetermined += undet;
}

export const JS_KERNELS: StatsKernels = {
  simd: false,
  reserve: (streams, elements) => Array.from({ length: streams }, () => new Uint8Array(new ArrayBuffer(elements * 4))),
  startPass: () => undefined,
  sumsq: sumsqJs,
  sumsqdiff: sumsqdiffJs,
  adam: adamJs,
  flushAdam: () => undefined,
};

// ---- WebAssembly ----------------------------------------------------------------------------------------------------

// The core targets have no DOM lib, where the WebAssembly types live: the little used here, declared.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}

interface StatsExports {
  memory: WasmMemory;
  sumsq(p: number, n: number): number;
  sumsqdiff(a: number, b: number, n: number): number;
  adam(m: number, v: number, p: number, n: number, a: number, b: number, vs: number, eps: number, out: number): void;
}

/** Address 0 means "no parameter" to the adam kernel: the regions start after it. */
const BASE = 64;

/**
 * Memory layout: from BASE, `streams` reserved stream regions, three scratch regions (chunks not already in the memory are
 * copied there), each of `cap` bytes, then the adam output block (80 + 240·4 bytes).
 */
const OUT_BYTES = 80 + 240 * 4;

class WasmKernels implements StatsKernels {
  readonly simd = true;
  private cap = 0;
  private streams = 0;
  private scratch = 0;
  private out = 0;
  private f64: Float64Array = new Float64Array(0);
  private i32: Int32Array = new Int32Array(0);
  private i64: BigInt64Array = new BigInt64Array(0);
  /** Elements counted into the memory since the last flush. */
  private pending = 0;

  constructor(private readonly x: StatsExports) {}

  reserve(streams: number, elements: number): Uint8Array[] {
    this.layout(streams, Math.max(elements * 4, this.cap));
    return Array.from({ length: streams }, (_, i) => new Uint8Array(this.x.memory.buffer, BASE + i * this.cap, this.cap));
  }

  private layout(streams: number, bytes: number): void {
    const cap = Math.ceil(bytes / 64) * 64;
    if (cap === this.cap && streams <= this.streams) return;
    // The adam counters not yet flushed move with the output block.
    const counts = this.out ? this.i64.slice() : null;
    const hist = this.out ? this.i32.slice() : null;
    this.cap = cap;
    this.streams = Math.max(streams, this.streams);
    this.scratch = BASE + this.streams * cap;
    this.out = this.scratch + 3 * cap;
    const total = this.out + OUT_BYTES;
    const have = this.x.memory.buffer.byteLength;
    if (total > have) this.x.memory.grow(Math.ceil((total - have) / 65536));
    this.views();
    if (counts && hist) {
      this.i64.set(counts);
      this.i32.set(hist);
    }
  }

  /** Room for chunks of `elements` float32 (grows the memory, which invalidates reserved regions, only if larger). */
  private ensure(elements: number): void {
    if (elements * 4 > this.cap || this.out === 0) this.layout(this.streams, elements * 4);
  }

  private views(): void {
    const buf = this.x.memory.buffer;
    this.f64 = new Float64Array(buf, this.out, 3);
    this.i64 = new BigInt64Array(buf, this.out + 32, 6);
    this.i32 = new Int32Array(buf, this.out + 80, 240);
  }

  /** The chunk's byte offset in the module's memory (copied into region `r` unless it already lives there). */
  private place(x: Float32Array, r: number): number {
    if (x.buffer === this.x.memory.buffer) return x.byteOffset;
    const at = this.scratch + r * this.cap;
    new Float32Array(this.x.memory.buffer, at, x.length).set(x);
    return at;
  }

  sumsq(x: FloatChunk): number {
    if (!(x instanceof Float32Array)) return sumsqJs(x);
    this.ensure(x.length);
    return this.x.sumsq(this.place(x, 0), x.length);
  }

  sumsqdiff(a: FloatChunk, b: FloatChunk): number {
    if (!(a instanceof Float32Array) || !(b instanceof Float32Array)) return sumsqdiffJs(a, b);
    this.ensure(a.length);
    return this.x.sumsqdiff(this.place(a, 0), this.place(b, 1), a.length);
  }

  adam(m: FloatChunk, v: FloatChunk, p: FloatChunk | null, a: number, b: number, vs: number, eps: number, acc: AdamChunkAcc): void {
    if (!(m instanceof Float32Array) || !(v instanceof Float32Array) || (p !== null && !(p instanceof Float32Array))) {
      adamJs(m, v, p, a, b, vs, eps, acc);
      return;
    }
    this.ensure(m.length);
    // The i32 histogram counters of the memory hold at most 2^31 − 1: flushed long before (a quarter of the elements
    // reach one counter at most).
    if (this.pending + m.length > PENDING_MAX) this.flushAdam(acc);
    this.pending += m.length;
    this.x.adam(this.place(m, 0), this.place(v, 1), p ? this.place(p, 2) : 0, m.length, a, b, vs, eps, this.out);
    acc.uu = this.f64[0];
    acc.up = this.f64[1];
    acc.vh = this.f64[2];
  }

  startPass(): void {
    this.ensure(1);
    this.i64.fill(0n);
    this.i32.fill(0);
    this.pending = 0;
  }

  flushAdam(acc: AdamChunkAcc): void {
    if (this.out === 0) return;
    const c = this.i64;
    acc.zero += Number(c[0] + c[1]);
    acc.eps += Number(c[2] + c[3]);
    acc.undetermined += Number(c[4] + c[5]);
    const h = this.i32;
    for (let k = 0; k < 240; k++) acc.hist[k] += h[k];
    c.fill(0n);
    h.fill(0);
    this.pending = 0;
  }
}

/** Elements the adam kernel counts into the memory between flushes. */
const PENDING_MAX = 2 ** 30;

let cached: StatsKernels | null | undefined;

/** The WebAssembly kernels (one instance per thread), or null where WebAssembly SIMD is unavailable. */
export function wasmKernels(): StatsKernels | null {
  if (cached !== undefined) return cached;
  const api = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
  try {
    if (!api) throw new Error('no WebAssembly');
    const mod = new api.Module(Buffer.from(STATS_WASM_BASE64, 'base64'));
    cached = new WasmKernels(new api.Instance(mod, {}).exports as unknown as StatsExports);
  } catch {
    cached = null;
  }
  return cached;
}

/** The kernels the pass uses: WebAssembly SIMD where available (OPTIMIZER_LENS_WASM=0 forces the JavaScript twins). */
export function statsKernels(): StatsKernels {
  if (process.env.OPTIMIZER_LENS_WASM === '0') return JS_KERNELS;
  return wasmKernels() ?? JS_KERNELS;
}
