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
  /** Per figure one value per entry of `steps`; NaN = the input does not say. */
  figures: Record<SeriesFigure, Float64Array>;
}

/** A series value as the JSON contract and the report's tables give it: null where absent. */
export function seriesValue(x: number | undefined): number | null {
  return x === undefined || Number.isNaN(x) ? null : x;
}

/** `a` followed by `b`, one new array (the columns of an appended series). */
export function concatColumns(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** An all-NaN column of `n` entries (a figure no input states for a layer). */
export function absentColumn(n: number): Float64Array {
  return new Float64Array(n).fill(Number.NaN);
}
