// The one optimizer-kind list and the names from the wild it recognizes (src/shared/optimizers.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isEightBitOptimizerName, optimizerKindFromName, OPTIMIZER_KINDS, OPTIMIZER_LABELS } from '../../src/shared/optimizers';

test('names as torch, HF Trainer, DeepSpeed, bitsandbytes and Lightning write them map to one kind', () => {
  const cases: [string, string | null][] = [
    ['torch.optim.AdamW', 'adamw'],
    ['Adam', 'adam'],
    ['adamw_torch_fused', 'adamw'],
    ['adamw_hf', 'adamw'],
    ['adamw_bnb_8bit', 'adamw'],
    ['paged_adamw_32bit', 'adamw'],
    ['bitsandbytes.optim.AdamW8bit', 'adamw'],
    ['FusedAdam', 'adam'],
    ['DeepSpeedCPUAdam', 'adam'],
    ['Lamb', 'lamb'],
    ['FusedLamb', 'lamb'],
    ['lion_32bit', 'lion'],
    ['paged_lion_8bit', 'lion'],
    ['Lion', 'lion'],
    ['adafactor', 'adafactor'],
    ['transformers.optimization.Adafactor', 'adafactor'],
    ['Muon', 'muon'],
    ['NAdam', 'nadam'],
    ['RAdam', 'radam'],
    ['Adamax', 'adamax'],
    ['Adagrad', 'adagrad'],
    ['RMSprop', 'rmsprop'],
    ['SGD', 'sgd'],
    ['sgd', 'sgd'],
    ['LARS', 'lars'],
    ['lr-AdamW', 'adamw'],
    ['Shampoo', null],
    ['LARC', 'lars'],
    ['ASGD', 'sgd'],
    ['amsgrad', 'adam'],
    ['fused_adam', 'adam'],
    ['OneBitLamb', 'lamb'],
    ['adamw_8bit', 'adamw'],
    ['galore_adamw_8bit', 'adamw'],
    ['Adadelta', null],
    ['DAdaptAdam', null],
    ['prodigy', null],
    ['scale_by_adafactor', 'adafactor'],
    ['', null],
  ];
  for (const [name, kind] of cases) assert.equal(optimizerKindFromName(name), kind, name);
});

test('8-bit variants are told apart from their 32-bit names; every kind has a label', () => {
  assert.ok(isEightBitOptimizerName('adamw_bnb_8bit'));
  assert.ok(isEightBitOptimizerName('AdamW8bit'));
  assert.ok(!isEightBitOptimizerName('paged_adamw_32bit'));
  for (const k of OPTIMIZER_KINDS) assert.ok(OPTIMIZER_LABELS[k]);
});

test('lrMeaning: one sentence per normalization, never "under Adam" for SGD, Lion or Muon', async () => {
  const { lrMeaning } = await import('../../src/shared/optimizers');
  assert.match(lrMeaning('adamw'), /^Under AdamW each weight moves by about lr × RMS\(u\)/);
  assert.match(lrMeaning('sgd'), /lr × gradient/);
  assert.match(lrMeaning('lion'), /exactly lr/);
  assert.match(lrMeaning('lamb'), /trust ratio/);
  assert.match(lrMeaning(null), /not stated/);
  for (const k of ['sgd', 'lion', 'muon', 'lamb', 'adafactor'] as const) assert.doesNotMatch(lrMeaning(k), /Adam\b/, k);
  for (const k of OPTIMIZER_KINDS) assert.ok(lrMeaning(k).length > 40, k);
});
