// Optimizers beyond Adam in configs: recognized by class name, `_target_`, `type` and HF `optim` values, and each
// lr read in its optimizer's terms (Lion, Adafactor's three modes, LAMB, Muon beside AdamW, RMSprop, Adagrad,
// NAdam, RAdam, AMSGrad, 8-bit Adam). The sentence of what lr means is the shared lrMeaning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fixturePath } from '../../support/fixtures';
import { configHover, lintConfig, readingFor, scanConfigText, type ConfigScan } from '../../../src/core/config';
import { lrMeaning } from '../../../src/shared/optimizers';

const first = (s: ConfigScan) => s.learningRates[0];
const hover = (s: ConfigScan, lr = first(s)) => configHover(s, lr.range.start)!.markdown;
const found = (s: ConfigScan) => lintConfig(s).map((f) => `${f.rule}:${f.severity}`);

test('names as configs write them map to the one kind list: class names, _target_, type, HF optim values', () => {
  const cases: [string, string, string, string, boolean?][] = [
    ['opt = Lion(model.parameters(), lr=1e-4, weight_decay=1.0)\n', 'o.py', 'lion', 'Lion'],
    ['optimizer:\n  _target_: lion_pytorch.Lion\n  lr: 1.0e-4\n', 'o.yaml', 'lion', 'Lion'],
    ['{"optim": "lion_32bit", "learning_rate": 1e-4}', 'o.json', 'lion', 'Lion'],
    ['{"optim": "adafactor", "learning_rate": 1e-3}', 'o.json', 'adafactor', 'Adafactor (absolute lr)'],
    ['{"optimizer": {"type": "Lamb", "params": {"lr": 1e-3}}}', 'o.json', 'lamb', 'LAMB'],
    ['opt = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.99)\n', 'o.py', 'rmsprop', 'RMSprop'],
    ['optimizer:\n  type: Adagrad\n  lr: 0.01\n', 'o.yaml', 'adagrad', 'Adagrad'],
    ['optimizer:\n  _target_: torch.optim.NAdam\n  lr: 2.0e-3\n', 'o.yaml', 'nadam', 'NAdam'],
    ['[optimizer]\nname = "RAdam"\nlr = 1e-3\n', 'o.toml', 'radam', 'RAdam'],
    ['opt = torch.optim.Adam(model.parameters(), lr=1e-3, amsgrad=True)\n', 'o.py', 'adam', 'Adam (AMSGrad)'],
    ['opt = bnb.optim.AdamW8bit(model.parameters(), lr=1e-4)\n', 'o.py', 'adamw', 'AdamW (8-bit)', true],
    ['{"optim": "adamw_bnb_8bit", "learning_rate": 2e-4}', 'o.json', 'adamw', 'AdamW (8-bit)', true],
    ['{"optim": "paged_adamw_8bit", "learning_rate": 2e-4}', 'o.json', 'adamw', 'AdamW (8-bit)', true],
    ['optimizer: muon\nlr: 0.02\n', 'o.yaml', 'muon', 'Muon'],
  ];
  for (const [text, path, kind, label, eight] of cases) {
    const s = scanConfigText(text, path);
    assert.equal(s.optimizers[0]?.family, kind, text);
    assert.equal(!!s.optimizers[0].eightBit, !!eight, text);
    const r = readingFor(first(s), s);
    assert.equal(r.label, label, text);
    assert.ok(r.meaning.startsWith(lrMeaning(r.family === 'other' ? null : r.family)), `${text}: the shared sentence`);
  }
});

