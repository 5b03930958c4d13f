// The logging snippets: the TS copies shipped in the extension equal the Python sources byte for byte,
// the three variants share one core, every figure they write is one the log readers map, and the Python
// compiles. (The real-torch run is in snippets-torch.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { LOGGING_SNIPPETS, loggingSnippet } from '../../src/core/snippets';
import { LAYER_METRICS } from '../../src/core/run/scalarTags';

const REPO = resolve(__dirname, '..', '..');
const CORE_BEGIN = '# ---- optimizer-lens core begin ----';
const CORE_END = '# ---- optimizer-lens core end ----';

function pythonSource(file: string): string {
  return readFileSync(join(REPO, file), 'utf8');
}

function coreOf(code: string): string {
  const begin = code.indexOf(CORE_BEGIN);
  const end = code.indexOf(CORE_END);
  assert.ok(begin >= 0 && end > begin, 'core markers present');
  return code.slice(begin, end + CORE_END.length);
}

test('LOGGING_SNIPPETS has the three variants with labels and descriptions', () => {
  assert.deepEqual(
    LOGGING_SNIPPETS.map((s) => s.id),
    ['plain-loop', 'hf-trainer-callback', 'lightning-callback'],
  );
  for (const s of LOGGING_SNIPPETS) {
    assert.ok(s.label.length > 5 && s.description.length > 20, s.id);
    assert.equal(loggingSnippet(s.id), s);
  }
  assert.throws(() => loggingSnippet('nope' as never), /unknown logging snippet/);
});

test('every embedded snippet equals its snippets/*.py file byte for byte (regenerate: python3 test/python/embed_snippets.py)', () => {
  const pyFiles = readdirSync(join(REPO, 'snippets'))
    .filter((f) => f.endsWith('.py'))
    .sort();
  assert.deepEqual(LOGGING_SNIPPETS.map((s) => s.file.replace('snippets/', '')).sort(), pyFiles);
  for (const s of LOGGING_SNIPPETS) {
    const source = pythonSource(s.file);
    if (s.code !== source) {
      let i = 0;
      while (i < source.length && s.code[i] === source[i]) i++;
      assert.fail(`${s.id}: src/core/snippets.ts differs from ${s.file} at character ${i}: rerun test/python/embed_snippets.py`);
    }
  }
});

test('the three variants share the same logger core, and each defines what its usage comment calls', () => {
  const [plain, hf, lightning] = LOGGING_SNIPPETS.map((s) => s.code);
  assert.equal(coreOf(hf), coreOf(plain));
  assert.equal(coreOf(lightning), coreOf(plain));
  assert.match(plain, /^class OptimizerLensLogger:/m);
  assert.match(plain, /lens\.before_step\(\)[\s\S]*optimizer\.step\(\)[\s\S]*lens\.after_step\(\)/);
  assert.match(hf, /^from transformers import TrainerCallback$/m);
  assert.match(hf, /^class OptimizerLensCallback\(TrainerCallback\):/m);
  assert.match(hf, /def on_pre_optimizer_step\(self, args, state, control/);
  assert.match(lightning, /from lightning\.pytorch import Callback/);
  assert.match(lightning, /^class OptimizerLensCallback\(Callback\):/m);
  assert.match(lightning, /def on_before_optimizer_step\(self, trainer, pl_module, optimizer/);
  for (const s of LOGGING_SNIPPETS) {
    // only torch (and the framework of its variant): nothing else a user would have to install
    const imports = [...s.code.matchAll(/^\s*(?:import (\w+)|from ([\w.]+) import)/gm)].map((m) => (m[1] ?? m[2]).split('.')[0]);
    const allowed = new Set(['json', 'math', 'torch', 'transformers', 'lightning', 'pytorch_lightning']);
    for (const name of imports) assert.ok(allowed.has(name), `${s.id} imports ${name}`);
    // plain text for the editor: no VS Code snippet syntax that insertSnippet would eat
    assert.ok(!s.code.includes('$'), `${s.id} contains '$'`);
  }
});

test('every figure the snippet writes is a field the log readers map to a LayerFigures name', () => {
  const core = coreOf(LOGGING_SNIPPETS[0].code);
  const written = new Set<string>();
  for (const m of core.matchAll(/(?:record\["|")(\w+)": /g)) written.add(m[1]);
  for (const m of core.matchAll(/record\["(\w+)"\] =/g)) written.add(m[1]);
  const expectedFigures: Record<string, string> = {
    param_rms: 'paramRms',
    grad_rms: 'gradRms',
    update_rms: 'updateRms',
    rel_step: 'relStep',
    adam_u_rms: 'adamUpdateRms',
    eps_dominated_frac: 'epsDominatedFraction',
    decay_rms: 'decayRms',
    momentum_buffer_rms: 'momentumBufferRms',
    lr: 'lr',
  };
  for (const [field, figure] of Object.entries(expectedFigures)) {
    assert.ok(written.has(field), `snippet writes ${field}`);
    assert.equal(LAYER_METRICS[field], figure, `${field} maps to ${figure}`);
  }
  for (const field of ['step', 'layer', 'shape', 'numel']) assert.ok(written.has(field), `snippet writes ${field}`);
});

test('the snippets are valid Python (compiled by python3 without running them)', (t) => {
  const python: string | undefined = ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'pass']).status === 0);
  if (!python) {
    t.skip('no python3 on this machine');
    return;
  }
  for (const s of LOGGING_SNIPPETS) {
    const r: SpawnSyncReturns<string> = spawnSync(python, ['-c', 'import sys; compile(sys.stdin.read(), sys.argv[1], "exec")', s.file], {
      input: s.code,
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, `${s.id}: ${r.stderr}`);
  }
  // and a syntax error is caught by the same check (the check can fail)
  const bad: SpawnSyncReturns<string> = spawnSync(python, ['-c', 'import sys; compile(sys.stdin.read(), "x", "exec")'], {
    input: LOGGING_SNIPPETS[0].code.replace('def before_step(self, step=None):', 'def before_step(self, step=None)'),
    encoding: 'utf8',
  });
  assert.notEqual(bad.status, 0);
});
