import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { JS_KERNELS, wasmKernels, type AdamChunkAcc } from '../../../src/core/engine/wasm/kernels';
import { computeTensorFigures } from '../../../src/core/engine/tensorStats';
import { adamDirectionSpec } from '../../../src/core/engine/optimizers/spec';
import { readNpz } from '../../../src/core/readers/npz';
import { readTensorValues } from '../../../src/core/io/tensorData';
import { ROOT, fixturePath } from '../../support/fixtures';

// The WebAssembly SIMD kernels (src/core/engine/wasm/stats.wat) give the same float64 results as the JavaScript
// loops, bit for bit, on real tensors and on the values that take other branches (zero second moments, ε-dominated
// elements, NaN and ±∞, every tail length); and the shipped module is the assembly of the .wat.

test('statsWasm.ts is the assembly of stats.wat (npm run build:wasm after editing the .wat)', async () => {
  const { assembleStatsWasm, renderModule } = (await import(join(ROOT, 'scripts', 'build-wasm.mjs'))) as {
    assembleStatsWasm(): Promise<Buffer>;
    renderModule(b: Buffer): string;
  };
  const committed = readFileSync(join(ROOT, 'src', 'core', 'engine', 'wasm', 'statsWasm.ts'), 'utf8');
  assert.equal(committed, renderModule(await assembleStatsWasm()));
});

function emptyAcc(): AdamChunkAcc {
  return { uu: 0, up: 0, vh: 0, zero: 0, eps: 0, undetermined: 0, hist: new Float64Array(240) };
}

function bothAdam(
  m: Float32Array,
  v: Float32Array,
  p: Float32Array | null,
  a: number,
  b: number,
  vs: number,
  eps: number,
): [AdamChunkAcc, AdamChunkAcc] {
  const w = wasmKernels()!;
  const x = emptyAcc();
  const y = emptyAcc();
  w.startPass();
  w.adam(m, v, p, a, b, vs, eps, x);
  w.flushAdam(x);
  JS_KERNELS.adam(m, v, p, a, b, vs, eps, y);
  return [x, y];
}

test('WebAssembly SIMD is available here, and its sums are the JavaScript loops’ bit for bit on the adam_base tensors', async () => {
  const w = wasmKernels();
  assert.ok(w, 'WebAssembly SIMD in this Node');
  const data = await readNpz(fixturePath('adam_base', 'tensors', 'step_000060.npz'));
  const byLayer = new Map<string, Record<string, Float32Array>>();
  for (const t of data.snapshots[0].tensors) {
    if (!byLayer.has(t.layer)) byLayer.set(t.layer, {});
    byLayer.get(t.layer)![t.role] = Float32Array.from(await readTensorValues(t));
  }
  const bc1 = 1 - 0.9 ** 60;
  const bc2 = 1 - 0.999 ** 60;
  let checked = 0;
  for (const [layer, r] of byLayer) {
    for (const x of Object.values(r)) assert.equal(w.sumsq(x), JS_KERNELS.sumsq(x), `${layer} Σx²`);
    assert.equal(w.sumsqdiff(r.param_after, r.param_before), JS_KERNELS.sumsqdiff(r.param_after, r.param_before), `${layer} Σ(Δp)²`);
    for (const p of [r.param_before, null]) {
      const [x, y] = bothAdam(r.exp_avg, r.exp_avg_sq, p, 1 / bc1, 1 / bc2, 1 / bc2, 1e-8);
      assert.deepEqual(x, y, `${layer} Adam`);
      assert.ok(x.uu > 0);
    }
    checked++;
  }
  assert.equal(checked, 14);
  // embed.weight: 8 of 40 rows never received a gradient.
  const e = byLayer.get('embed.weight')!;
  assert.equal(bothAdam(e.exp_avg, e.exp_avg_sq, null, 1 / bc1, 1 / bc2, 1 / bc2, 1e-8)[0].zero, 8 * 32);
});

