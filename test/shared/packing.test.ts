// Series packing for the host → webview messages (src/shared/packing.ts, src/extension/wire.ts).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyzePaths } from '../../src/core/pipeline';
import { toWire } from '../../src/extension/wire';
import { DEFAULT_THRESHOLDS } from '../../src/core/rules/types';
import { MessageType, type ShowAnalysisMessage } from '../../src/shared/protocol';
import { bufferReplacer, bufferReviver, fromBase64, packSeries, toBase64, unpackSeries } from '../../src/shared/packing';
import { SERIES_FIGURES } from '../../src/shared/series';
import { fixturePath, float64Series } from '../support/fixtures';

/** The dashboard message the host posts for an analysis, with the default settings. */
const showMessage = (analysis: ShowAnalysisMessage['analysis']): ShowAnalysisMessage => ({
  type: MessageType.ShowAnalysis,
  title: 't',
  analysis,
  settings: { thresholds: DEFAULT_THRESHOLDS, targetRelativeStep: 1e-3, defaultEps: 1e-8 },
});

describe('series packing', () => {
  it('round-trips the adam_base series exactly, absent entries (NaN) included, in two exact-length ArrayBuffers', async () => {
    const analysis = await analyzePaths([fixturePath('adam_base', 'stats.jsonl')]);
    const packed = packSeries(analysis.series);
    const points = analysis.series.reduce((n, s) => n + s.steps.length, 0);
    assert.equal(packed.steps.byteLength, points * 8);
    assert.equal(packed.values.byteLength, points * 8 * SERIES_FIGURES.length);
    const back = unpackSeries(packed);
    // the wire carries float64; a float32 column (a TensorBoard scalar's) arrives as the same numbers
    const narrow = analysis.series.map((s) => ({ ...s, figures: { ...s.figures, paramRms: Float32Array.from(s.figures.paramRms) } }));
    const narrowBack = unpackSeries(packSeries(narrow));
    assert.ok(narrowBack[0]!.figures.paramRms instanceof Float64Array);
    assert.deepEqual(narrowBack, float64Series(narrow));
    assert.notDeepEqual(narrowBack, float64Series(analysis.series), 'float32 values, not the float64 ones');
    assert.deepEqual(
      back,
      float64Series(analysis.series).map((s) => ({ layer: s.layer, steps: s.steps, figures: s.figures })),
    );
    // pos_embed's relative step at step 1 is absent (zero-initialised) and stays absent.
    const pos = back.find((s) => s.layer === 'pos_embed')!;
    assert.ok(Number.isNaN(pos.figures.relStep[pos.steps.indexOf(1)]!));
    // Unpacked series are views into the two buffers, not copies.
    assert.ok(back.every((s) => s.steps.buffer === packed.steps && SERIES_FIGURES.every((f) => s.figures[f].buffer === packed.values)));
    // The wire message is much smaller as JSON than the plain one.
    const message = showMessage(analysis);
    const wire = toWire(message) as ShowAnalysisMessage;
    assert.equal(wire.analysis.series.length, 0);
    assert.ok(wire.packedSeries);
    const jsonBytes = (m: unknown) => JSON.stringify(m, (_k, v) => (v instanceof ArrayBuffer ? `<${v.byteLength}>` : v)).length;
    assert.ok(jsonBytes(wire) + packed.steps.byteLength + packed.values.byteLength < jsonBytes(message), 'packed is smaller');
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
    assert.deepEqual(unpackSeries(back.packedSeries!), float64Series(analysis.series));
    assert.ok(text.length < JSON.stringify(message).length, 'smaller than the series as JSON numbers');
  });
});
