import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { computeAllTensorFigures, type TensorJob } from '../../../src/core/engine/parallel';
import { combineTensorParts, computeTensorFigures, computeTensorPart, type ChunkPartials } from '../../../src/core/engine/tensorStats';
import { adamDirectionSpec } from '../../../src/core/engine/optimizers/spec';
import { readNpz } from '../../../src/core/readers/npz';
import { fixturePath } from '../../support/fixtures';
import { rng } from '../../support/fuzz';
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

/**
 * Adam layers of `numel` float32 elements in one raw file (param, grad, exp_avg, exp_avg_sq each), with the values that
 * take other branches: a few NaN and ±∞ in the gradient, second moments of 0 (with m = 0 and m ≠ 0), ε-dominated ones.
 */
function rawAdamLayers(dir: string, layers: number[]): TensorJob[] {
  const r = rng(2026);
  const path = join(dir, 'layers.bin');
  const total = layers.reduce((a, n) => a + 4 * n, 0);
  const all = new Float32Array(total);
  const jobs: TensorJob[] = [];
  const spec = adamDirectionSpec({ lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, t: 100 });
  let at = 0;
  layers.forEach((n, l) => {
    const refs: Record<string, TensorRef> = {};
    for (const role of ['param', 'grad', 'exp_avg', 'exp_avg_sq']) {
      const x = all.subarray(at, at + n);
      for (let i = 0; i < n; i++) {
        const z = r() - 0.5;
        if (role === 'param') x[i] = 0.02 * z;
        else if (role === 'grad') x[i] = r() < 1e-4 ? [NaN, Infinity, -Infinity][i % 3] : 1e-3 * z;
        else if (role === 'exp_avg') x[i] = r() < 0.01 ? 0 : 1e-4 * z;
        else x[i] = r() < 0.01 ? 0 : r() < 0.01 ? 1e-20 : 1e-6 * r();
      }
      refs[role] = {
        layer: `layers.${l}.weight`,
        role: role as TensorRef['role'],
        key: `${role}/layers.${l}.weight`,
        dtype: 'F32',
        shape: [n],
        numel: n,
        source: { path, offset: at * 4, storedLength: n * 4, compression: 'none' },
      };
      at += n;
    }
    jobs.push({
      set: {
        layer: `layers.${l}.weight`,
        step: 100,
        paramBefore: refs.param,
        grad: refs.grad,
        state: { exp_avg: refs.exp_avg, exp_avg_sq: refs.exp_avg_sq },
      },
      spec,
    });
  });
  writeFileSync(path, new Uint8Array(all.buffer));
  return jobs;
}

test('a layer split into element ranges (whole chunks) and combined gives exactly its one-pass figures', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-parts-'));
  try {
    const [job] = rawAdamLayers(dir, [10_007]);
    for (const chunk of [1000, 4096]) {
      const whole = await computeTensorFigures(job.set, job.spec, chunk);
      for (const perPart of [1, 2]) {
        const parts: ChunkPartials[] = [];
        for (let from = 0; from < 10_007; from += perPart * chunk) {
          const r = await computeTensorPart(job.set, job.spec, { from, to: Math.min(10_007, from + perPart * chunk) }, chunk);
          assert.ok('partials' in r);
          parts.push(r.partials);
        }
        assert.ok(parts.length > 1);
        assert.deepEqual(await combineTensorParts(job.set, job.spec, parts), whole, `chunks of ${chunk}, ${perPart} per part`);
      }
      assert.ok(whole.nonFinite.length === 1 && whole.nonFinite[0].what === 'grad', 'the gradient’s NaN/±∞ are counted');
      assert.ok(whole.zeroSecondMomentFraction! > 0 && whole.epsDominatedFraction! > 0);
      assert.ok(whole.unknown?.includes('second moment of 0'), 'v = 0 with m ≠ 0 is undetermined');
    }
    // A rule other than Adam's fused kernel (Lion, from exp_avg and the gradient) is not split: the part says so.
    const lion = { ...job, spec: { ...job.spec!, kind: 'lion' as const, label: 'Lion', beta2: 0.99 } };
    assert.ok((await computeTensorFigures(lion.set, lion.spec, 1000)).directionRms! > 0);
    assert.deepEqual(await computeTensorPart(lion.set, lion.spec, { from: 0, to: 1000 }, 1000), { whole: true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the pool splits large layers across the lanes and gives exactly the single-thread figures', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-split-'));
  try {
    // 3 parts of 2 chunks, one whole layer (below two parts), one of 5 parts with a short last part.
    const jobs = rawAdamLayers(dir, [6 * 65536, 65536 + 17, 9 * 65536 + 123]);
    const sequential = await computeAllTensorFigures(jobs);
    let progress = 0;
    const pooled = await computeAllTensorFigures(jobs, { threads: 2, minBytes: 0, partElements: 2 * 65536, onDone: (d) => (progress = d) });
    assert.equal(progress, jobs.length);
    assert.deepEqual(pooled, sequential);
    assert.ok(sequential.every((r) => r.figures && r.figures.adamUpdateRms === null && r.figures.paramRms! > 0));
    // A rule that is not split (Lion): the layer's first part runs it whole, the other parts are skipped.
    const lion = jobs.map((j) => ({ ...j, spec: { ...j.spec!, kind: 'lion' as const, label: 'Lion', beta2: 0.99 } }));
    const lionPooled = await computeAllTensorFigures(lion, { threads: 2, minBytes: 0, partElements: 2 * 65536 });
    assert.deepEqual(lionPooled, await computeAllTensorFigures(lion));
    assert.ok(lionPooled.every((x) => x.figures!.directionRms! > 0));
    // A part whose tensor is short: the layer is run again whole, where the short tensor is an issue as in any pass.
    writeFileSync(join(dir, 'short.bin'), Buffer.alloc(1000));
    const short = { ...jobs[0].set.grad!, source: { ...jobs[0].set.grad!.source, path: join(dir, 'short.bin'), offset: 0 } };
    const broken = [{ ...jobs[0], set: { ...jobs[0].set, grad: short } }, ...jobs.slice(1)];
    const r = await computeAllTensorFigures(broken, { threads: 2, minBytes: 0, partElements: 2 * 65536 });
    assert.deepEqual(r, await computeAllTensorFigures(broken));
    assert.equal(r[0].figures!.gradRms, null);
    assert.match(r[0].figures!.issues[0].message, /needs bytes/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
