// Config scanner over every file in test/fixtures/configs (facts from its README).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fixturePath } from '../../support/fixtures';
import { lintConfig, scanConfigFile, scanConfigText, type ConfigScan } from '../../../src/core/config';

const cfg = (...p: string[]) => fixturePath('configs', ...p);

/** The text at a 1-based line/column of the file starts with `raw`. */
function assertAt(path: string, line: number, column: number, raw: string) {
  const lines = readFileSync(path, 'utf8').split('\n');
  assert.equal(lines[line - 1].slice(column - 1, column - 1 + raw.length), raw, `${path}:${line}:${column} holds ${raw}`);
}

function lrs(s: ConfigScan) {
  return s.learningRates.map((l) => ({ key: l.key, value: l.value, role: l.role, line: l.range.line, column: l.range.column }));
}
const rules = (s: ConfigScan) => lintConfig(s).map((f) => `${f.rule}@${f.range.line}:${f.range.column}:${f.severity}`);

test('hf_run/config.json: initializer_range 0.02 on line 11 is a scale; layer_norm_epsilon is not an lr or optimizer eps', () => {
  const p = cfg('hf_run', 'config.json');
  const s = scanConfigFile(p);
  assert.deepEqual(lrs(s), []);
  assert.deepEqual(
    s.scales.map((x) => [x.key, x.value, x.source, x.range.line, x.range.column]),
    [['initializer_range', 0.02, 'stated', 11, 24]],
  );
  assertAt(p, 11, 24, '0.02');
  assert.deepEqual(s.eps, []);
  assert.deepEqual(lintConfig(s), []);
});

test('hf_run/training_args.json: learning_rate 0.0003 (line 11) takes its scale from the sibling config.json', () => {
  const p = cfg('hf_run', 'training_args.json');
  const s = scanConfigFile(p);
  assert.deepEqual(lrs(s), [{ key: 'learning_rate', value: 0.0003, role: 'main', line: 11, column: 20 }]);
  assertAt(p, 11, 20, '0.0003');
  const sib = s.scales.find((x) => x.source === 'sibling');
  assert.ok(sib, 'sibling scale found');
  assert.equal(sib.value, 0.02);
  assert.equal(sib.key, 'initializer_range');
  assert.ok(sib.path?.endsWith('config.json'));
  assert.equal(sib.range.line, 11);
  assert.deepEqual(
    s.eps.map((e) => [e.key, e.value, e.range.line]),
    [['adam_epsilon', 1e-8, 15]],
  );
  assert.deepEqual(
    s.betas.map((b) => b.value),
    [[0.9, 0.999]],
  );
  assert.deepEqual(
    s.optimizers.map((o) => [o.name, o.family]),
    [['adamw_torch', 'adamw']],
  );
  // warmup_ratio 0.02 is not an lr; 3e-4 / 0.02 = 0.015 > 1e-2.
  const f = lintConfig(s);
  assert.deepEqual(
    f.map((x) => x.rule),
    ['relative-step-high'],
  );
  assert.ok(Math.abs((f[0].evidence.relativeStep as number) - 0.015) < 1e-12);
  assert.equal(f[0].severity, 'info', 'the step-1 bound is above 1e-2, the later estimate is not');
  // Without the sibling (text scan only) the same lr has no scale.
  const alone = scanConfigText(readFileSync(p, 'utf8'), p);
  assert.deepEqual(
    lintConfig(alone).map((x) => x.rule),
    ['lr-without-scale'],
  );
});

test('lightning_hydra.yaml: peak lr 0.0006 (line 35), eta_min floor (line 42); betas and weight_decay are not lrs', () => {
  const p = cfg('lightning_hydra.yaml');
  const s = scanConfigFile(p);
  assert.deepEqual(lrs(s), [
    { key: 'model.optimizer.lr', value: 0.0006, role: 'main', line: 35, column: 9 },
    { key: 'model.scheduler.eta_min', value: 6e-5, role: 'floor', line: 42, column: 14 },
  ]);
  assertAt(p, 35, 9, '0.0006');
  assertAt(p, 42, 14, '6.0e-05');
  assert.deepEqual(s.scales, []);
  assert.deepEqual(
    s.betas.map((b) => [b.key, b.value, b.range.line]),
    [['model.optimizer.betas', [0.9, 0.95], 36]],
  );
  assert.deepEqual(
    s.weightDecay.map((w) => [w.value, w.range.line]),
    [[0.1, 37]],
  );
  assert.deepEqual(
    s.optimizers.map((o) => o.family),
    ['adamw'],
  );
  assert.equal(s.yamlLoader?.hint, 'hydra');
  assert.deepEqual(
    s.precision.map((x) => x.mode),
    ['bf16-mixed'],
  );
  assert.deepEqual(rules(s), ['lr-without-scale@35:9:warning']);
});

test('ds_config.json: optimizer.params.lr 2e-4, warmup_min_lr 0 (where DeepSpeed WarmupLR starts), warmup_max_lr 2e-4; fp16 mixed → no eps-underflow-fp16', () => {
  const p = cfg('ds_config.json');
  const s = scanConfigFile(p);
  assert.deepEqual(lrs(s), [
    { key: 'optimizer.params.lr', value: 2e-4, role: 'main', line: 20, column: 13 },
    { key: 'scheduler.params.warmup_min_lr', value: 0, role: 'warmup-start', line: 29, column: 24 },
    { key: 'scheduler.params.warmup_max_lr', value: 2e-4, role: 'main', line: 30, column: 24 },
  ]);
  assertAt(p, 20, 13, '2e-4');
  assertAt(p, 30, 24, '2e-4');
  assert.deepEqual(
    s.eps.map((e) => [e.key, e.value, e.range.line]),
    [['optimizer.params.eps', 1e-8, 22]],
  );
  assert.deepEqual(
    s.precision.map((x) => [x.key, x.mode, x.range.line]),
    [['fp16.enabled', 'fp16-mixed', 9]],
  );
  const f = rules(s);
  assert.ok(!f.some((r) => r.startsWith('eps-underflow-fp16')), 'mixed precision keeps eps in fp32');
  assert.deepEqual(f, ['lr-without-scale@20:13:warning', 'lr-without-scale@30:24:warning']);
  // initial_scale_power 16 is not mistaken for anything.
  assert.ok(!s.learningRates.some((l) => l.value === 16));
});

