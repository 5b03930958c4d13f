import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { computeAllTensorFigures, type TensorJob } from '../../../src/core/engine/parallel';
import { adamDirectionSpec } from '../../../src/core/engine/optimizers/spec';
import { readNpz } from '../../../src/core/readers/npz';
import { fixturePath } from '../../support/fixtures';
import type { TensorRef } from '../../../src/core/run/types';

async function jobs(): Promise<TensorJob[]> {
  const data = await readNpz(fixturePath('adam_base', 'tensors', 'step_000120.npz'));
  const byLayer = new Map<string, Record<string, (typeof data.snapshots)[0]['tensors'][0]>>();
  for (const t of data.snapshots[0].tensors) {
    if (!byLayer.has(t.layer)) byLayer.set(t.layer, {});
    byLayer.get(t.layer)![t.role] = t;
  }
  const spec = adamDirectionSpec({ lr: 3e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, t: 120 });
  return [...byLayer].map(([layer, r]) => ({
    set: {
      layer,
      step: 120,
      paramBefore: r.param_before,
      paramAfter: r.param_after,
      grad: r.grad,
      state: { exp_avg: r.exp_avg, exp_avg_sq: r.exp_avg_sq },
    },
    spec,
  }));
}

function shortFile(dir: string): TensorRef {
  // A raw float32 tensor whose file ends 4,096 bytes in, though the tensor needs 16,384.
  const path = join(dir, 'short.bin');
  writeFileSync(path, Buffer.alloc(4096));
  return {
    layer: 'w',
    role: 'param',
    key: 'w',
    dtype: 'F32',
    shape: [4096],
    numel: 4096,
    source: { path, offset: 0, storedLength: 4096, compression: 'none' },
  };
}

test('the worker pool gives exactly the single-thread figures, in job order', async () => {
  const j = await jobs();
  const sequential = await computeAllTensorFigures(j);
  let progress = 0;
  const pooled = await computeAllTensorFigures(j, { threads: 2, minBytes: 0, onDone: (d) => (progress = d) });
  assert.equal(progress, j.length);
  assert.deepEqual(pooled, sequential);
  assert.equal(pooled[13].figures!.numel, 1280);
});

test('one unreadable tensor becomes an issue on that tensor; its layer keeps the figures of the others, the other layers are untouched', async () => {
  const j = await jobs();
  const broken = { ...j[3].set.grad!, source: { ...j[3].set.grad!.source, path: fixturePath('no_such_file.npz') } };
  j[3] = { ...j[3], set: { ...j[3].set, grad: broken } };
  const reference = await computeAllTensorFigures(await jobs());
  for (const opts of [{}, { threads: 2, minBytes: 0 }]) {
    const r = await computeAllTensorFigures(j, opts);
    const f = r[3].figures!;
    assert.equal(f.gradRms, null, 'the missing gradient');
    assert.equal(f.issues.length, 1);
    assert.equal(f.issues[0].what, 'grad');
    assert.match(f.issues[0].path, /no_such_file\.npz/);
    // The layer's other figures do not need the gradient.
    assert.equal(f.paramRms, reference[3].figures!.paramRms);
    assert.equal(f.adamUpdateRms, reference[3].figures!.adamUpdateRms);
    assert.equal(f.updateRms, reference[3].figures!.updateRms);
    for (let i = 0; i < r.length; i++) if (i !== 3) assert.deepEqual(r[i], reference[i]);
  }
});

test('a short tensor file reads the same from a worker as from the calling thread: one issue with the byte offset', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-pool-'));
  try {
    const ref = shortFile(dir);
    const job: TensorJob = { set: { layer: 'w', step: 1, paramSaved: ref }, spec: null };
    const sequential = await computeAllTensorFigures([job, job]);
    const pooled = await computeAllTensorFigures([job, job], { threads: 2, minBytes: 0 });
    assert.deepEqual(pooled, sequential);
    const f = sequential[0].figures!;
    assert.equal(f.paramRms, null);
    assert.equal(f.issues.length, 1);
    assert.deepEqual([f.issues[0].what, f.issues[0].path, f.issues[0].offset], ['param', ref.source.path, 0]);
    assert.match(f.issues[0].message, /needs bytes 0..16384 but the file has 4096/);
    assert.doesNotMatch(f.issues[0].message, /byte offset/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a job that fails as a whole is that job’s error; the others are analyzed', async () => {
  const j = await jobs();
  j[5] = { set: { layer: 'empty', step: 120 }, spec: null };
  for (const opts of [{}, { threads: 2, minBytes: 0 }]) {
    const r = await computeAllTensorFigures(j, opts);
    assert.match(r[5].error!.message, /no tensors for layer empty/);
    assert.equal(r.filter((x) => x.figures).length, j.length - 1);
  }
});

test('cancellation is the AbortSignal: an aborted signal stops the sequential and the pooled pass with its reason', async () => {
  const j = await jobs();
  const controller = new AbortController();
  controller.abort();
  for (const opts of [{}, { threads: 2, minBytes: 0 }]) {
    await assert.rejects(
      computeAllTensorFigures(j, { ...opts, signal: controller.signal }),
      (e: unknown) => (e as Error).name === 'AbortError',
    );
  }
});
