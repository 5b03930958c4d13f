// Synthetic configs for every config rule, quick fixes applied as text edits, hover text, bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertClose, fixturePath, loadExpected } from '../../support/fixtures';
import {
  applyEdits,
  configHover,
  explainLearningRate,
  lintConfig,
  quickFixesFor,
  scanConfigFile,
  scanConfigText,
  toFloat16,
  type ConfigScan,
  type ConfigRuleId,
} from '../../../src/core/config';
import { ReaderError } from '../../../src/core/errors';

const ids = (s: ConfigScan, o?: Parameters<typeof lintConfig>[1]) => lintConfig(s, o).map((f) => f.rule);

/** Apply the first fix for `rule` and return the rescanned findings. */
function fixAndRescan(text: string, path: string, rule: ConfigRuleId): { text: string; rules: string[] } {
  const scan = scanConfigText(text, path);
  const finding = lintConfig(scan).find((f) => f.rule === rule);
  assert.ok(finding, `${rule} found before the fix`);
  const fix = quickFixesFor(text, scan, finding).find((q) => q.edits.length > 0);
  assert.ok(fix, `a text-edit fix exists for ${rule}`);
  const fixed = applyEdits(text, fix.edits);
  return { text: fixed, rules: ids(scanConfigText(fixed, path)) };
}

test('eps-underflow-fp16: Lightning precision 16-true with eps 1e-8 (YAML and JSON); the raise-eps fix removes it', () => {
  const yaml =
    'trainer:\n  precision: 16-true\nmodel:\n  optimizer:\n    lr: 1.0e-4  # optimizer-lens: param-scale=0.02\n    eps: 1.0e-8\n';
  const s = scanConfigText(yaml, 'a.yaml');
  const f = lintConfig(s).find((x) => x.rule === 'eps-underflow-fp16');
  assert.ok(f);
  assert.equal(f.severity, 'warning');
  assert.equal(f.range.line, 6);
  assert.equal(f.evidence.epsInFloat16, 0);
  const fixed = fixAndRescan(yaml, 'a.yaml', 'eps-underflow-fp16');
  assert.ok(fixed.text.includes('eps: 1.0e-7'));
  assert.ok(!fixed.rules.includes('eps-underflow-fp16'), fixed.rules.join());
  assert.ok(!fixed.rules.includes('yaml-float-string'), 'the fix writes a YAML-1.1-safe float');

  const json = '{"trainer": {"precision": "16-true"}, "optimizer": {"type": "AdamW", "params": {"lr": 1e-4, "eps": 1e-8}}}';
  assert.ok(ids(scanConfigText(json, 'a.json')).includes('eps-underflow-fp16'));
  // Mixed precision: no warning.
  assert.ok(!ids(scanConfigText(yaml.replace('16-true', '16-mixed'), 'a.yaml')).includes('eps-underflow-fp16'));
  // param_dtype: float16 is true half too; eps 1e-7 is above 2^-24 and is kept.
  assert.ok(ids(scanConfigText('param_dtype: float16\noptimizer:\n  eps: 1.0e-8\n', 'b.yaml')).includes('eps-underflow-fp16'));
  assert.ok(!ids(scanConfigText('param_dtype: float16\noptimizer:\n  eps: 1.0e-7\n', 'b.yaml')).includes('eps-underflow-fp16'));
});

test('eps-underflow-fp16 in Python: .half() before the optimizer is built, not after; LayerNorm eps is not the optimizer eps', () => {
  const before = 'model = Net().half()\nnorm = nn.LayerNorm(64, eps=1e-9)\nopt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)\n';
  const s = scanConfigText(before, 't.py');
  assert.deepEqual(
    s.eps.map((e) => [e.key, e.value]),
    [['Adam.eps', 1e-8]],
  );
  const f = lintConfig(s).filter((x) => x.rule === 'eps-underflow-fp16');
  assert.equal(f.length, 1);
  assert.equal(f[0].range.line, 3);
  const after = 'opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)\nmodel = model.half()\n';
  assert.ok(!ids(scanConfigText(after, 't.py')).includes('eps-underflow-fp16'));
  const fixed = fixAndRescan(before, 't.py', 'eps-underflow-fp16');
  assert.ok(!fixed.rules.includes('eps-underflow-fp16'));
});