test("Lion: lr is an absolute step per weight, relative step exactly lr/scale (no RMS(u) band); typically 3–10× below AdamW's", () => {
  const s = scanConfigText(
    'model:\n  init_std: 0.02\noptimizer:\n  _target_: lion_pytorch.Lion\n  lr: 3.0e-4\n  weight_decay: 1.0\n',
    'l.yaml',
  );
  const f = lintConfig(s);
  assert.deepEqual(
    f.map((x) => [x.rule, x.severity]),
    [['relative-step-high', 'warning']],
  );
  assert.match(f[0].message, /Lion's relative step is lr\/scale = 0\.015 \(1\.5% per step\), above 0\.01/);
  assert.equal(f[0].evidence.relativeStepLater, null, 'a sign update has no RMS(u) band');
  const h = hover(s);
  assert.match(h, /every element moves by exactly lr per step/);
  assert.match(h, /typically 3–10× below AdamW’s/);
  assert.match(h, /Relative step lr\/scale = \*\*0\.015\*\* \(1\.5% per step\) exactly/);
  assert.match(h, /For a relative step of 0\.001: lr ≈ \*\*2e-5\*\*/);
  // Without a scale: lr-without-scale in Lion's words.
  const bare = lintConfig(scanConfigText('optimizer:\n  _target_: lion_pytorch.Lion\n  lr: 3.0e-4\n', 'l.yaml'));
  assert.match(bare[0].message, /under Lion each weight moves by exactly 3e-4 per step whatever its size/);
});

test('Adafactor: relative_step=True has no absolute lr; scale_parameter makes lr relative; the HF Trainer builds it with an absolute lr', () => {
  // transformers' defaults (scale_parameter=True, relative_step=True): the lr written is not a step size.
  const rel = scanConfigText('optimizer = Adafactor(model.parameters(), lr=1e-3, relative_step=True, warmup_init=True)\n', 'a.py');
  assert.equal(readingFor(first(rel), rel).adafactor, 'relative-step');
  assert.deepEqual(lintConfig(rel), [], 'no lr-without-scale, no step verdicts: the lr is not the step size');
  assert.match(hover(rel), /With relative_step=True Adafactor has no absolute lr: the step is min\(1e-2, 1\/√t\) × RMS\(w\)/);
  // relative_step=False, scale_parameter default True: lr is already a relative step (at most lr).
  const sp = scanConfigText('optimizer = Adafactor(model.parameters(), lr=1e-3, relative_step=False, scale_parameter=True)\n', 'a.py');
  assert.equal(readingFor(first(sp), sp).adafactor, 'scale-relative');
  assert.deepEqual(lintConfig(sp), []);
  assert.match(hover(sp), /Relative step ≈ lr = \*\*0\.001\*\* \(0\.1% per step\) at most/);
  // torch.optim.Adafactor: always relative to RMS(w).
  const torchA = scanConfigText('opt = torch.optim.Adafactor(model.parameters(), lr=0.02)\n', 'a.py');
  assert.equal(readingFor(first(torchA), torchA).adafactor, 'scale-relative');
  assert.deepEqual(found(torchA), ['relative-step-high:warning'], '0.02 per step at most, above 0.01');
  // HF TrainingArguments optim=adafactor: the Trainer passes scale_parameter=False, relative_step=False.
  const hf = scanConfigText('{"optim": "adafactor", "learning_rate": 1e-3}', 'training_args.json');
  assert.deepEqual(found(hf), ['lr-without-scale:warning']);
  assert.match(lintConfig(hf)[0].message, /under Adafactor \(absolute lr\) each weight moves by at most 0\.001 per step/);
  // optim_args can say otherwise.
  const hfArgs = scanConfigText(
    '{"optim": "adafactor", "optim_args": "scale_parameter=True,relative_step=False", "learning_rate": 1e-3}',
    't.json',
  );
  assert.equal(readingFor(first(hfArgs), hfArgs).adafactor, 'scale-relative');
  // Named only: both readings are said, neither assumed.
  const named = scanConfigText('optimizer:\n  name: adafactor\n  lr: 1.0e-3\n', 'a.yaml');
  assert.equal(readingFor(first(named), named).adafactor, 'unknown');
  assert.deepEqual(lintConfig(named), []);
  assert.match(hover(named), /this config does not say which/);
});

test("Muon beside AdamW (modded-nanogpt): Muon's lr is not comparable to the AdamW lrs; the hover shows both groups' relative steps", () => {
  const p = fixturePath('configs', 'projects', 'modded_nanogpt_muon.py');
  const t = `# optimizer-lens: param-scale=0.02\n${readFileSync(p, 'utf8')}`;
  const s = scanConfigText(t, p);
  const muon = s.learningRates.find((l) => l.key === 'Muon.lr')!;
  const head = s.learningRates.find((l) => l.key === 'adam_params.0.lr')!;
  assert.equal(s.optimizers[muon.optimizer!].family, 'muon');
  assert.equal(s.optimizers[head.optimizer!].family, 'adam');
  assert.equal(head.label, 'param group `head_params` lr');
  const hm = hover(s, muon);
  // 768×768: max(1, rows/cols)^0.5 / √768 × 0.05 = 0.0018 per weight (relative 0.09 at 0.02); 0.2 × 0.05 = 0.01 (0.5).
  assert.match(
    hm,
    /For a 768×768 weight \(`model_dim`, line 6\): with the max\(1, rows\/cols\)\^0\.5 scaling each weight moves by ≈ 0\.0018 per step \(relative step 0\.0902 at 0\.02/,
  );
  assert.match(hm, /with 0\.2·√max\(rows, cols\) \(matched to AdamW's RMS\) by ≈ 0\.01 \(relative step 0\.5\)/);
  assert.match(
    hm,
    /Other optimizers here — their lrs are not comparable by value: `adam_params\.0\.lr` = 0\.008 \(Adam, line 13\): relative step 0\.4 at step 1, ≈ 0\.08–0\.18 later/,
  );
  const ha = hover(s, head);
  assert.match(
    ha,
    /`Muon\.lr` = 0\.05 \(Muon, line 16\): per-weight step for a 768×768 weight ≈ 0\.0018 \(relative 0\.0902\) with max\(1, rows\/cols\)\^0\.5, 0\.01 \(relative 0\.5\) with 0\.2·√max\(rows, cols\)/,
  );
  // Muon's relative step needs the shape convention: no step verdict from lr/scale, unlike the Adam groups.
  const f = lintConfig(s);
  assert.ok(!f.some((x) => x.range.start === muon.range.start), f.map((x) => x.message).join('\n'));
  assert.ok(f.some((x) => x.range.start === head.range.start && x.rule === 'relative-step-high'));
});

test('RMSprop, Adagrad, NAdam, RAdam, AMSGrad and 8-bit Adam read as Adam-family lrs under their own names', () => {
  for (const [text, name] of [
    ['init_std = 0.02\nopt = torch.optim.RMSprop(model.parameters(), lr=1e-4)\n', 'RMSprop'],
    ['init_std = 0.02\nopt = torch.optim.Adagrad(model.parameters(), lr=1e-4)\n', 'Adagrad'],
    ['init_std = 0.02\nopt = torch.optim.NAdam(model.parameters(), lr=1e-4)\n', 'NAdam'],
    ['init_std = 0.02\nopt = torch.optim.RAdam(model.parameters(), lr=1e-4)\n', 'RAdam'],
    ['init_std = 0.02\nopt = torch.optim.AdamW(model.parameters(), lr=1e-4, amsgrad=True)\n', 'AdamW (AMSGrad)'],
    ['init_std = 0.02\nopt = bnb.optim.PagedAdamW8bit(model.parameters(), lr=1e-4)\n', 'AdamW (8-bit)'],
  ]) {
    const s = scanConfigText(text, 'o.py');
    const h = hover(s);
    assert.match(h, new RegExp(`\\*\\*lr = 1e-4\\*\\* \\(${name.replace(/[()]/g, '\\$&')}\\)`), text);
    assert.match(h, /the relative step is lr\/scale = \*\*0\.005\*\*/, text);
    assert.match(h, new RegExp(`Equivalent under ${name.replace(/[()]/g, '\\$&')}`), text);
  }
  assert.match(
    hover(scanConfigText('opt = bnb.optim.AdamW8bit(model.parameters(), lr=1e-4)\n', 'o.py')),
    /8-bit state \(bitsandbytes\) is dequantized/,
  );
});
