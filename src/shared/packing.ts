// Series cross the host → webview boundary as ArrayBuffers instead of JSON arrays (DESIGN.md: VS Code
// transfers ArrayBuffers as binary; a JSON number costs ~20 bytes, a float64 8). Only what a series holds
// travels: a step axis that layers share once, a figure a layer never has (all NaN) as a flag, a column
// whose every value is a float32 in 4 bytes a value. On the 291-tensor × 2,000-step log the whole
// dashboard's buffers went from 46.6 MB (every figure of every layer as float64, the steps once per layer)
// to 32.6 MB (two of its nine figures are never logged); posting them had taken ~6 s from the host to the
// page in code-server (the e2e's whole-run trace). Logged float32 values (TensorBoard) take half as much.
// Packing copies the columns; unpacking makes views into the received buffers — no per-value conversion on
// either side. Pure: used by host and webview.

import { absentColumn, allFloat32, SERIES_FIGURES, type LayerSeries, type SeriesColumn, type SeriesFigure } from './series';

/** How one (layer, figure) column travels: not at all (every value absent), in `values` or in `values32`. */
const ABSENT = 0;
const WIDE = 1;
const NARROW = 2;

export interface PackedSeries {
  layers: string[];
  /** Steps per layer (the layers' series may cover different steps). */
  stepCounts: number[];
  /** Per layer: the element offset of its step axis in `steps` (layers with one axis share it). */
  axisAt: number[];
  /** Float64 step axes, each axis once, concatenated. */
  steps: ArrayBuffer;
  /** Uint8, for each layer, for each figure of SERIES_FIGURES: ABSENT, WIDE or NARROW. */
  kinds: ArrayBuffer;
  /** Float64 values of the WIDE columns, in layer then figure order, one value per step of the layer. */
  values: ArrayBuffer;
  /** Float32 values of the NARROW columns (every value a float32: they read back the same), in the same order. */
  values32: ArrayBuffer;
}

function allAbsent(c: ArrayLike<number>): boolean {
  for (let i = 0; i < c.length; i++) if (c[i] === c[i]) return false;
  return true;
}

function sameSteps(a: SeriesColumn, b: SeriesColumn): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function packSeries(series: LayerSeries[]): PackedSeries {
  const K = SERIES_FIGURES.length;
  const kinds = new Uint8Array(series.length * K);
  const axisAt: number[] = [];
  const axes: SeriesColumn[] = [];
  let stepTotal = 0;
  let wide = 0;
  let narrow = 0;
  // Sizes first: which axis each layer has (the last distinct one compared: layers sharing an axis come together),
  // and how each column travels.
  let last: SeriesColumn | null = null;
  let lastAt = 0;
  series.forEach((s, i) => {
    const n = s.steps.length;
    if (last === null || !sameSteps(last, s.steps)) {
      last = s.steps;
      lastAt = stepTotal;
      axes.push(s.steps);
      stepTotal += n;
    }
    axisAt.push(lastAt);
    SERIES_FIGURES.forEach((f, k) => {
      const col = s.figures[f];
      const kind = !col || col.length !== n || allAbsent(col) ? ABSENT : col instanceof Float32Array || allFloat32(col) ? NARROW : WIDE;
      kinds[i * K + k] = kind;
      if (kind === WIDE) wide += n;
      else if (kind === NARROW) narrow += n;
    });
  });
  const steps = new Float64Array(stepTotal);
  let at = 0;
  for (const a of axes) {
    steps.set(a, at);
    at += a.length;
  }
  const values = new Float64Array(wide);
  const values32 = new Float32Array(narrow);
  let v = 0;
  let v32 = 0;
  series.forEach((s, i) => {
    SERIES_FIGURES.forEach((f, k) => {
      const kind = kinds[i * K + k];
      if (kind === WIDE) {
        values.set(s.figures[f], v);
        v += s.steps.length;
      } else if (kind === NARROW) {
        values32.set(s.figures[f], v32);
        v32 += s.steps.length;
      }
    });
  });
  return {
    layers: series.map((s) => s.layer),
    stepCounts: series.map((s) => s.steps.length),
    axisAt,
    steps: steps.buffer,
    kinds: kinds.buffer,
    values: values.buffer,
    values32: values32.buffer,
  };
}

