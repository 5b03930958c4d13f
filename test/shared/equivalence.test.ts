// The equivalence arithmetic of the dashboard and Explain Learning Rate (src/shared/equivalence.ts)
// against the fixtures: adam_reparam_k8 IS adam_base with k = 8 (lr×8, ε÷8, parameters ×8).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { equivalentPairs, explainNumbers, lrForTarget } from '../../src/shared/equivalence';
import { assertClose, loadExpected } from '../support/fixtures';

describe('equivalent (lr, scale, eps)', () => {
  it('maps adam_base onto adam_reparam_k8 with k = 8, layer by layer, with the same relative step', () => {
    const base = loadExpected('adam_base');
    const k8 = loadExpected('adam_reparam_k8');
    for (const step of ['1', '60', '120']) {
      for (const [layer, b] of Object.entries(base.steps[step])) {
        if (layer === 'global' || !(b.param_rms > 0)) continue;
        const [pair] = equivalentPairs(base.hyper.lr, b.param_rms, base.hyper.eps!, 'adam', [8]);
        const other = k8.steps[step][layer];
        assertClose(pair.lr, k8.hyper.lr, 1e-15, `lr ${layer}@${step}`);
        assertClose(pair.eps, k8.hyper.eps!, 1e-15, `eps ${layer}@${step}`);
        assertClose(pair.scale, other.param_rms, 1e-12, `scale ${layer}@${step}`);
        assertClose(other.rel_step, b.rel_step, 1e-6, `relative step ${layer}@${step}`);
      }
    }
  });

  it('SGD needs lr·k² and has no eps', () => {
    const [pair] = equivalentPairs(0.1, 0.02, null, 'sgd', [8]);
    assertClose(pair.lr, 6.4, 1e-15, 'lr·k²');
    assert.equal(pair.eps, null);
  });

  it('LAMB keeps lr (the trust ratio scales the step to ‖w‖); Lion scales lr by k and has no eps', () => {
    const [lamb] = equivalentPairs(1e-3, 0.02, 1e-6, 'lamb', [8]);
    assert.deepEqual([lamb.lr, lamb.scale, lamb.eps], [1e-3, 0.16, 1e-6 / 8]);
    const [lion] = equivalentPairs(1e-4, 0.02, 1e-8, 'lion', [8]);
    assertClose(lion.lr, 8e-4, 1e-15, 'lion lr·k');
    assert.equal(lion.eps, null);
    const [unstated] = equivalentPairs(3e-4, 0.02, 1e-8, null, [10]);
    assertClose(unstated.eps, 1e-9, 1e-15, 'not stated: Adam-like');
  });

  it('lr for a target relative step: measured relative step is proportional to lr at fixed u', () => {
    const base = loadExpected('adam_base');
    const l = base.steps['120']['embed.weight'];
    const t = lrForTarget(
      { name: 'embed.weight', paramRms: l.param_rms, adamUpdateRms: l.adam_u_rms!, relStep: l.rel_step },
      3e-4,
      1e-3,
      'adam',
    );
    assert.equal(t.basis, 'measured');
    assertClose(t.lr, (3e-4 * 1e-3) / l.rel_step!, 1e-12, 'lr');
    // Without the run's lr: target·RMS(p)/RMS(u); that predicts the same lr up to update_pred_rel_err.
    const u = lrForTarget({ name: 'embed.weight', paramRms: l.param_rms, adamUpdateRms: l.adam_u_rms!, relStep: null }, null, 1e-3, 'adam');
    assert.equal(u.basis, 'rms-u');
    assertClose(u.lr, t.lr, 1e-4, 'rms-u basis agrees with measured');
  });

  it('explains (3e-4, 0.02): relative step 0.015, lr 2e-5 for 1e-3; nothing without a scale', () => {
    const x = explainNumbers(3e-4, 0.02, 1e-8, 'adam', 1e-3);
    assertClose(x.relativeStep, 0.015, 1e-12, 'relative step');
    assertClose(x.lrForTarget, 2e-5, 1e-12, 'lr for target');
    assert.deepEqual(explainNumbers(3e-4, null, 1e-8, 'adam', 1e-3), { relativeStep: null, equivalentPairs: [], lrForTarget: null });
  });
});

