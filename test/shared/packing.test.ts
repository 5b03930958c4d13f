// Series packing for the host → webview messages (src/shared/packing.ts, src/extension/wire.ts).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyzePaths } from '../../src/core/pipeline';
import { toWire } from '../../src/extension/wire';
import { DEFAULT_THRESHOLDS } from '../../src/core/rules/types';
import { MessageType, type ShowAnalysisMessage } from '../../src/shared/protocol';
import { bufferReplacer, bufferReviver, fromBase64, packSeries, toBase64, unpackSeries } from '../../src/shared/packing';
import { allFloat32, SERIES_FIGURES, type LayerSeries, type SeriesColumn } from '../../src/shared/series';
import { fixturePath, float64Series } from '../support/fixtures';

/** The dashboard message the host posts for an analysis, with the default settings. */
const showMessage = (analysis: ShowAnalysisMessage['analysis']): ShowAnalysisMessage => ({
  type: MessageType.ShowAnalysis,
  title: 't',
  analysis,
  settings: { thresholds: DEFAULT_THRESHOLDS, targetRelativeStep: 1e-3, defaultEps: 1e-8 },
});

describe('series packing', () => {
  it('round-trips the adam_base series exactly, absent entries (NaN) included, in exact-length ArrayBuffers', async () => {
    const analysis = await analyzePaths([fixturePath('adam_base', 'stats.jsonl')]);
    const packed = packSeries(analysis.series);
    const back = unpackSeries(packed);
    assert.deepEqual(
      float64Series(back),
      float64Series(analysis.series).map((s) => ({ layer: s.layer, steps: s.steps, figures: s.figures })),
    );
    // What travels: each distinct step axis once, and per (layer, figure) stated somewhere its values only.
    const axes = new Set(analysis.series.map((s) => Array.from(s.steps).join()));
    const points = [...axes].reduce((n, a) => n + a.split(',').length, 0);
    assert.equal(packed.steps.byteLength, points * 8);
    let wide = 0;
    let narrow = 0;
    for (const s of analysis.series) {
      for (const f of SERIES_FIGURES) {
        const c = s.figures[f];
        if (c.every((x) => Number.isNaN(x))) continue;
        if (allFloat32(c)) narrow += c.length;
        else wide += c.length;
      }
    }
    assert.ok(wide > 0);
    assert.equal(packed.values.byteLength, wide * 8);
    assert.equal(packed.values32.byteLength, narrow * 4);
    // pos_embed's relative step at step 1 is absent (zero-initialised) and stays absent.
    const pos = back.find((s) => s.layer === 'pos_embed')!;
    assert.ok(Number.isNaN(pos.figures.relStep[pos.steps.indexOf(1)]!));
    // Unpacked series are views into the buffers, not copies; layers of one axis share its view.
    for (const s of back) {
      assert.equal(s.steps.buffer, packed.steps);
      for (const f of SERIES_FIGURES) {
        const c = s.figures[f];
        if (c.every((x) => Number.isNaN(x))) continue;
        assert.equal(c.buffer, c instanceof Float32Array ? packed.values32 : packed.values, `${s.layer} ${f}`);
      }
    }
    const byAxis = new Map<string, Float64Array>();
    for (const s of back) {
      const key = Array.from(s.steps).join();
      const seen = byAxis.get(key);
      if (seen) assert.equal(s.steps, seen, 'one view per axis');
      else byAxis.set(key, s.steps as Float64Array);
    }
    // The wire message is much smaller as JSON than the plain one.
    const message = showMessage(analysis);
    const wire = toWire(message) as ShowAnalysisMessage;
    assert.equal(wire.analysis.series.length, 0);
    assert.ok(wire.packedSeries);
    const jsonBytes = (m: unknown) => JSON.stringify(m, (_k, v) => (v instanceof ArrayBuffer ? `<${v.byteLength}>` : v)).length;
    assert.ok(jsonBytes(wire) + packed.steps.byteLength + packed.values.byteLength < jsonBytes(message), 'packed is smaller');
  });

  it('a float32 column travels as float32 and a float64 one of float32 values too, every value as it was', () => {
    const steps = Float64Array.from([1, 2, 3, 5]);
    const f64 = Float64Array.from([0.1, 0.2, Number.NaN, 0.4]);
    const f32 = Float32Array.from([0.5, Number.NaN, 0.25, 1e-8]);
    const exact = Float64Array.from([0.5, 0.25, Number.NaN, 2 ** -20]);
    const none = new Float64Array(4).fill(Number.NaN);
    const figures = (a: SeriesColumn, b: SeriesColumn, c: SeriesColumn, rest = none) =>
      Object.fromEntries(SERIES_FIGURES.map((f, k) => [f, k === 0 ? a : k === 1 ? b : k === 2 ? c : rest])) as LayerSeries['figures'];
    const series: LayerSeries[] = [
      { layer: 'a', steps, figures: figures(f64, f32, exact) },
      { layer: 'b', steps: Float64Array.from(steps), figures: figures(f32, f64, none) },
      {
        layer: 'c',
        steps: Float64Array.from([7, 8]),
        figures: figures(Float64Array.from([1.1, 2.2]), Float64Array.from([3, 4]), none.subarray(0, 2), none.subarray(0, 2)),
      },
    ];
    const packed = packSeries(series);
    assert.equal(packed.steps.byteLength, (4 + 2) * 8, 'a and b share their axis');
    assert.equal(packed.values.byteLength, (4 + 4 + 2) * 8);
    assert.equal(packed.values32.byteLength, (4 + 4 + 4 + 2) * 4);
    const back = unpackSeries(packed);
    assert.equal(back[0]!.steps, back[1]!.steps);
    assert.ok(back[0]!.figures.gradRms instanceof Float32Array && back[0]!.figures.updateRms instanceof Float32Array);
    assert.ok(back[0]!.figures.paramRms instanceof Float64Array);
    assert.deepEqual(float64Series(back), float64Series(series));
  });
});

describe('packed series in a JSON document (the exported report)', () => {
  it("base64 round-trips every byte length and agrees with Node's encoder", () => {
    for (const n of [0, 1, 2, 3, 4, 5, 255, 256, 257, 10_000]) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + 11) & 255);
      const text = toBase64(bytes);
      assert.equal(text, Buffer.from(bytes).toString('base64'), `length ${n}`);
      assert.deepEqual(fromBase64(text), bytes, `length ${n}`);
    }
  });

  it('the wire message survives JSON with its buffers as base64, values exact (NaN = absent included)', async () => {
    const analysis = await analyzePaths([fixturePath('adam_base', 'stats.jsonl')]);
    const message = showMessage(analysis);
    const wire = toWire(message) as ShowAnalysisMessage;
    const text = JSON.stringify(wire, bufferReplacer);
    const back = JSON.parse(text, bufferReviver) as ShowAnalysisMessage;
    assert.ok(back.packedSeries!.values instanceof ArrayBuffer);
    assert.deepEqual(float64Series(unpackSeries(back.packedSeries!)), float64Series(analysis.series));
    assert.ok(text.length < JSON.stringify(message).length, 'smaller than the series as JSON numbers');
  });
});
