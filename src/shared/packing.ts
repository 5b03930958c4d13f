// Series cross the host → webview boundary as two exact-length ArrayBuffers instead of JSON arrays
// (DESIGN.md: VS Code transfers ArrayBuffers as binary; a JSON number costs ~20 bytes, a float64 8).
// Absent values are NaN, as in LayerSeries (series.ts): packing copies the columns, unpacking makes views
// into the received buffers — no per-value conversion on either side. Pure: used by host and webview.

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
    const n = s.steps.length;
    steps.set(s.steps, at);
    at += n;
    for (const f of SERIES_FIGURES) {
      const col = s.figures[f];
      if (col && col.length === n) values.set(col, v);
      else values.fill(Number.NaN, v, v + n);
      v += n;
    }
  }
  return { layers: series.map((s) => s.layer), stepCounts: series.map((s) => s.steps.length), steps: steps.buffer, values: values.buffer };
}

/** The series of `packed`, as views into its two buffers (which must stay unmodified). */
export function unpackSeries(packed: PackedSeries): LayerSeries[] {
  const out: LayerSeries[] = [];
  let at = 0;
  let v = 0;
  packed.layers.forEach((layer, i) => {
    const n = packed.stepCounts[i];
    const figures = {} as Record<SeriesFigure, Float64Array>;
    for (const f of SERIES_FIGURES) {
      figures[f] = new Float64Array(packed.values, v * 8, n);
      v += n;
    }
    out.push({ layer, steps: new Float64Array(packed.steps, at * 8, n), figures });
    at += n;
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
