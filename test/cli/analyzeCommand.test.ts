import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { main } from '../../src/cli/main';
import { fixturePath, loadExpected } from '../support/fixtures';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}

const ADAM = ['--betas', '0.9,0.999', '--eps', '1e-8'];

test('analyze --json prints the documented contract with PyTorch-exact figures', async () => {
  const r = await cli('analyze', fixturePath('adam_base', 'tensors', 'step_000060.npz'), '--json', ...ADAM, '--optimizer', 'adam');
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.deepEqual(Object.keys(j).slice(0, 8), ['tool', 'version', 'inputs', 'optimizer', 'step', 'steps', 'layers', 'findings']);
  assert.equal(j.tool, 'optimizer-lens');
  assert.deepEqual(j.inputs, [{ path: fixturePath('adam_base', 'tensors', 'step_000060.npz'), format: 'npz' }]);
  assert.deepEqual(Object.keys(j.optimizer), ['type', 'lr', 'betas', 'eps', 'weightDecay', 'source']);
  assert.equal(j.optimizer.type, 'adam');
  assert.equal(j.optimizer.lr, 3e-4);
  assert.equal(j.step, 60);
  const exp = loadExpected('adam_base').steps['60'];
  const head = j.layers.find((l: { name: string }) => l.name === 'head.weight');
  for (const k of [
    'name',
    'shape',
    'numel',
    'paramRms',
    'gradRms',
    'updateRms',
    'relStep',
    'adamUpdateRms',
    'relStepPredicted',
    'epsDominatedFraction',
  ]) {
    assert.ok(k in head, `layer field ${k}`);
  }
  assert.deepEqual(head.shape, [40, 32]);
  assert.equal(head.numel, 1280);
  assert.ok(Math.abs(head.adamUpdateRms / exp['head.weight'].adam_u_rms! - 1) < 1e-9);
  for (const f of j.findings) for (const k of ['rule', 'severity', 'layer', 'step', 'message', 'evidence']) assert.ok(k in f);
});

test('table output lists every layer and the findings', async () => {
  const r = await cli('analyze', fixturePath('adam_base', 'tensors', 'step_000120.npz'), ...ADAM);
  assert.equal(r.code, 0);
  for (const l of ['pos_embed', 'embed.weight', 'blocks.0.attn.qkv.weight', 'head.weight'])
    assert.match(r.out, new RegExp(`^${l.replace(/\./g, '\\.')}\\s`, 'm'));
  // One grouped finding per rule: the three layers above 1e-2 at step 120, named in its message.
  assert.match(r.out, /relative-step-high \[3 layers\]: 3 of 14 tensors \(pos_embed, blocks\.0\.ln1\.bias, ln_f\.bias\)/);
});

test('exit codes: 1 when --fail-on trips, 2 on bad usage and unreadable input', async () => {
  const p = fixturePath('adam_base', 'tensors', 'step_000120.npz');
  assert.equal((await cli('analyze', p, ...ADAM, '--fail-on', 'warning')).code, 1);
  assert.equal((await cli('analyze', p, ...ADAM, '--fail-on', 'error')).code, 0);
  const usage = await cli('analyze', p, '--betas', 'nope');
  assert.equal(usage.code, 2);
  assert.match(usage.err, /--betas needs two numbers/);
  assert.equal((await cli('analyze')).code, 2);
  assert.equal((await cli('frobnicate')).code, 2);
  const missing = await cli('analyze', fixturePath('no_such_run'));
  assert.equal(missing.code, 2);
  assert.match(missing.err, /no_such_run: no such file or folder/);
  const unknown = await cli('analyze', fixturePath('README.md'));
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /README\.md: not a format Optimizer Lens reads/);
});

test('bad input: malformed JSONL is reported with file and line, partial data kept, exit 2', async () => {
  const r = await cli('analyze', fixturePath('bad', 'malformed.jsonl'), '--json');
  assert.equal(r.code, 2);
  const j = JSON.parse(r.out);
  assert.ok(j.issues.some((i: { line?: number; path: string }) => i.line === 7 && i.path.endsWith('malformed.jsonl')));
  assert.ok(j.findings.some((f: { rule: string }) => f.rule === 'non-finite'));
});

test('a log with a learning rate but no parameter scale warns lr-without-scale', async () => {
  const r = await cli('analyze', fixturePath('adam_base', 'train_log.jsonl'), '--json');
  const j = JSON.parse(r.out);
  const f = j.findings.find((x: { rule: string }) => x.rule === 'lr-without-scale');
  assert.ok(f, 'lr-without-scale finding');
  assert.equal(f.severity, 'warning');
  assert.match(f.message, /^Learning rate 3e-4 is known but no parameter scale is/);
  assert.match(f.message, /relative step of 3e-4 for weights of scale 1 but 0\.015 for weights of scale 0\.02/);
});

