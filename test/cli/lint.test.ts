// `optimizer-lens lint` in-process: JSON contract (1-based lines/columns), exit codes, --link.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturePath } from '../support/fixtures';
import { runLint } from '../../src/cli/lint';

async function lint(args: string[]) {
  let out = '';
  let err = '';
  const code = await runLint(args, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}

test('lint --json over the fixture configs folder: the JSON shape with the README lines, every project config included', async () => {
  const r = await lint([fixturePath('configs'), '--json']);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out) as {
    files: {
      path: string;
      learningRates: Record<string, unknown>[];
      scales: unknown[];
      findings: Record<string, unknown>[];
      issues: unknown[];
    }[];
  };
  // The 8 top-level fixtures (hf_run/ holds two) and the project-style configs under projects/ (3 levels deep).
  assert.equal(j.files.filter((f) => !f.path.includes('projects')).length, 8);
  assert.ok(j.files.filter((f) => f.path.includes('projects')).length >= 28);
  for (const f of j.files) {
    assert.deepEqual(Object.keys(f).slice(0, 5), ['path', 'learningRates', 'scales', 'findings', 'issues']);
    for (const l of f.learningRates) {
      assert.deepEqual(Object.keys(l).slice(0, 6), ['key', 'value', 'role', 'label', 'line', 'column']);
      assert.ok(['main', 'group', 'warmup-start', 'floor'].includes(l.role as string));
    }
    for (const l of f.scales) assert.deepEqual(Object.keys(l as object), ['key', 'value', 'line', 'column']);
    for (const x of f.findings) assert.deepEqual(Object.keys(x), ['rule', 'severity', 'line', 'column', 'message']);
    assert.deepEqual(f.issues, [], f.path);
  }
  const byName = (n: string) => j.files.find((f) => f.path.endsWith(n))!;
  assert.deepEqual(byName('train.toml').learningRates, [
    { key: 'optimizer.lr', value: 8e-4, role: 'main', label: 'lr', line: 18, column: 6, optimizer: 'AdamW' },
  ]);
  assert.deepEqual(byName('training_args.json').scales, [{ key: 'config.json:initializer_range', value: 0.02, line: 11, column: 24 }]);
  assert.deepEqual(
    byName('finetune.yaml').findings.map((f) => [f.rule, f.severity, f.line, f.column]),
    [
      ['lr-without-scale', 'warning', 16, 7],
      ['yaml-float-string', 'warning', 16, 7],
      ['lr-without-scale', 'warning', 30, 7],
    ],
  );
  assert.deepEqual(
    byName('ds_config.json').findings.map((f) => f.rule),
    ['lr-without-scale', 'lr-without-scale'],
  );
  // An lr the file computes from names it does not state: value null, what it depends on.
  assert.deepEqual(
    byName('accelerate_run_glue.sh').learningRates.find((l) => l.value === null),
    { key: '--classifier_lr', value: null, role: 'group', label: 'classifier lr', line: 18, column: 19, dependsOn: ['CLASSIFIER_LR'] },
  );
});

test('lint exit codes: --fail-on warning trips (1), --fail-on error does not (0), missing file and bad usage (2)', async () => {
  const f = fixturePath('configs', 'finetune.yaml');
  assert.equal((await lint([f, '--fail-on', 'warning'])).code, 1);
  assert.equal((await lint([f, '--fail-on', 'error'])).code, 0);
  assert.equal((await lint([fixturePath('configs', 'hf_run', 'config.json'), '--fail-on', 'warning'])).code, 0);
  const missing = await lint([fixturePath('configs', 'nope.yaml')]);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /nope\.yaml/);
  assert.equal((await lint([])).code, 2);
  assert.equal((await lint([f, '--fail-on', 'sometimes'])).code, 2);
  assert.equal((await lint([f, '--bogus'])).code, 2);
  const notConfig = await lint([fixturePath('configs', 'README.md')]);
  assert.equal(notConfig.code, 2);
  const text = await lint([f]);
  assert.match(text.out, /16:7 +warning yaml-float-string/);
  assert.match(text.out, /learning rates: train\.lr = 1e-4 \(16:7\), lora\.lr = 2e-4 \(30:7\)/);
});

test('lint --link takes per-layer scales from a fixture run (no lr-without-scale any more)', async () => {
  const r = await lint([fixturePath('configs', 'train.toml'), '--json', '--link', fixturePath('adam_base')]);
  assert.equal(r.code, 0, r.err);
  const f = JSON.parse(r.out).files[0];
  assert.ok(!f.findings.some((x: { rule: string }) => x.rule === 'lr-without-scale'), JSON.stringify(f.findings));
  // 8e-4 over the smallest nonzero layer RMS of adam_base is far above 1e-2: relative-step-high names a layer.
  const hi = f.findings.find((x: { rule: string }) => x.rule === 'relative-step-high');
  assert.ok(hi, JSON.stringify(f.findings));
  assert.match(hi.message, /layer \S+'s RMS .* \(linked adam_base/);
});

/** A temp folder with files; removed after `fn`. */
async function withFiles<T>(files: Record<string, string>, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'ol-lint-'));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('lint DIR skips files that are not configs: a test-data expected.json (lr-like keys in a table of records) is data; the config beside it is linted', async () => {
  const r = await lint([fixturePath('configs', 'projects', 'test_data'), '--json']);
  assert.equal(r.code, 0, r.err);
  const files = (JSON.parse(r.out) as { files: { path: string; skipped?: string; learningRates: unknown[]; findings: unknown[] }[] }).files;
  const expected = files.find((f) => f.path.endsWith('expected.json'))!;
  assert.match(expected.skipped ?? '', /^data, not a config: 32 of 33 values are in 'cases', a table of 8 records with the same keys$/);
  assert.deepEqual([expected.learningRates, expected.findings], [[], []]);
  const train = files.find((f) => f.path.endsWith('train.yaml'))!;
  assert.equal(train.skipped, undefined);
  assert.equal(train.learningRates.length, 1);
  // The repository's own ground truth (a table of steps × layers) is data too; its run config is not.
  const run = await lint([fixturePath('adam_base'), '--json']);
  const rf = (JSON.parse(run.out) as { files: { path: string; skipped?: string }[] }).files;
  assert.match(rf.find((f) => f.path.endsWith('expected.json'))!.skipped ?? '', /^data, not a config: \d+ of \d+ values are in 'steps'/);
  assert.equal(rf.find((f) => f.path.endsWith('config.json'))!.skipped, undefined);
});

