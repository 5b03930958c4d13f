import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { computeAllTensorFigures, type TensorJob } from '../../../src/core/engine/parallel';
import { readNpz } from '../../../src/core/readers/npz';
import { ReaderError } from '../../../src/core/errors';
import { fixturePath } from '../../support/fixtures';
import type { TensorRef } from '../../../src/core/run/types';

async function jobs(): Promise<TensorJob[]> {
  const data = await readNpz(fixturePath('adam_base', 'tensors', 'step_000120.npz'));
  const byLayer = new Map<string, Record<string, (typeof data.snapshots)[0]['tensors'][0]>>();
  for (const t of data.snapshots[0].tensors) {
    if (!byLayer.has(t.layer)) byLayer.set(t.layer, {});
    byLayer.get(t.layer)![t.role] = t;
  }
  const hyper = { lr: 3e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false };
  return [...byLayer].map(([layer, r]) => ({
    set: {
      layer,
      step: 120,
      paramBefore: r.param_before,
      paramAfter: r.param_after,
      grad: r.grad,
      expAvg: r.exp_avg,
      expAvgSq: r.exp_avg_sq,
    },
    hyper,
  }));
}

test('the worker pool gives exactly the single-thread figures, in job order', async () => {
  const j = await jobs();
  const sequential = await computeAllTensorFigures(j);
  let progress = 0;
  const pooled = await computeAllTensorFigures(j, { workers: 2, minBytes: 0, onDone: (d) => (progress = d) });
  assert.equal(progress, j.length);
  assert.deepEqual(pooled, sequential);
  assert.equal(pooled[13].numel, 1280);
});

test('a reader error inside a worker comes back as a ReaderError naming the file', async () => {
  const j = await jobs();
  const broken = { ...j[0].set.grad!, source: { ...j[0].set.grad!.source, path: fixturePath('no_such_file.npz') } };
  j[3] = {
    ...j[3],
    set: { ...j[3].set, grad: broken, paramBefore: undefined, paramAfter: undefined, expAvg: undefined, expAvgSq: undefined },
  };
  await assert.rejects(
    computeAllTensorFigures(j, { workers: 2, minBytes: 0 }),
    (e: unknown) => e instanceof ReaderError && /no_such_file\.npz/.test(e.message),
  );
});

test('a reader error with a byte offset reads the same from a worker as from the calling thread: the position once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-pool-'));
  try {
    // A raw float32 tensor whose file ends 4,096 bytes in, though the tensor needs 16,384.
    const path = join(dir, 'short.bin');
    writeFileSync(path, Buffer.alloc(4096));
    const ref: TensorRef = {
      layer: 'w',
      role: 'param',
      key: 'w',
      dtype: 'F32',
      shape: [4096],
      numel: 4096,
      source: { path, offset: 0, storedLength: 4096, compression: 'none' },
    };
    const job: TensorJob = { set: { layer: 'w', step: 1, paramSaved: ref }, hyper: null };
    const errorOf = async (p: Promise<unknown>): Promise<ReaderError> => {
      try {
        await p;
      } catch (e) {
        assert.ok(e instanceof ReaderError, String(e));
        return e;
      }
      throw new Error('expected a ReaderError');
    };
    const sequential = await errorOf(computeAllTensorFigures([job, job]));
    const pooled = await errorOf(computeAllTensorFigures([job, job], { workers: 2, minBytes: 0 }));
    assert.equal(pooled.message, sequential.message);
    assert.deepEqual([pooled.path, pooled.offset, pooled.reason], [sequential.path, sequential.offset, sequential.reason]);
    assert.equal(pooled.message.split('byte offset').length - 1, 1, pooled.message);
    assert.doesNotMatch(pooled.reason, /byte offset/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cancellation is the AbortSignal: an aborted signal stops the sequential and the pooled pass with its reason', async () => {
  const j = await jobs();
  const controller = new AbortController();
  controller.abort();
  for (const opts of [{}, { workers: 2, minBytes: 0 }]) {
    await assert.rejects(
      computeAllTensorFigures(j, { ...opts, signal: controller.signal }),
      (e: unknown) => (e as Error).name === 'AbortError',
    );
  }
});
