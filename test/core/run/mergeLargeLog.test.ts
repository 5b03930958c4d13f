import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzePaths } from '../../../src/core/pipeline';

// A long run logs hundreds of thousands of (step, layer) records; merging and analysing them must not
// depend on spreading arrays into call arguments (RangeError past ~100k items).
test('a long-form log of 250,000 records is merged and analysed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-large-'));
  try {
    const path = join(dir, 'optimizer_lens.jsonl');
    const lines: string[] = [];
    for (let step = 1; step <= 2500; step++) {
      for (let l = 0; l < 100; l++) {
        lines.push(`{"step": ${step}, "layer": "layers.${l}.weight", "numel": 4096, "param_rms": ${0.02 + l * 1e-3}, "update_rms": 2e-5}`);
      }
    }
    writeFileSync(path, lines.join('\n') + '\n');
    const { result, series } = await analyzePaths([path]);
    assert.equal(result.steps.length, 2500);
    assert.equal(result.layers.length, 100);
    assert.equal(series[7].figures.relStep.length, 2500);
    assert.ok(Math.abs(result.layers[0].relStep! - 2e-5 / 0.02) < 1e-15);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
