import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeAllTensorFigures, type TensorJob } from '../../../src/core/engine/parallel';
import { readNpz } from '../../../src/core/readers/npz';
import { ReaderError } from '../../../src/core/errors';
import { fixturePath } from '../../support/fixtures';

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
