// Series over steps: the figures a chart plots, one entry per step. Shared by the engine (which fills
// them), the rules, the wire packing and the webview (which draws them). Columnar: a Float64Array per
// figure, NaN where the input does not say (the engine never reports NaN as a figure — non-finite values
// go to RunData.nonFinite — so NaN is free to mean "absent", as on the wire). A 52,721-step × 24-layer
// TensorBoard run is 9 × 8 bytes per (layer, step) here, off the JavaScript heap; as arrays of
// `number | null` it cost a boxed value or a pointer per entry and ~1 s of conversion and collection.

/** The figures a chart plots over steps, one entry per step in `steps`. */
export const SERIES_FIGURES = [
  'paramRms',
  'gradRms',
  'updateRms',
  'relStep',
  'adamUpdateRms',
  'relStepPredicted',
  'epsDominatedFraction',
  'directionRms',
  'zeroSecondMomentFraction',
] as const;
export type SeriesFigure = (typeof SERIES_FIGURES)[number];

/**
 * One layer's figures over steps. Read-only by contract: the engine shares one step axis between the layers
 * that have the same steps, and one all-NaN column between the figures no input states.
 */
export interface LayerSeries {
  layer: string;
  /** Ascending steps. */
  steps: Float64Array;
  /**
   * Per figure one value per entry of `steps`; NaN = the input does not say. Float32 where every value is a
   * float32 (a TensorBoard scalar, a float32 figure logged as is): half the memory, the same numbers.
   */
  figures: Record<SeriesFigure, SeriesColumn>;
}

/** A series value as the JSON contract and the report's tables give it: null where absent. */
export function seriesValue(x: number | undefined): number | null {
  return x === undefined || Number.isNaN(x) ? null : x;
}

/** A series column: float64, or float32 where every value is one. */
export type SeriesColumn = Float64Array | Float32Array;

/**
 * Buffers concatColumns made with room to grow, and how many elements of each (from its start) a column uses:
 * the next append to the column that ends there writes in place. Any other column of the buffer (an older,
 * shorter state) keeps its values — elements are only ever added past the used end — and an append to it
 * copies instead. Without this each appended step copied every layer's columns: 42 MB and ~280 ms per refresh
 * in the webview at 291 tensors × 2,000 steps.
 */
const growable = new WeakMap<ArrayBufferLike, number>();

/**
 * `a` followed by `b`: float32 when both are, else float64. A new column, or `a` extended in place when `a` is the
 * longest column of a buffer made here (its elements before are untouched: columns are read-only by contract).
 */
export function concatColumns<C extends SeriesColumn>(a: C, b: C): C;
export function concatColumns(a: SeriesColumn, b: SeriesColumn): SeriesColumn;
export function concatColumns(a: SeriesColumn, b: SeriesColumn): SeriesColumn {
  const n = a.length + b.length;
  const f32 = a instanceof Float32Array && b instanceof Float32Array;
  const used = growable.get(a.buffer);
  const start = a.byteOffset / a.BYTES_PER_ELEMENT;
  if (used === start + a.length && a instanceof Float32Array === f32 && start + n <= a.buffer.byteLength / a.BYTES_PER_ELEMENT) {
    const out = f32 ? new Float32Array(a.buffer, a.byteOffset, n) : new Float64Array(a.buffer, a.byteOffset, n);
    out.set(b, a.length);
    growable.set(a.buffer, start + n);
    return out;
  }
  const capacity = n + Math.max(n >> 1, 16);
  const out = f32 ? new Float32Array(capacity) : new Float64Array(capacity);
  out.set(a);
  out.set(b, a.length);
  growable.set(out.buffer, n);
  return out.subarray(0, n);
}

/** Every value of `c` is a float32 (NaN included): stored as float32 it reads back the same. */
export function allFloat32(c: ArrayLike<number>): boolean {
  for (let i = 0; i < c.length; i++) {
    const x = c[i]!;
    if (Math.fround(x) !== x && x === x) return false;
  }
  return true;
}

/** An all-NaN column of `n` entries (a figure no input states for a layer). */
export function absentColumn(n: number): Float64Array {
  return new Float64Array(n).fill(Number.NaN);
}