test('not-adam: SGD in Python and YAML is info, and no Adam claims (no lr-without-scale)', () => {
  const py = 'import torch\nopt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)\n';
  const s = scanConfigText(py, 'sgd.py');
  assert.deepEqual(
    s.learningRates.map((l) => [l.key, l.value, l.range.line]),
    [['SGD.lr', 0.1, 2]],
  );
  const f = lintConfig(s);
  assert.deepEqual(
    f.map((x) => [x.rule, x.severity]),
    [['not-adam', 'info']],
  );
  const y = scanConfigText('optimizer:\n  type: SGD\n  lr: 0.1\n', 'sgd.yaml');
  assert.deepEqual(ids(y), ['not-adam']);
  const h = configHover(s, py.indexOf('0.1'));
  assert.ok(h && h.markdown.includes('lr is not a step size'), h?.markdown);
  assert.doesNotMatch(h.markdown, /under Adam|each weight moves by/i);
  assert.match(lintConfig(s)[0].message, /lr × k²/);
  assert.doesNotMatch(lintConfig(s)[0].message, /under Adam/i);
});

test('annotation comment states the scale (YAML, TOML, Python, JSONC, shell); the add-annotation fix removes lr-without-scale', () => {
  const cases: [string, string, string][] = [
    ['c.yaml', 'optimizer:\n  # optimizer-lens: param-scale=0.05\n  lr: 2.0e-4\n', 'optimizer:\n  lr: 2.0e-4\n'],
    ['c.toml', '[optimizer]\nlr = 2e-4  # optimizer-lens: param-scale=0.05\n', '[optimizer]\nlr = 2e-4\n'],
    ['c.py', '# optimizer-lens: param-scale=0.05\nlearning_rate = 2e-4\n', 'learning_rate = 2e-4\n'],
    ['c.jsonc', '{\n  // optimizer-lens: param-scale=0.05\n  "lr": 2e-4\n}\n', '{\n  "lr": 2e-4\n}\n'],
    ['c.sh', '#!/bin/bash\n# optimizer-lens: param-scale=0.05\npython train.py --lr 2e-4\n', '#!/bin/bash\npython train.py --lr 2e-4\n'],
  ];
  for (const [path, text, bare] of cases) {
    const s = scanConfigText(text, path);
    assert.deepEqual(
      s.scales.map((x) => [x.source, x.value]),
      [['annotation', 0.05]],
      path,
    );
    assert.deepEqual(ids(s), [], path); // 2e-4 / 0.05 = 4e-3: in band
    const h = configHover(s, text.indexOf('2') === -1 ? 0 : s.learningRates[0].range.start);
    assert.ok(h && h.markdown.includes('lr/scale = **0.004**'), `${path}: ${h?.markdown}`);
    // Remove the annotation → lr-without-scale; the quick fix puts it back.
    assert.ok(ids(scanConfigText(bare, path)).includes('lr-without-scale'), `${path}: bare has no scale`);
    const fixed = fixAndRescan(bare, path, 'lr-without-scale');
    assert.ok(!fixed.rules.includes('lr-without-scale'), `${path}: ${fixed.rules} after fix\n${fixed.text}`);
  }
});

test('strict JSON: the annotation fix writes optimizer-lens.json next to the file, which then supplies the scale', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-config-'));
  const p = join(dir, 'ds_config.json');
  writeFileSync(p, readFileSync(fixturePath('configs', 'ds_config.json')));
  const s = scanConfigFile(p);
  const f = lintConfig(s).find((x) => x.rule === 'lr-without-scale');
  assert.ok(f);
  const fix = quickFixesFor(readFileSync(p, 'utf8'), s, f)[0];
  assert.ok(fix.createFile);
  writeFileSync(fix.createFile.path, fix.createFile.content);
  const after = scanConfigFile(p);
  assert.deepEqual(
    after.scales.map((x) => [x.key, x.value, x.source]),
    [['paramScale', 0.02, 'sibling']],
  );
  assert.deepEqual(ids(after), []); // 2e-4 / 0.02 = 0.01: not above 1e-2
});

