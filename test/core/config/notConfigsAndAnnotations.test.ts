// Training logs are not configs, annotation reach.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturePath } from '../../support/fixtures';
import { applyEdits, configHover, lintConfig, quickFixesFor, scaleFor, scanConfigFile, scanConfigText } from '../../../src/core/config';
import { runLint } from '../../../src/cli/lint';

const STATE = fixturePath('adamw_wd0.05', 'checkpoint-120', 'trainer_state.json');

async function lint(args: string[]) {
  let out = '';
  let err = '';
  const code = await runLint(args, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}

test('trainer_state.json (HF Trainer log) is not a config: no lrs, no findings, though config.json beside it states a scale', () => {
  const text = readFileSync(STATE, 'utf8');
  // The file really repeats the scheduled lr once per logging step (the 12 warnings of the VS Code run).
  assert.equal((text.match(/"learning_rate"/g) ?? []).length, 12);
  const s = scanConfigFile(STATE);
  assert.match(s.skipped ?? '', /training log/);
  assert.deepEqual(s.learningRates, []);
  assert.deepEqual(s.scales, [], 'the sibling config.json scale is not attached to a log');
  assert.deepEqual(lintConfig(s), []);
  // The same text under another name: the top-level log_history marks it as a log.
  const renamed = scanConfigText(text, '/runs/state_copy.json');
  assert.match(renamed.skipped ?? '', /log_history/);
  assert.deepEqual(renamed.learningRates, []);
  assert.deepEqual(lintConfig(renamed), []);
  // YAML with a top-level log_history too.
  const y = scanConfigText('log_history:\n  - step: 10\n    learning_rate: 3.0e-4\n', 'state.yaml');
  assert.match(y.skipped ?? '', /log_history/);
  // The config.json in the same checkpoint is still read (its scale), and is not skipped.
  const cfg = scanConfigFile(fixturePath('adamw_wd0.05', 'checkpoint-120', 'config.json'));
  assert.equal(cfg.skipped, undefined);
  assert.deepEqual(
    cfg.scales.map((x) => [x.key, x.value]),
    [['initializer_range', 0.02]],
  );
});

test('values inside arrays of per-step records are not learning-rate settings; param groups (no step key) still are', () => {
  const json = `{
  "learning_rate": 1e-3,
  "history": [
    {"step": 10, "learning_rate": 3e-4, "loss": 3.6},
    {"step": 20, "learning_rate": 2e-4, "loss": 3.4}
  ],
  "param_groups": [{"lr": 5e-4, "weight_decay": 0.1}],
  "initializer_range": 0.02
}
`;
  const s = scanConfigText(json, 'run.json');
  assert.equal(s.skipped, undefined);
  assert.deepEqual(
    s.learningRates.map((l) => [l.key, l.value, l.range.line]),
    [
      ['learning_rate', 1e-3, 2],
      ['param_groups.0.lr', 5e-4, 7],
    ],
  );
  assert.deepEqual(
    lintConfig(s).map((f) => [f.rule, f.range.line]),
    [
      ['relative-step-high', 2],
      ['relative-step-high', 7],
    ],
  ); // 1e-3/0.02 = 0.05, 5e-4/0.02
  // YAML and TOML arrays of records: same.
  const yaml = 'lr: 1.0e-3\nlog:\n  - {iteration: 100, lr: 9.0e-4}\n  - iteration: 200\n    lr: 8.0e-4\n';
  assert.deepEqual(
    scanConfigText(yaml, 'a.yaml').learningRates.map((l) => l.key),
    ['lr'],
  );
  const toml = 'lr = 1e-3\n[[records]]\nstep = 1\nlr = 9e-4\n[[records]]\nstep = 2\nlr = 8e-4\n';
  assert.deepEqual(
    scanConfigText(toml, 'a.toml').learningRates.map((l) => l.key),
    ['lr'],
  );
});

test('lint CLI: a checkpoint folder lints config.json and skips trainer_state.json; named explicitly it says why', async () => {
  const dir = await lint([fixturePath('adamw_wd0.05', 'checkpoint-120'), '--json']);
  assert.equal(dir.code, 0, dir.err);
  const j = JSON.parse(dir.out) as { files: { path: string; findings: unknown[] }[] };
  assert.deepEqual(
    j.files.map((f) => f.path.split(/[\\/]/).pop()),
    ['config.json'],
  );
  const named = await lint([STATE]);
  assert.equal(named.code, 0, named.err);
  assert.match(named.out, /trainer_state\.json\n {2}skipped: trainer_state\.json is a training log/);
  assert.doesNotMatch(named.out, /relative-step-high/);
  const named2 = await lint([STATE, '--json', '--fail-on', 'warning']);
  assert.equal(named2.code, 0);
  const f = (JSON.parse(named2.out) as { files: { skipped?: string; findings: unknown[] }[] }).files[0];
  assert.match(f.skipped ?? '', /training log/);
  assert.deepEqual(f.findings, []);
  // A copy renamed inside a folder: skipped by content (log_history), not by name.
  const tmp = mkdtempSync(join(tmpdir(), 'ol-e2-'));
  try {
    copyFileSync(STATE, join(tmp, 'state.json'));
    const r = await lint([tmp, '--json']);
    const files = (JSON.parse(r.out) as { files: { skipped?: string; learningRates: unknown[] }[] }).files;
    assert.equal(files.length, 1);
    assert.match(files[0].skipped ?? '', /log_history/);
    assert.deepEqual(files[0].learningRates, []);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test("annotation reach: the quick fix's annotation above train.lr (finetune.yaml line 16) is train.lr's only; lora.lr (line 30) keeps lr-without-scale", () => {
  const p = fixturePath('configs', 'finetune.yaml');
  const text = readFileSync(p, 'utf8');
  const scan = scanConfigText(text, p);
  const findings = lintConfig(scan);
  const trainFinding = findings.find((f) => f.rule === 'lr-without-scale' && f.range.line === 16)!;
  const fix = quickFixesFor(text, scan, trainFinding, {})[0];
  assert.equal(fix.edits.length, 1);
  const fixed = applyEdits(text, fix.edits);
  assert.equal(fixed.split('\n')[15], '  # optimizer-lens: param-scale=0.02', 'inserted above train.lr with its indentation');
  const s2 = scanConfigText(fixed, p);
  const [trainLr, loraLr] = s2.learningRates;
  assert.deepEqual([trainLr.key, trainLr.range.line, loraLr.key, loraLr.range.line], ['train.lr', 17, 'lora.lr', 31]);
  assert.equal(scaleFor(trainLr, s2)?.value, 0.02);
  assert.equal(scaleFor(loraLr, s2), null);
  assert.deepEqual(
    lintConfig(s2).map((f) => [f.rule, f.range.line]),
    [
      ['yaml-float-string', 17],
      ['lr-without-scale', 31],
    ],
  );
  // Hover on the annotation: it lists train.lr only and says so.
  const h = configHover(s2, s2.scales[0].range.start)!;
  assert.match(h.markdown, /`train\.lr` = 1e-4 \(line 17, AdamW\)/);
  assert.doesNotMatch(h.markdown, /lora\.lr/);
  assert.match(h.markdown, /line below only/);
  // The fix on lora.lr then gives lora.lr its own annotation (trailing comment lines are kept).
  const loraFinding = lintConfig(s2).find((f) => f.rule === 'lr-without-scale')!;
  const fixed2 = applyEdits(fixed, quickFixesFor(fixed, s2, loraFinding, {})[0].edits);
  const s3 = scanConfigText(fixed2, p);
  assert.deepEqual(
    lintConfig(s3).map((f) => f.rule),
    ['yaml-float-string'],
  );
  assert.deepEqual(
    s3.learningRates.map((l) => scaleFor(l, s3)?.source),
    ['annotation, line 16', 'annotation, line 31'],
  );
});

test('annotation reach: an annotation on no lr line (nor the line above one) applies to the whole file; a near one wins over it', () => {
  const base = 'train:\n  lr: 1.0e-4\nlora:\n  lr: 2.0e-4\n';
  // File-wide: line 1, above "train:" (not an lr line).
  const wide = scanConfigText(`# optimizer-lens: param-scale=0.01\n${base}`, 'a.yaml');
  assert.deepEqual(
    wide.learningRates.map((l) => [l.key, scaleFor(l, wide)?.value]),
    [
      ['train.lr', 0.01],
      ['lora.lr', 0.01],
    ],
  );
  assert.deepEqual(
    lintConfig(wide).map((f) => [f.rule, f.range.line]),
    [['relative-step-high', 5]],
  ); // 2e-4/0.01
  // A trailing annotation on train.lr's line: train.lr only.
  const trailing = scanConfigText(base.replace('lr: 1.0e-4', 'lr: 1.0e-4  # optimizer-lens: param-scale=0.05'), 'a.yaml');
  assert.deepEqual(
    trailing.learningRates.map((l) => scaleFor(l, trailing)?.value ?? null),
    [0.05, null],
  );
  // Both: the near one for train.lr, the file-wide one for lora.lr.
  const both = scanConfigText(
    `# optimizer-lens: param-scale=0.01\n${base.replace('lr: 1.0e-4', 'lr: 1.0e-4  # optimizer-lens: param-scale=0.05')}`,
    'a.yaml',
  );
  assert.deepEqual(
    both.learningRates.map((l) => scaleFor(l, both)?.value),
    [0.05, 0.01],
  );
  // A near annotation also wins over a linked run; the file-wide one does not.
  const linked = { path: '/runs/x', step: 3, layers: [{ name: 'h.0', paramRms: 0.04 }] };
  assert.deepEqual(
    both.learningRates.map((l) => scaleFor(l, both, linked)?.value),
    [0.05, 0.04],
  );
});