test('every tail length and the branches: v = 0 with m = 0 and m ≠ 0, √v̂ < ε, NaN and ±∞', () => {
  const special = [0, -0, 1e-30, -1e-30, 3.5, -2.25, NaN, Infinity, -Infinity, 1e-20, 7e5, 1.5e-45];
  let seed = 7;
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  for (let n = 0; n <= 37; n++) {
    const m = new Float32Array(n);
    const v = new Float32Array(n);
    const p = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      m[i] = rand() < 0.3 ? special[(i * 5) % special.length] : (rand() - 0.5) * 1e-3;
      v[i] = rand() < 0.3 ? Math.abs(special[(i * 7) % special.length]) : rand() * 1e-7;
      p[i] = (rand() - 0.5) * 0.1;
    }
    const w = wasmKernels()!;
    assert.equal(Object.is(w.sumsq(m), JS_KERNELS.sumsq(m)), true, `Σm² n=${n}`);
    assert.equal(Object.is(w.sumsqdiff(m, p), JS_KERNELS.sumsqdiff(m, p)), true, `Σ(m − p)² n=${n}`);
    for (const [a, b] of [
      [1 / 0.1, 1 / 0.001],
      [Math.sqrt(0.001) / 0.1, 1],
    ]) {
      const [x, y] = bothAdam(m, v, p, a, b, 1 / 0.001, 1e-8);
      for (const k of ['uu', 'up', 'vh'] as const) assert.ok(Object.is(x[k], y[k]), `${k} n=${n}: ${x[k]} vs ${y[k]}`);
      assert.deepEqual([x.zero, x.eps, x.undetermined, [...x.hist]], [y.zero, y.eps, y.undetermined, [...y.hist]], `counts n=${n}`);
    }
  }
});

test('the fused pass gives the same figures with the WebAssembly kernels and with the JavaScript loops', async () => {
  const data = await readNpz(fixturePath('adamw_wd0.05', 'tensors', 'step_000120.npz'));
  const get = (layer: string, role: string) => data.snapshots[0].tensors.find((t) => t.layer === layer && t.role === role);
  for (const layer of ['embed.weight', 'blocks.0.mlp.fc.weight', 'ln_f.bias']) {
    const set = {
      layer,
      step: 120,
      paramBefore: get(layer, 'param_before'),
      paramAfter: get(layer, 'param_after'),
      grad: get(layer, 'grad'),
      state: { exp_avg: get(layer, 'exp_avg'), exp_avg_sq: get(layer, 'exp_avg_sq') },
    };
    const spec = adamDirectionSpec({ lr: 3e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, t: 120, weightDecay: 0.05, decoupled: true });
    const simd = await computeTensorFigures(set, spec, 1000);
    process.env.OPTIMIZER_LENS_WASM = '0';
    try {
      const js = await computeTensorFigures(set, spec, 1000);
      assert.deepEqual(simd, js, layer);
    } finally {
      delete process.env.OPTIMIZER_LENS_WASM;
    }
  }
});

test('Adam’s counts and histogram kept in the WebAssembly memory across chunks (and a growing chunk size) are the JavaScript loops’ after the flush', () => {
  const w = wasmKernels()!;
  const x = emptyAcc();
  const y = emptyAcc();
  let seed = 11;
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  w.startPass();
  // Chunks larger than the memory's regions move the output block: the pending counts move with it.
  for (const n of [1000, 37, 5000, 70000, 3, 200000]) {
    const m = Float32Array.from({ length: n }, () => (rand() < 0.05 ? 0 : (rand() - 0.5) * 1e-3));
    const v = Float32Array.from({ length: n }, (_, i) => (m[i] === 0 || rand() < 0.02 ? 0 : rand() < 0.1 ? 1e-20 : rand() * 1e-6));
    w.adam(m, v, null, 10, 1000, 1000, 1e-8, x);
    JS_KERNELS.adam(m, v, null, 10, 1000, 1000, 1e-8, y);
    assert.ok(Object.is(x.uu, y.uu) && Object.is(x.vh, y.vh), `chunk sums n=${n}`);
  }
  w.flushAdam(x);
  assert.deepEqual([x.zero, x.eps, x.undetermined, [...x.hist]], [y.zero, y.eps, y.undetermined, [...y.hist]]);
  assert.ok(x.zero > 0 && x.eps > 0 && x.undetermined > 0);
  // A new pass starts from zero.
  w.startPass();
  const z = emptyAcc();
  w.flushAdam(z);
  assert.deepEqual([z.zero, z.eps, z.undetermined, z.hist.reduce((a, b) => a + b, 0)], [0, 0, 0, 0]);
});
