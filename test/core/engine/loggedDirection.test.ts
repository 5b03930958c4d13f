// Logged direction_rms / effective_lr (long-form JSONL, one line per layer and step, as our snippets write them) are
// read as RMS(d) and the effective lr. A logged d is measured from the step ((p_before − p_after)/lr), so no
// predicted relative step is made from it: that would only restate the measured one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzePaths } from '../../../src/core/pipeline';

test('logged direction_rms and effective_lr are RMS(d) and the effective lr; no prediction is made from a measured d', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-direction-'));
  try {
    const line = (o: object): string => JSON.stringify(o) + '\n';
    const common = { step: 10, optimizer: 'Adafactor', lr: 1e-3 };
    writeFileSync(
      join(dir, 'optimizer_lens.jsonl'),
      line({ ...common, layer: 'fc.weight', shape: [4, 8], numel: 32, param_rms: 0.05, direction_rms: 0.8, effective_lr: 2e-4 }) +
        line({ ...common, layer: 'fc.bias', shape: [4], numel: 4, param_rms: 0.01, direction_rms: 0.5 }),
    );
    const { result } = await analyzePaths([join(dir, 'optimizer_lens.jsonl')]);
    assert.equal(result.optimizer.type, 'adafactor');
    const [w, b] = ['fc.weight', 'fc.bias'].map((n) => result.layers.find((l) => l.name === n)!);
    assert.equal(w.directionRms, 0.8);
    assert.equal(w.effectiveLr, 2e-4);
    assert.equal(w.provenance!.directionRms, 'log');
    assert.equal(w.relStepPredicted, null);
    assert.equal(b.directionRms, 0.5);
    assert.equal(b.effectiveLr, null);
    assert.equal(b.relStepPredicted, null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
