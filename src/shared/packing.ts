// Series cross the host → webview boundary as two exact-length ArrayBuffers instead of JSON arrays
// (DESIGN.md: VS Code transfers ArrayBuffers as binary; a JSON number costs ~20 bytes, a float64 8).
// null (the input does not say) travels as NaN: the engine never reports NaN as a figure (non-finite
// values go to RunData.nonFinite), so NaN is free to mean "absent". Pure: used by host and webview.

import { SERIES_FIGURES, type LayerSeries, type SeriesFigure } from './series';

export interface PackedSeries {
  layers: string[];
  /** Steps per layer (the layers' series may cover different steps). */
  stepCounts: number[];
  /** Float64 steps of every layer, concatenated. */
  steps: ArrayBuffer;
  /** Float64 values: for each layer, for each figure of SERIES_FIGURES, one value per step of the layer. */
  values: ArrayBuffer;
}

export function packSeries(series: LayerSeries[]): PackedSeries {
  const total = series.reduce((n, s) => n + s.steps.length, 0);
  const steps = new Float64Array(total);
  const values = new Float64Array(total * SERIES_FIGURES.length);
  let at = 0;
  let v = 0;
  for (const s of series) {
    steps.set(s.steps, at);
    at += s.steps.length;
    for (const f of SERIES_FIGURES) {
      const arr = s.figures[f];
      for (let j = 0; j < s.steps.length; j++) {
        const x = arr?.[j];
        values[v++] = x === null || x === undefined ? NaN : x;
      }
    }
  }
  return { layers: series.map((s) => s.layer), stepCounts: series.map((s) => s.steps.length), steps: steps.buffer, values: values.buffer };
}

export function unpackSeries(packed: PackedSeries): LayerSeries[] {
  const steps = new Float64Array(packed.steps);
  const values = new Float64Array(packed.values);
  const out: LayerSeries[] = [];
  let at = 0;
  let v = 0;
  packed.layers.forEach((layer, i) => {
    const n = packed.stepCounts[i];
    const figures = {} as Record<SeriesFigure, (number | null)[]>;
    for (const f of SERIES_FIGURES) {
      const arr = new Array<number | null>(n);
      for (let j = 0; j < n; j++) {
        const x = values[v++];
        arr[j] = Number.isNaN(x) ? null : x;
      }
      figures[f] = arr;
    }
    out.push({ layer, steps: Array.from(steps.subarray(at, at + n)), figures });
    at += n;
  });
  return out;
}
