// The per-step series of real fixture runs are the ones the engine gave before they became typed arrays:
// every value bit for bit and every absent entry where it was (test/fixtures/series_golden/series.json was
// written from the `(number | null)[]` series at commit 03d51f9, in the JSON form below: null = absent).
// Long series are kept as the SHA-256 of that JSON text, the short ones whole (a difference names the entry).
// Rewrite only for an intended change: SERIES_GOLDEN_WRITE=1 node --import tsx --test test/core/engine/seriesGolden.test.ts

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { analyzePaths } from '../../../src/core/pipeline';
import { SERIES_FIGURES, seriesValue, type LayerSeries } from '../../../src/shared/series';
import { fixturePath } from '../../support/fixtures';

const GOLDEN = fixturePath('series_golden', 'series.json');
const INPUTS = [
  'adam_base/stats.jsonl',
  'adam_base/tb',
  'adam_base/history_wide.csv',
  'adam_base/dump',
  'adam_base/ckpt',
  'optim_adamw/ckpt',
  'optim_muon/ckpt',
  'logformats/keras_tf1',
];
/** Series longer than this as JSON text are kept as their hash. */
const WHOLE_UP_TO = 20_000;

interface JsonSeries {
  layer: string;
  steps: number[];
  figures: Record<string, (number | null)[]>;
}
type Golden = Record<string, { series: JsonSeries[] } | { sha256: string; layers: number; steps: number }>;

/** The series as plain arrays, null where absent, figures in SERIES_FIGURES order (the old representation). */
function asJson(series: LayerSeries[]): JsonSeries[] {
  return series.map((s) => ({
    layer: s.layer,
    steps: Array.from(s.steps),
    figures: Object.fromEntries(SERIES_FIGURES.map((f) => [f, Array.from(s.figures[f], (x) => seriesValue(x))])),
  }));
}

test('series of the fixture runs are identical to the (number | null)[] series: values and absent entries', async () => {
  const golden = JSON.parse(readFileSync(GOLDEN, 'utf8')) as Golden;
  const written: Golden = {};
  for (const input of INPUTS) {
    const a = await analyzePaths([fixturePath(...input.split('/'))]);
    for (const s of a.series) {
      assert.ok(s.steps instanceof Float64Array, `${input}: steps are a Float64Array`);
      for (const f of SERIES_FIGURES) assert.equal(s.figures[f].length, s.steps.length, `${input} ${s.layer} ${f}`);
    }
    const json = asJson(a.series);
    const text = JSON.stringify(json);
    written[input] =
      text.length > WHOLE_UP_TO
        ? { sha256: createHash('sha256').update(text).digest('hex'), layers: json.length, steps: json[0]!.steps.length }
        : { series: json };
    const want = golden[input];
    assert.ok(want, `${input} is in the golden file`);
    if ('series' in want) assert.deepEqual(json, want.series, input);
    else {
      assert.equal(json.length, want.layers, `${input}: layers`);
      assert.equal(json[0]!.steps.length, want.steps, `${input}: steps`);
      assert.equal(createHash('sha256').update(text).digest('hex'), want.sha256, `${input}: every value and absent entry`);
    }
    // Absent entries exist in these runs (pos_embed's relative step at step 1, figures no input states): the
    // comparison covers them, not only values.
    if (input === 'adam_base/stats.jsonl') {
      const pos = json.find((s) => s.layer === 'pos_embed')!;
      assert.equal(pos.figures.relStep![pos.steps.indexOf(1)], null);
    }
  }
  if (process.env.SERIES_GOLDEN_WRITE === '1') writeFileSync(GOLDEN, JSON.stringify(written) + '\n');
});
