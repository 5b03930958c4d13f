// `optimizer-lens lint` in-process: JSON contract (1-based lines/columns), exit codes, --link.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixturePath } from '../support/fixtures';
import { runLint } from '../../src/cli/lint';

async function lint(args: string[]) {
  let out = '';
  let err = '';
  const code = await runLint(args, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}

test('lint --json over the fixture configs folder: the issue-5 shape with the README lines', async () => {
  const r = await lint([fixturePath('configs'), '--json']);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out) as {
    files: { path: string; learningRates: unknown[]; scales: unknown[]; findings: Record<string, unknown>[] }[];
  };
  assert.equal(j.files.length, 8);
  for (const f of j.files) {
    assert.deepEqual(Object.keys(f), ['path', 'learningRates', 'scales', 'findings']);
    for (const l of [...f.learningRates, ...f.scales]) assert.deepEqual(Object.keys(l as object), ['key', 'value', 'line', 'column']);
    for (const x of f.findings) assert.deepEqual(Object.keys(x), ['rule', 'severity', 'line', 'column', 'message']);
  }
  const byName = (n: string) => j.files.find((f) => f.path.endsWith(n))!;
  assert.deepEqual(byName('train.toml').learningRates, [{ key: 'optimizer.lr', value: 8e-4, line: 18, column: 6 }]);
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