/**
 * The series of `packed`, as views into its buffers (which must stay unmodified): layers with one axis share
 * its view, the figures a layer never has one all-NaN column per step count.
 */
export function unpackSeries(packed: PackedSeries): LayerSeries[] {
  const K = SERIES_FIGURES.length;
  const kinds = new Uint8Array(packed.kinds);
  const axisViews = new Map<number, Float64Array>();
  const absent = new Map<number, Float64Array>();
  const out: LayerSeries[] = [];
  let v = 0;
  let v32 = 0;
  packed.layers.forEach((layer, i) => {
    const n = packed.stepCounts[i]!;
    const at = packed.axisAt[i]!;
    let steps = axisViews.get(at);
    if (steps === undefined || steps.length !== n) axisViews.set(at, (steps = new Float64Array(packed.steps, at * 8, n)));
    const figures = {} as Record<SeriesFigure, SeriesColumn>;
    SERIES_FIGURES.forEach((f, k) => {
      const kind = kinds[i * K + k];
      if (kind === WIDE) {
        figures[f] = new Float64Array(packed.values, v * 8, n);
        v += n;
      } else if (kind === NARROW) {
        figures[f] = new Float32Array(packed.values32, v32 * 4, n);
        v32 += n;
      } else {
        let none = absent.get(n);
        if (none === undefined) absent.set(n, (none = absentColumn(n)));
        figures[f] = none;
      }
    });
    out.push({ layer, steps, figures });
  });
  return out;
}

// A JSON document (the exported report's embedded data) carries the packed buffers as base64 text:
// 10.7 characters per float64 instead of ~20 for a JSON number, and decoded without a number parser.
const BUFFER_KEY = '$base64';
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** JSON.stringify replacer: an ArrayBuffer becomes { "$base64": "…" }. */
export function bufferReplacer(_key: string, value: unknown): unknown {
  return value instanceof ArrayBuffer ? { [BUFFER_KEY]: toBase64(new Uint8Array(value)) } : value;
}

/** JSON.parse reviver: { "$base64": "…" } becomes the ArrayBuffer it encodes. */
export function bufferReviver(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const text = (value as Record<string, unknown>)[BUFFER_KEY];
    if (typeof text === 'string' && Object.keys(value).length === 1) return fromBase64(text).buffer;
  }
  return value;
}

export function toBase64(bytes: Uint8Array): string {
  const parts: string[] = [];
  let chunk = '';
  const n = bytes.length;
  for (let i = 0; i < n; i += 3) {
    const a = bytes[i];
    const b = i + 1 < n ? bytes[i + 1] : 0;
    const c = i + 2 < n ? bytes[i + 2] : 0;
    chunk +=
      ALPHABET[a >> 2] +
      ALPHABET[((a & 3) << 4) | (b >> 4)] +
      (i + 1 < n ? ALPHABET[((b & 15) << 2) | (c >> 6)] : '=') +
      (i + 2 < n ? ALPHABET[c & 63] : '=');
    // Short strings joined once: repeated += on one huge string is quadratic in some engines.
    if (chunk.length >= 8192) {
      parts.push(chunk);
      chunk = '';
    }
  }
  parts.push(chunk);
  return parts.join('');
}

const DECODE = (() => {
  const t = new Int16Array(128).fill(-1);
  for (let i = 0; i < ALPHABET.length; i++) t[ALPHABET.charCodeAt(i)] = i;
  return t;
})();

export function fromBase64(text: string): Uint8Array {
  const clean = text.replace(/[^A-Za-z0-9+/]/g, '');
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let o = 0;
  for (let i = 0; i + 1 < clean.length; i += 4) {
    const a = DECODE[clean.charCodeAt(i)];
    const b = DECODE[clean.charCodeAt(i + 1)];
    const c = i + 2 < clean.length ? DECODE[clean.charCodeAt(i + 2)] : -1;
    const d = i + 3 < clean.length ? DECODE[clean.charCodeAt(i + 3)] : -1;
    out[o++] = (a << 2) | (b >> 4);
    if (c >= 0) out[o++] = ((b & 15) << 4) | (c >> 2);
    if (d >= 0) out[o++] = ((c & 3) << 6) | d;
  }
  return o === out.length ? out : out.slice(0, o);
}
