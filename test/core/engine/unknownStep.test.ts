// A tensor file that states no optimizer step (model.safetensors outside checkpoint-N/) is analyzed:
// its layers and parameter scale appear with the step unknown, or at --step N.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzePaths } from '../../../src/core/pipeline';

/** A safetensors file of float32 tensors (header JSON + little-endian data). */
function safetensors(tensors: Record<string, { shape: number[]; values: number[] }>): Buffer {
  const header: Record<string, unknown> = {};
  const parts: Buffer[] = [];
  let at = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const data = Buffer.from(new Float32Array(t.values).buffer);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [at, at + data.length] };
    parts.push(data);
    at += data.length;
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8) json += ' ';
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, Buffer.from(json), ...parts]);
}

const rms = (v: number[]): number => Math.sqrt(v.reduce((s, x) => s + Math.fround(x) ** 2, 0) / v.length);

test('model.safetensors with no step: layers and parameter scale at an unknown step; --step N places it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-nostep-'));
  try {
    const w = Array.from({ length: 12 }, (_, i) => (i - 5.5) * 0.01);
    const b = [0.5, -0.25, 0.125];
    const path = join(dir, 'model.safetensors');
    writeFileSync(path, safetensors({ 'encoder.weight': { shape: [3, 4], values: w }, 'encoder.bias': { shape: [3], values: b } }));
    const a = await analyzePaths([path]);
    assert.equal(a.result.step, null);
    assert.deepEqual(a.result.steps, []);
    assert.deepEqual(
      a.result.layers.map((l) => l.name),
      ['encoder.weight', 'encoder.bias'],
    );
    assert.ok(Math.abs(a.result.layers[0].paramRms! - rms(w)) < 1e-12);
    assert.ok(Math.abs(a.result.layers[1].paramRms! - rms(b)) < 1e-12);
    assert.deepEqual(a.result.layers[0].shape, [3, 4]);
    assert.equal(a.result.layers[0].relStep, null, 'no step was taken: no measured step');
    assert.ok(!a.result.issues.some((i) => /not used/.test(i.message)), JSON.stringify(a.result.issues));
    const at = await analyzePaths([path], { step: 500 });
    assert.equal(at.result.step, 500);
    assert.deepEqual(at.result.steps, [500]);
    assert.ok(Math.abs(at.result.layers[0].paramRms! - rms(w)) < 1e-12);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the CLI table says the step is unknown instead of "Step — of 0 steps"', async () => {
  const { renderTable } = await import('../../../src/cli/analyzeCommand');
  const dir = mkdtempSync(join(tmpdir(), 'ol-nostep-'));
  try {
    const path = join(dir, 'model.safetensors');
    writeFileSync(path, safetensors({ 'fc.weight': { shape: [2, 2], values: [0.1, -0.2, 0.3, 0.05] } }));
    const text = renderTable((await analyzePaths([path])).result);
    assert.match(text, /^Step unknown: the input states no optimizer step \(--step N places it\)$/m);
    assert.match(text, /^fc\.weight\s+\[2,2\]\s+0\.189\s/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