test('relative-step-high / -low from lr/scale, thresholds configurable; the set-lr fix targets 1e-3 later in training', () => {
  const hi = 'init_std: 0.02\nlr: 1.2e-3\n'; // 0.06 at step 1, 0.012–0.027 later: the whole later band is above 1e-2
  const f = lintConfig(scanConfigText(hi, 'h.yaml'));
  assert.deepEqual(
    f.map((x) => [x.rule, x.severity]),
    [['relative-step-high', 'warning']],
  );
  assert.match(
    f[0].message,
    /later in training \(RMS\(u\) 0\.2–0\.45\) the relative step is ≈ 0\.012–0\.027 per step, above 0\.01; at step 1 \(RMS\(u\) ≈ 1\) lr\/scale = 0\.06/,
  );
  // 0.025 at step 1, 0.005–0.01125 later: straddles 1e-2, an info that says so.
  const mid = lintConfig(scanConfigText('init_std: 0.02\nlr: 5.0e-4\n', 'm.yaml'));
  assert.deepEqual(
    mid.map((x) => [x.rule, x.severity]),
    [['relative-step-high', 'info']],
  );
  assert.match(mid[0].message, /≈ 0\.005–0\.0113, above 0\.01 only at the upper end/);
  const lo = 'init_std: 0.02\nlr: 1.0e-7\n'; // 5e-6
  assert.deepEqual(ids(scanConfigText(lo, 'l.yaml')), ['relative-step-low']);
  assert.deepEqual(ids(scanConfigText(hi, 'h.yaml'), { thresholds: { relativeStepHigh: 0.07 } }), []);
  // The fix's lr makes the later band's upper end the target: 1e-3 · 0.02 / 0.45.
  const fixed = fixAndRescan(hi, 'h.yaml', 'relative-step-high');
  assert.ok(fixed.text.includes('lr: 4.44e-5'), fixed.text);
  assert.deepEqual(fixed.rules, []);
  // nn.init std in Python is a scale too.
  const py = 'nn.init.normal_(self.w, mean=0.0, std=0.002)\nopt = torch.optim.AdamW(params, lr=3e-4, betas=(0.9, 0.95))\n';
  const s = scanConfigText(py, 'm.py');
  assert.deepEqual(
    s.scales.map((x) => [x.source, x.value]),
    [['init-call', 0.002]],
  );
  assert.deepEqual(
    s.betas.map((b) => b.value),
    [[0.9, 0.95]],
  );
  assert.deepEqual(ids(s), ['relative-step-high']);
});

test('linked run scales are used per layer', () => {
  const s = scanConfigText('lr: 1.0e-3\n', 'x.yaml');
  const linked = {
    path: 'run/stats.jsonl',
    step: 120,
    layers: [
      { name: 'embed.weight', paramRms: 1.0 },
      { name: 'head.bias', paramRms: 0.01 },
      { name: 'x', paramRms: null },
    ],
  };
  const f = lintConfig(s, { linked });
  assert.deepEqual(
    f.map((x) => x.rule),
    ['relative-step-high'],
  );
  assert.equal(f[0].evidence.layer, 'head.bias');
  assert.ok(Math.abs((f[0].evidence.relativeStep as number) - 0.1) < 1e-12);
  const h = configHover(s, 5, { linked });
  assert.ok(h && h.markdown.includes('Per layer (linked run)'), h?.markdown);
});