test('lint --json includes parse errors with line and column and exits 2 for them; the text output shows them in the file block', async () => {
  await withFiles({ 'bad.json': '{\n  "lr": 3e-4,\n  "x": \n}\n', 'good.yaml': 'lr: 3.0e-4\ninit_std: 0.02\n' }, async (dir) => {
    const r = await lint([dir, '--json']);
    assert.equal(r.code, 2);
    const files = (
      JSON.parse(r.out) as {
        files: {
          path: string;
          issues: { severity: string; line: number; column: number; message: string }[];
          learningRates: { value: number }[];
        }[];
      }
    ).files;
    const bad = files.find((f) => f.path.endsWith('bad.json'))!;
    assert.deepEqual(bad.issues[0], { severity: 'error', line: 4, column: 1, message: 'JSON: ValueExpected' });
    assert.deepEqual(
      bad.learningRates.map((l) => l.value),
      [3e-4],
      'what was readable is kept',
    );
    assert.deepEqual(files.find((f) => f.path.endsWith('good.yaml'))!.issues, []);
    const t = await lint([join(dir, 'bad.json')]);
    assert.equal(t.code, 2);
    assert.match(t.out, /bad\.json\n {2}4:1 +error +\(parse\) +JSON: ValueExpected\n/);
  });
  // An unreadable file is in the JSON too.
  const missing = await lint([fixturePath('configs', 'nope.yaml'), '--json']);
  assert.equal(missing.code, 2);
  const f = (JSON.parse(missing.out) as { files: { path: string; issues: { severity: string; line: null; message: string }[] }[] })
    .files[0];
  assert.equal(f.issues[0].severity, 'error');
  assert.equal(f.issues[0].line, null);
});

test('lint of deeply nested JSON says where the budget was reached (not "Maximum call stack size exceeded")', async () => {
  await withFiles({ 'deep.json': `{"lr": 1e-3,\n "x": ${'['.repeat(100_000)}${']'.repeat(100_000)}}` }, async (dir) => {
    const r = await lint([join(dir, 'deep.json'), '--json']);
    assert.equal(r.code, 2);
    const f = JSON.parse(r.out).files[0];
    assert.deepEqual(f.issues, [
      { severity: 'error', line: 2, column: 7 + 127, message: 'JSON: value nested deeper than 128 levels: not read' },
    ]);
    assert.deepEqual(
      f.learningRates.map((l: { value: number }) => l.value),
      [1e-3],
    );
    assert.doesNotMatch(r.out + r.err, /call stack/i);
  });
});

test('lint of a 7.8 MB Python expression and of 500,000 --lr= arguments: the budget is an issue at its position, the report stays small', async () => {
  await withFiles(
    {
      'expr.py': `lr = 3e-4\nx = ${'1e-4+'.repeat(1_560_000)}1\n`,
      'flags.sh': `python train.py ${'--lr=1e-3 '.repeat(500_000)}\n`,
    },
    async (dir) => {
      const r = await lint([dir, '--json']);
      assert.equal(r.code, 2, 'the over-budget statement was not read');
      const files = JSON.parse(r.out).files as {
        path: string;
        issues: { severity: string; line: number; column: number; message: string }[];
        learningRates: unknown[];
        findings: unknown[];
      }[];
      const py = files.find((f) => f.path.endsWith('expr.py'))!;
      assert.deepEqual(
        py.issues.map((i) => [i.severity, i.line, i.column]),
        [['error', 2, 1]],
      );
      assert.match(py.issues[0].message, /exceeds the 65536-byte budget for one config expression/);
      assert.equal(py.learningRates.length, 1);
      const sh = files.find((f) => f.path.endsWith('flags.sh'))!;
      assert.equal(sh.learningRates.length, 1000);
      assert.ok(sh.findings.length <= 1000);
      assert.ok(
        sh.issues.some((i) => /^… and \d+ more learning rates/.test(i.message)),
        JSON.stringify(sh.issues),
      );
      assert.ok(r.out.length < 2_000_000, `${r.out.length} bytes of JSON for 13 MB of input`);
    },
  );
});

test('lint text output escapes control characters from files (no terminal escape sequences reach the screen)', async () => {
  await withFiles({ 'esc.yaml': '"\\e]0;pwned\\u0007\\e[2J_lr": 3.0e-4\n' }, async (dir) => {
    const r = await lint([join(dir, 'esc.yaml')]);
    assert.ok(!r.out.includes('\u001b') && !r.out.includes('\u0007'), 'no raw ESC or BEL');
    assert.match(r.out, /\\x1b\]0;pwned\\x07\\x1b\[2J_lr = 3e-4/);
  });
});
