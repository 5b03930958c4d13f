// Logged direction_rms / effective_lr (long-form JSONL, one line per layer and step): the predicted relative step is
// the applied lr × RMS(d) / RMS(w), with the effective lr where the log states one (Adafactor's relative step size).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzePaths } from '../../../src/core/pipeline';

test('logged direction_rms and effective_lr give RMS(d) and the predicted relative step', async () => {
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
    assert.ok(Math.abs(w.relStepPredicted! - (2e-4 * 0.8) / 0.05) < 1e-15);
    // No effective lr logged: the group's lr applies.
    assert.equal(b.effectiveLr, null);
    assert.ok(Math.abs(b.relStepPredicted! - (1e-3 * 0.5) / 0.01) < 1e-15);
    assert.equal(b.provenance!.relStepPredicted, 'derived');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