test('yaml-float-string: warning for plain YAML; info for Hydra/OmegaConf and LightningCLI files; fix writes 1.0e-4', () => {
  const plain = 'lr: 1e-4\nwd: 1e4\nok: 1.0e-4\nq: "1e-4"\nn: 10\n';
  const s = scanConfigText(plain, 'p.yaml');
  assert.deepEqual(
    s.yamlFloatStrings.map((x) => x.raw),
    ['1e-4', '1e4'],
  );
  assert.deepEqual(
    lintConfig(s)
      .filter((f) => f.rule === 'yaml-float-string')
      .map((f) => f.severity),
    ['warning', 'warning'],
  );
  const fixed = fixAndRescan(plain, 'p.yaml', 'yaml-float-string');
  assert.ok(fixed.text.startsWith('lr: 1.0e-4\n'));
  const wdFix = quickFixesFor(
    plain,
    s,
    lintConfig(s).find((f) => f.evidence.raw === '1e4')!,
  )[0];
  assert.equal(wdFix.edits[0].newText, '1.0e+4');
  const hydra = 'defaults:\n  - _self_\nlr: 1e-4\n';
  assert.deepEqual(
    lintConfig(scanConfigText(hydra, 'h.yaml'))
      .filter((f) => f.rule === 'yaml-float-string')
      .map((f) => f.severity),
    ['info'],
  );
  const lcli = 'trainer:\n  max_steps: 10\nmodel:\n  lr: 1e-4\n';
  const l = scanConfigText(lcli, 'l.yaml');
  assert.equal(l.yamlLoader?.hint, 'lightning-cli');
  assert.equal(lintConfig(l).find((f) => f.rule === 'yaml-float-string')?.severity, 'info');
});

test('Python forms: argparse default, dict(lr=…), param-group dict literal, class attribute, constant arithmetic folded, negative values are not lrs', () => {
  const py = [
    "p.add_argument('--lr', type=float, default=3e-4)",
    'cfg = dict(lr=1e-3, weight_decay=0.1)',
    "groups = [{'params': a, 'lr': 2e-3}]",
    'class C:',
    '    learning_rate: float = 5e-4',
    'base_lr = 1e-3 * 2',
    'max_lr = -1e-3',
    '',
  ].join('\n');
  const s = scanConfigText(py, 'f.py');
  assert.deepEqual(
    s.learningRates.map((l) => [l.key, l.value, l.role, l.range.line]),
    [
      ['lr', 3e-4, 'main', 1],
      ['cfg.lr', 1e-3, 'main', 2],
      ['groups.0.lr', 2e-3, 'group', 3],
      ['learning_rate', 5e-4, 'main', 5],
      ['base_lr', 2e-3, 'main', 6],
    ],
  );
  assert.equal(s.learningRates[2].label, 'param group `a` lr');
  assert.equal(s.learningRates[4].note, '1e-3 * 2 = 0.002');
});

test('hover on an lr: absolute step, relative step with caveat, equivalent pairs, lr for the target, Explain link', () => {
  const p = fixturePath('configs', 'hf_run', 'training_args.json');
  const text = readFileSync(p, 'utf8');
  const s = scanConfigFile(p);
  const h = configHover(s, text.indexOf('0.0003') + 2);
  assert.ok(h);
  for (const frag of [
    'At step 1 (RMS(u) ≈ 1) each weight moves by ≈ **3e-4** per step, ≈ 6e-5–1.35e-4 later',
    'the relative step is lr/scale = **0.015**',
    'initializer_range in config.json',
    'later in training RMS(u) is 0.2–0.45 of 1, so ≈ 0.003–0.00675',
    'weights ×10 with lr ×10 and ε ÷10 → (lr 0.003, scale 0.2, eps 1e-9); weights ÷10 with lr ÷10 and ε ×10 → (lr 3e-5, scale 0.002, eps 1e-7)',
    'For a relative step of 0.001 later in training (RMS(u) 0.45–0.2): lr ≈ **4.44e-5–1e-4**; at step 1 (RMS(u) ≈ 1): 2e-5',
    // The hover's verdict is the lint's: the step-1 bound 0.015 is an info, the later estimate is within the band.
    'ℹ relative-step-high (info)',
    'command:optimizerLens.explainLearningRate?',
  ]) {
    assert.ok(h.markdown.includes(frag), `hover has "${frag}":\n${h.markdown}`);
  }
  assert.deepEqual(h.explainArgs, {
    lr: 0.0003,
    scale: 0.02,
    optimizer: 'adamw',
    eps: 1e-8,
    scaleSource: 'initializer_range in config.json',
    source: 'learning_rate (line 11)',
  });
  // Hover on the key works too; hover elsewhere gives nothing.
  assert.ok(configHover(s, text.indexOf('"learning_rate"') + 3));
  assert.equal(configHover(s, text.indexOf('"seed"')), null);
  // eps under DeepSpeed fp16 explains why it is safe.
  const ds = fixturePath('configs', 'ds_config.json');
  const dsText = readFileSync(ds, 'utf8');
  const he = configHover(scanConfigFile(ds), dsText.indexOf('1e-8'));
  assert.ok(he && he.markdown.includes('keeps fp32 master weights'), he?.markdown);
});