test('nanogpt_train_tiny.py: learning_rate 6e-4 on line 30; the commented line 31 is not active; min_lr floor; decay_lr / lr_decay_iters are not lrs', () => {
  const p = cfg('nanogpt_train_tiny.py');
  const s = scanConfigFile(p);
  assert.deepEqual(lrs(s), [
    { key: 'learning_rate', value: 6e-4, role: 'main', line: 30, column: 17 },
    { key: 'min_lr', value: 6e-5, role: 'floor', line: 42, column: 10 },
  ]);
  assertAt(p, 30, 17, '6e-4');
  assert.ok(!s.learningRates.some((l) => l.range.line === 31 || l.value === 1e-3));
  assert.deepEqual(
    s.weightDecay.map((w) => [w.value, w.range.line]),
    [[0.1, 33]],
  );
  assert.deepEqual(
    s.betas.map((b) => b.value),
    [[0.9, 0.98]],
  );
  assert.deepEqual(rules(s), ['lr-without-scale@30:17:warning']);
});

test('train.toml: optimizer.lr 8e-4 on line 18; min_lr_ratio 0.1 is a ratio, not an lr', () => {
  const p = cfg('train.toml');
  const s = scanConfigFile(p);
  assert.deepEqual(lrs(s), [{ key: 'optimizer.lr', value: 8e-4, role: 'main', line: 18, column: 6 }]);
  assertAt(p, 18, 6, '8e-4');
  assert.ok(!s.learningRates.some((l) => l.key.includes('min_lr_ratio')));
  assert.deepEqual(
    s.eps.map((e) => [e.key, e.value, e.range.line]),
    [['optimizer.eps', 1e-8, 19]],
  );
  assert.deepEqual(
    s.optimizers.map((o) => [o.name, o.family]),
    [['AdamW', 'adamw']],
  );
  assert.deepEqual(
    s.precision.map((x) => x.mode),
    ['bf16-mixed'],
  );
  assert.deepEqual(rules(s), ['lr-without-scale@18:6:warning']);
});

test('finetune.yaml: line 16 lr 1e-4 read as 1e-4 and flagged yaml-float-string (warning); 2.0e-4 and 1.0e-8 are floats everywhere', () => {
  const p = cfg('finetune.yaml');
  const s = scanConfigFile(p);
  assert.deepEqual(lrs(s), [
    { key: 'train.lr', value: 1e-4, role: 'main', line: 16, column: 7 },
    { key: 'lora.lr', value: 2e-4, role: 'main', line: 30, column: 7 },
  ]);
  assertAt(p, 16, 7, '1e-4');
  assertAt(p, 30, 7, '2.0e-4');
  assert.deepEqual(
    s.yamlFloatStrings.map((x) => [x.key, x.raw, x.range.line]),
    [['train.lr', '1e-4', 16]],
  );
  assert.equal(s.yamlLoader, null);
  assert.deepEqual(
    s.eps.map((e) => [e.key, e.value, e.range.line]),
    [['train.adam_eps', 1e-8, 20]],
  );
  // warmup_ratio 0.03 and lr_scheduler 'cosine' are not lrs.
  assert.ok(!s.learningRates.some((l) => l.value === 0.03));
  assert.deepEqual(rules(s), ['lr-without-scale@16:7:warning', 'yaml-float-string@16:7:warning', 'lr-without-scale@30:7:warning']);
});

test('megatron_pretrain.sh: --lr 3.0e-4 (line 17), --min-lr floor, --init-method-std 0.02 scale; --lr-warmup-fraction is not an lr', () => {
  const p = cfg('megatron_pretrain.sh');
  const s = scanConfigFile(p);
  assert.deepEqual(lrs(s), [
    { key: '--lr', value: 3e-4, role: 'main', line: 17, column: 10 },
    { key: '--min-lr', value: 3e-5, role: 'floor', line: 18, column: 14 },
  ]);
  assertAt(p, 17, 10, '3.0e-4');
  assert.deepEqual(
    s.scales.map((x) => [x.key, x.value, x.range.line, x.range.column]),
    [['--init-method-std', 0.02, 26, 23]],
  );
  assertAt(p, 26, 23, '0.02');
  assert.deepEqual(
    s.eps.map((e) => [e.key, e.value, e.range.line]),
    [['--adam-eps', 1e-8, 25]],
  );
  assert.deepEqual(
    s.betas.map((b) => b.value),
    [[0.9, 0.95]],
  );
  assert.ok(!s.learningRates.some((l) => l.key === '--lr-warmup-fraction'));
  assert.deepEqual(
    s.precision.map((x) => x.mode),
    ['bf16-mixed'],
  );
  // 3e-4 / 0.02 = 0.015 > 1e-2 at step 1 only; later (RMS(u) 0.2–0.45) 0.003–0.00675: an info, not a warning.
  assert.deepEqual(rules(s), ['relative-step-high@17:10:info']);
});
