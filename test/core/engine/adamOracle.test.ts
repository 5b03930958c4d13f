import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { readNpz } from '../../../src/core/readers/npz';
import { readTensorValues } from '../../../src/core/io/tensorData';
import { replayAdam } from '../../../src/core/engine/replay';
import type { TensorRef } from '../../../src/core/run/types';
import { assertClose, fixturePath, loadExpected } from '../../support/fixtures';

// An independent oracle: TensorFlow.js's tf.train.adam (float32, ε added after bias correction like
// torch) replayed over the fixture's real gradients must give the same normalized update u as our
// replay and as PyTorch's exp_avg/exp_avg_sq (expected.json adam_u_rms).
// Tolerance: tfjs keeps β^t in float32, so 1 − β2^t (≈ 0.002 at t = 2) carries float32 cancellation,
// ≈ 3e-5 relative in v̂, ≈ 1.5e-5 in u; torch computes the bias corrections in float64.
const TFJS_REL = 5e-5;

async function gradsOf(run: string, files: string[]): Promise<Map<string, TensorRef[]>> {
  const byLayer = new Map<string, TensorRef[]>();
  for (const f of files) {
    const data = await readNpz(fixturePath(run, ...f.split('/')));
    for (const t of data.snapshots[0].tensors) {
      if (t.role !== 'grad') continue;
      let l = byLayer.get(t.layer);
      if (!l) byLayer.set(t.layer, (l = []));
      l.push(t);
    }
  }
  return byLayer;
}

/** u at each step from tf.train.adam: a zero variable and learning rate −1 make the new value u itself. */
async function tfjsUpdates(grads: TensorRef[], beta1: number, beta2: number, eps: number): Promise<Float32Array[]> {
  const shape = grads[0].shape.length ? grads[0].shape : [1];
  const variable = tf.variable(tf.zeros(shape), true, `w${Math.random()}`);
  const optimizer = tf.train.adam(-1, beta1, beta2, eps);
  const out: Float32Array[] = [];
  for (const g of grads) {
    variable.assign(tf.zeros(shape));
    const values = await readTensorValues(g);
    const grad = tf.tensor(Float32Array.from(values), shape);
    optimizer.applyGradients([{ name: variable.name, tensor: grad }]);
    out.push((await variable.data()) as Float32Array);
    grad.dispose();
  }
  optimizer.dispose();
  variable.dispose();
  return out;
}

test('tf.train.adam over adam_base gradients of steps 1-2 gives our u element by element and PyTorch RMS(u)', async () => {
  await tf.setBackend('cpu');
  const exp = loadExpected('adam_base');
  const { beta1, beta2, eps } = exp.hyper as Required<typeof exp.hyper>;
  const byLayer = await gradsOf('adam_base', ['tensors/step_000001.npz', 'tensors/step_000002.npz']);
  assert.equal(byLayer.size, 14);
  let checked = 0;
  for (const [layer, grads] of byLayer) {
    assert.equal(grads.length, 2);
    const oracle = await tfjsUpdates(grads, beta1!, beta2!, eps!);
    const ours = await replayAdam(grads, { beta1: beta1!, beta2: beta2!, eps: eps! }, { keepU: true });
    for (let s = 0; s < 2; s++) {
      const u = ours[s].u!;
      for (let i = 0; i < u.length; i++) {
        const diff = Math.abs(u[i] - oracle[s][i]);
        assert.ok(
          diff <= TFJS_REL * Math.max(1, Math.abs(u[i])),
          `${layer} step ${s + 1} element ${i}: ours ${u[i]} vs tfjs ${oracle[s][i]}`,
        );
        checked++;
      }
      let sq = 0;
      for (const x of oracle[s]) sq += x * x;
      const want = exp.steps[String(s + 1)][layer].adam_u_rms!;
      assertClose(Math.sqrt(sq / u.length), want, TFJS_REL, `tfjs RMS(u) ${layer} step ${s + 1}`);
      assertClose(ours[s].adamUpdateRms, want, 1e-6, `replayed RMS(u) ${layer} step ${s + 1}`);
    }
  }
  assert.ok(checked > 20000);
});

test('replay over the deflated dump (steps 1-3, savez_compressed) matches the oracle at step 3', async () => {
  await tf.setBackend('cpu');
  const exp = loadExpected('adam_base');
  const { beta1, beta2, eps } = exp.hyper as Required<typeof exp.hyper>;
  const byLayer = await gradsOf('adam_base', ['dump/step_000001.npz', 'dump/step_000002.npz', 'dump/step_000003.npz']);
  const head = byLayer.get('head.weight')!;
  assert.equal(head[0].source.compression, 'deflate');
  const oracle = await tfjsUpdates(head, beta1!, beta2!, eps!);
  const ours = await replayAdam(head, { beta1: beta1!, beta2: beta2!, eps: eps! }, { keepU: true });
  let sq = 0;
  for (let i = 0; i < oracle[2].length; i++) {
    assert.ok(Math.abs(ours[2].u![i] - oracle[2][i]) <= TFJS_REL * Math.max(1, Math.abs(oracle[2][i])));
    sq += oracle[2][i] ** 2;
  }
  assertClose(ours[2].adamUpdateRms, Math.sqrt(sq / oracle[2].length), TFJS_REL, 'step 3 RMS(u)');
  assertClose(ours[1].adamUpdateRms, exp.steps['2']['head.weight'].adam_u_rms!, 1e-6, 'step 2 RMS(u) vs PyTorch');
});