test('explainLearningRate: Adam equivalence (lr×k, scale×k, eps/k) agrees with the adam_reparam_k8 fixture run', () => {
  const base = loadExpected('adam_base');
  const k8 = loadExpected('adam_reparam_k8');
  const step = Object.keys(base.steps)[0];
  const layer = Object.keys(base.steps[step]).find((n) => n !== 'global' && base.steps[step][n].param_rms > 0)!;
  const s0 = base.steps[step][layer].param_rms;
  const s8 = k8.steps[step][layer].param_rms;
  const k = s8 / s0;
  assert.ok(Math.abs(k - 8) < 1e-6, `param scale ratio ${k}`);
  const ex = explainLearningRate({ lr: base.hyper.lr, scale: s0, eps: base.hyper.eps! });
  // The relative step is the fixture's lr_over_param_rms.
  assertClose(ex.relativeStep, base.steps[step][layer].lr_over_param_rms, 1e-9, `${layer} lr/param_rms`);
  // The text's pairs use k = 10 and 0.1; the rule they state is the one the fixture exhibits with k = 8.
  const q = ex.equivalents.find((e) => e.factor === 10)!;
  assert.ok(
    Math.abs(q.lr / base.hyper.lr - 10) < 1e-12 && Math.abs(q.scale / s0 - 10) < 1e-12 && Math.abs(q.eps! * 10 - base.hyper.eps!) < 1e-20,
  );
  assert.ok(Math.abs(k8.hyper.lr / base.hyper.lr - k) < 1e-6 && Math.abs(base.hyper.eps! / k8.hyper.eps! - k) < 1e-6);
  // Same relative step for both runs.
  const e8 = explainLearningRate({ lr: k8.hyper.lr, scale: s8 });
  assert.ok(Math.abs(e8.relativeStep! - ex.relativeStep!) / ex.relativeStep! < 1e-6);
  // lr for the target later in training (RMS(u) 0.45 … 0.2); the step-1 figure is target·scale.
  assert.ok(Math.abs(ex.lrForTarget! - (1e-3 * s0) / 0.45) < 1e-15);
  assert.ok(Math.abs(ex.lrForTargetRange![1] - (1e-3 * s0) / 0.2) < 1e-15);
  const sgd = explainLearningRate({ lr: 0.1, scale: 0.02, optimizer: 'sgd' });
  assert.equal(sgd.relativeStep, null);
  assert.equal(sgd.equivalents[0].lr, 0.1 * 100);
});

test('float16 rounding: 1e-8 → 0, 2^-24 kept, 1e-7 → 2·2^-24', () => {
  assert.equal(toFloat16(1e-8), 0);
  assert.equal(toFloat16(2 ** -24), 2 ** -24);
  assert.equal(toFloat16(1e-7), 2 * 2 ** -24);
  assert.equal(toFloat16(1), 1);
  assert.equal(toFloat16(65504), 65504);
  assert.equal(toFloat16(0.1), 0.0999755859375);
});