describe('equivalence per optimizer normalization', () => {
  it('Lion and Muon: lr·k with the scale, no ε; LAMB: the same lr (already relative), ε÷k; Adafactor: no pairs claimed', () => {
    const [lion] = equivalentPairs(1e-4, 0.02, 1e-8, 'lion', [10]);
    assert.deepEqual(lion, { k: 10, lr: 1e-4 * 10, scale: 0.2, eps: null });
    const [muon] = equivalentPairs(0.02, 0.02, null, 'muon', [2]);
    assert.deepEqual(muon, { k: 2, lr: 0.04, scale: 0.04, eps: null });
    const [lamb] = equivalentPairs(1e-3, 0.02, 1e-6, 'lamb', [10]);
    assertClose(lamb.lr, 1e-3, 0, 'LAMB lr unchanged');
    assertClose(lamb.eps, 1e-7, 1e-15, 'LAMB inner ε ÷ k');
    assert.equal(equivalentPairs(1e-3, 0.02, null, 'lars', [10])[0].eps, null);
    assert.deepEqual(equivalentPairs(1e-3, 0.02, 1e-30, 'adafactor'), []);
    // Adam family beyond Adam/AdamW: the same as Adam.
    assert.deepEqual(equivalentPairs(3e-4, 0.02, 1e-8, 'nadam', [8]), equivalentPairs(3e-4, 0.02, 1e-8, 'adam', [8]));
  });

  it('lr for a target: Lion target·RMS(p) exactly, LAMB the target itself, Muon from its direction RMS, SGD only measured', () => {
    const layer = { name: 'w', paramRms: 0.05, adamUpdateRms: null, relStep: null };
    assert.deepEqual(
      [lrForTarget(layer, null, 1e-3, 'lion')].map((t) => [t.basis, t.lr]),
      [['sign', 5e-5]],
    );
    assert.deepEqual(
      [lrForTarget(layer, null, 1e-3, 'lamb')].map((t) => [t.basis, t.lr]),
      [['trust-ratio', 1e-3]],
    );
    const muon = lrForTarget({ ...layer, directionRms: 0.2 }, null, 1e-3, 'muon');
    assert.equal(muon.basis, 'rms-d');
    assertClose(muon.lr, (1e-3 * 0.05) / 0.2, 1e-15, 'Muon');
    assert.equal(lrForTarget(layer, null, 1e-3, 'muon').lr, null, 'Muon without its direction RMS: unknown');
    assert.equal(lrForTarget({ ...layer, adamUpdateRms: 0.3 }, null, 1e-3, 'sgd').lr, null);
    const measured = lrForTarget({ ...layer, relStep: 2e-3 }, 0.1, 1e-3, 'sgd');
    assert.equal(measured.basis, 'measured');
    assertClose(measured.lr, 0.05, 1e-15, 'SGD measured');
  });

  it('explains an (lr, scale) pair in the optimizer it names: Lion lr/scale, LAMB lr, SGD and Muon need more', () => {
    assertClose(explainNumbers(1e-4, 0.02, null, 'lion', 1e-3).relativeStep, 5e-3, 1e-15, 'Lion');
    assertClose(explainNumbers(1e-3, 0.02, null, 'lamb', 1e-3).relativeStep, 1e-3, 0, 'LAMB');
    assert.equal(explainNumbers(0.1, 0.02, null, 'sgd', 1e-3).relativeStep, null);
    assert.equal(explainNumbers(0.02, 0.02, null, 'muon', 1e-3).relativeStep, null);
  });
});