test(
  'the installed bin runs (npx optimizer-lens)',
  { skip: !existsSync(resolve(__dirname, '..', '..', 'dist', 'cli.js')) && 'dist/ not built (npm run build)' },
  () => {
    const bin = join(resolve(__dirname, '..', '..'), 'bin', 'optimizer-lens.js');
    const r = spawnSync(process.execPath, [bin, 'analyze', fixturePath('adam_base', 'tensors', 'step_000001.npz'), '--json', ...ADAM], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).step, 1);
    const bad = spawnSync(process.execPath, [bin, 'analyze', '--step'], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
  },
);

test('parameter groups (HF decay / no-decay split) appear per group in JSON and in the table', async () => {
  const dir = fixturePath('adamw_wd0.05', 'checkpoint-120');
  const j = JSON.parse((await cli('analyze', dir, '--json')).out);
  assert.equal(j.optimizer.type, 'adamw');
  assert.equal(j.optimizer.weightDecay, null, 'groups differ: no single weight decay');
  const decayed = j.optimizer.paramGroups.find((g: { weightDecay: number }) => g.weightDecay === 0.05);
  assert.deepEqual([...decayed.layers].sort(), [
    'blocks.0.attn.proj.weight',
    'blocks.0.attn.qkv.weight',
    'blocks.0.mlp.fc.weight',
    'blocks.0.mlp.proj.weight',
    'embed.weight',
    'head.weight',
    'pos_embed',
  ]);
  const table = (await cli('analyze', dir)).out;
  assert.match(table, /weight decay per group 0\.05 \(7 layers\), 0 \(7 layers\)/);
});

test('the table opens with the run at a glance (steps, lr schedule) and --json carries the summary', async () => {
  const r = await cli('analyze', fixturePath('adam_base'));
  assert.match(r.out, /^Run: steps 1–120 \(120 with figures\); lr 3e-4 throughout$/m);
  const j = JSON.parse((await cli('analyze', fixturePath('adam_base'), '--json')).out);
  assert.deepEqual(j.summary.steps, { first: 1, last: 120, count: 120 });
  assert.equal(j.summary.lastFullStep, 120);
  assert.ok(Math.abs(j.summary.lrSchedule.peak / 3e-4 - 1) < 1e-7);
});

test('--optimizer takes every kind Optimizer Lens knows; --muon-scaling one of the two conventions', async () => {
  const { parseAnalyzeArgs } = await import('../../src/cli/analyzeCommand');
  const { OPTIMIZER_KINDS, MUON_SCALINGS } = await import('../../src/shared/optimizers');
  for (const k of OPTIMIZER_KINDS) assert.equal(parseAnalyzeArgs(['x', '--optimizer', k.toUpperCase()]).options.optimizer, k);
  for (const s of MUON_SCALINGS) assert.equal(parseAnalyzeArgs(['x', `--muon-scaling=${s}`]).options.muonScaling, s);
  const bad = await cli('analyze', 'x', '--optimizer', 'adamx');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--optimizer must be one of adam, adamw, .*muon/);
  assert.match((await cli('analyze', 'x', '--muon-scaling', 'rms')).err, /--muon-scaling must be original or match_rms_adamw/);
});

test('Muon: RMS(d) per layer in the table and JSON, the shape scaling said, --muon-scaling applied', async () => {
  const run = fixturePath('optim_muon');
  const exp = JSON.parse(readFileSync(join(run, 'expected.json'), 'utf8'));
  const text = await cli('analyze', run);
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, /RMS\(d\)/);
  // Keller Jordan's layout (use_muon groups) states √max(1, rows/cols); the AdamW groups are AdamW.
  assert.match(text.out, /^ {2}Muon \(√max\(1, rows\/cols\)\) — fc1\.weight, fc2\.weight$/m);
  assert.match(text.out, /^ {2}AdamW — fc1\.bias, fc2\.bias$/m);
  assert.match(text.out, /Under Muon the update is orthogonalized/);
  const j = JSON.parse((await cli('analyze', run, '--json')).out);
  const fc1 = j.layers.find((l: { name: string }) => l.name === 'fc1.weight');
  assert.ok(Math.abs(fc1.directionRms / exp.steps['10'].layers['fc1.weight'].direction_rms - 1) < 1e-9);
  const set = JSON.parse((await cli('analyze', run, '--json', '--muon-scaling', 'match_rms_adamw')).out);
  const fc1m = set.layers.find((l: { name: string }) => l.name === 'fc1.weight');
  assert.equal(fc1m.provenance.directionRms, 'tensors (Muon (0.2·√max(rows, cols), as set))');
  // fc1.weight is 32 × 16: 0.2·√32 against √2.
  assert.ok(Math.abs(fc1m.directionRms / fc1.directionRms - (0.2 * Math.sqrt(32)) / Math.sqrt(2)) < 1e-12);
});