test('bad input: broken YAML/TOML/JSON keep what is readable and report the line; unreadable file → ReaderError', () => {
  const y = scanConfigText('lr: 1.0e-3\nbad: [1, 2\n', 'b.yaml');
  assert.ok(y.issues.length > 0 && y.issues[0].line >= 1);
  assert.deepEqual(
    y.learningRates.map((l) => l.value),
    [1e-3],
  );
  const t = scanConfigText('[optimizer]\nlr = 1e-3\nx = = 2\n', 'b.toml');
  assert.equal(t.issues[0].line, 3);
  const j = scanConfigText('{"lr": 1e-3, "x": }', 'b.json');
  assert.ok(j.issues.length > 0);
  assert.deepEqual(
    j.learningRates.map((l) => l.value),
    [1e-3],
  );
  const py = scanConfigText('lr = 1e-3\ndef (:\n', 'b.py');
  assert.deepEqual(
    py.learningRates.map((l) => l.value),
    [1e-3],
  );
  assert.throws(() => scanConfigFile(join(tmpdir(), 'does-not-exist-ol.yaml')), ReaderError);
  // Deeply nested input is a budget issue at the position that crossed it, and what lies beside it is still read.
  const deep = '['.repeat(5000) + ']'.repeat(5000);
  assert.deepEqual(
    scanConfigText(deep, 'd.json').issues?.map((i) => [i.severity, i.line, i.column]),
    [['error', 1, 129]],
  );
  assert.match(scanConfigText(deep, 'd.json').issues?.[0].message ?? '', /nested deeper than 128 levels/);
  const yaml = scanConfigText('a:\n' + '  '.repeat(1) + '- '.repeat(2000) + '1\n', 'd.yaml');
  assert.deepEqual(
    yaml.issues?.map((i) => [i.severity, i.line, i.column]),
    [['error', 2, 3]],
  );
  const beside = scanConfigText('{"lr": 0.001, "x": ' + deep + '}', 'e.json');
  assert.deepEqual(
    beside.learningRates.map((l) => l.value),
    [1e-3],
  );
});

test('YAML with several documents: every document is read; hover on a floor and on a scale key', () => {
  const y = 'model:\n  init_std: 0.01\n---\noptimizer:\n  lr: 1.0e-4\nscheduler:\n  eta_min: 1.0e-6\n';
  const s = scanConfigText(y, 'multi.yaml');
  assert.deepEqual(
    s.learningRates.map((l) => [l.key, l.role, l.range.line]),
    [
      ['optimizer.lr', 'main', 5],
      ['scheduler.eta_min', 'floor', 7],
    ],
  );
  assert.deepEqual(
    s.scales.map((x) => [x.key, x.value, x.range.line]),
    [['model.init_std', 0.01, 2]],
  );
  assert.deepEqual(ids(s), []); // 1e-4 / 0.01 = 1e-2: not above
  const floor = configHover(s, y.indexOf('1.0e-6'));
  assert.ok(floor && floor.markdown.includes('— schedule floor') && floor.markdown.includes('this is 0.01 of it'), floor?.markdown);
  const sc = configHover(s, y.indexOf('init_std'));
  assert.ok(sc && sc.markdown.includes('relative step lr/scale = **0.01**'), sc?.markdown);
  assert.ok(sc.markdown.includes('For 0.001 later in training: lr ≈ 2.22e-5–5e-5'), sc.markdown);
  assert.deepEqual([sc.explainArgs?.lr, sc.explainArgs?.scale], [1e-4, 0.01]);
});

test('yaml-float-string agrees with PyYAML 6.0.3 safe_load on a table of spellings; every replacement is a float under both', () => {
  // Types printed by PyYAML 6.0.3 `yaml.safe_load('a: ' + s)` during development (tests do not need Python).
  const pyyaml: [string, 'str' | 'float' | 'int'][] = [
    ['1e-4', 'str'],
    ['1E-4', 'str'],
    ['1e4', 'str'],
    ['1e+4', 'str'],
    ['1.0e-4', 'float'],
    ['1.0e4', 'str'],
    ['1.0e+4', 'float'],
    ['.5', 'float'],
    ['.5e-3', 'float'],
    ['.5e3', 'str'],
    ['-1e-4', 'str'],
    ['+1e-4', 'str'],
    ['1.', 'float'],
    ['1.e-4', 'float'],
    ['6.0e-05', 'float'],
    ['0.0006', 'float'],
    ['2e-4', 'str'],
    ['1_000.5', 'float'],
    ['.inf', 'float'],
    ['-.inf', 'float'],
    ['.nan', 'float'],
    ['1e-08', 'str'],
    ['3.', 'float'],
    ['0.1', 'float'],
    ['10', 'int'],
    ['-3', 'int'],
    ['+.5', 'str'],
  ];
  for (const [raw, type] of pyyaml) {
    const s = scanConfigText(`a: ${raw}\n`, 'x.yaml');
    assert.equal(s.yamlFloatStrings.length > 0, type === 'str', `${raw}: PyYAML reads ${type}`);
    if (type !== 'str') continue;
    const f = lintConfig(s).find((x) => x.rule === 'yaml-float-string')!;
    const fix = quickFixesFor(`a: ${raw}\n`, s, f)[0];
    const fixed = applyEdits(`a: ${raw}\n`, fix.edits);
    const again = scanConfigText(fixed, 'x.yaml');
    assert.equal(again.yamlFloatStrings.length, 0, `${raw} → ${fixed.trim()} is a float for PyYAML`);
    const v = again.learningRates.length ? 0 : Number(fixed.slice(3));
    assert.equal(v, Number(raw), `${raw} keeps its value`);
  }
});

test('hover on finetune.yaml line 16 (the 1e-4 trap) says both readings', () => {
  const p = fixturePath('configs', 'finetune.yaml');
  const text = readFileSync(p, 'utf8');
  const h = configHover(scanConfigFile(p), text.indexOf('1e-4'));
  assert.ok(h);
  for (const frag of [
    "as the string '1e-4' by PyYAML's safe_load",
    'each weight moves by ≈ **1e-4** per step',
    'Relative step unknown',
    '[Explain Learning Rate](command:optimizerLens.explainLearningRate?',
  ]) {
    assert.ok(h.markdown.includes(frag), `"${frag}" in\n${h.markdown}`);
  }
  const args = JSON.parse(decodeURIComponent(h.markdown.split('explainLearningRate?')[1].replace(/\)$/, '')));
  assert.deepEqual([args.length, args[0].lr, args[0].scale, args[0].optimizer], [1, 1e-4, null, 'adamw']);
});

test('mutated fixture configs (deterministic fuzz): the scanner never throws, ranges stay inside the text', () => {
  const files = [
    'finetune.yaml',
    'lightning_hydra.yaml',
    'ds_config.json',
    'train.toml',
    'nanogpt_train_tiny.py',
    'megatron_pretrain.sh',
    'hf_run/training_args.json',
  ];
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const alphabet = ':{}[]"\'#\\\n -=.e1,()$`\t';
  for (const f of files) {
    const text = readFileSync(fixturePath('configs', ...f.split('/')), 'utf8');
    for (let k = 0; k < 60; k++) {
      const chars = text.split('');
      const n = 1 + Math.floor(rnd() * 6);
      for (let m = 0; m < n; m++) {
        const at = Math.floor(rnd() * chars.length);
        const op = rnd();
        const c = alphabet[Math.floor(rnd() * alphabet.length)];
        if (op < 0.4) chars[at] = c;
        else if (op < 0.7) chars.splice(at, 1);
        else chars.splice(at, 0, c);
      }
      const mutated = chars.join('');
      const s = scanConfigText(mutated, f);
      const findings = lintConfig(s);
      for (const x of [...s.learningRates, ...s.scales, ...findings]) {
        assert.ok(x.range.start >= 0 && x.range.end <= mutated.length && x.range.start <= x.range.end, `${f}: range inside text`);
      }
      for (const x of findings) quickFixesFor(mutated, s, x);
    }
  }
});
