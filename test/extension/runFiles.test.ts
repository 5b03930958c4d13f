// File-name rules of the extension host (src/extension/runFiles.ts) against package.json's custom editor
// selectors and the real fixture runs: which viewType opens a file (the editor picker shows the display
// name only for the viewType whose selector matches), and the run candidates Compare Runs… offers.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import {
  CANDIDATE_GLOB,
  dashboardViewTypeFor,
  isLogName,
  isRunInputName,
  opensInDashboardEditor,
  runCandidatesFromPaths,
} from '../../src/extension/runFiles';
import { fixturePath } from '../support/fixtures';

const ROOT = resolve(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  contributes: { customEditors: { viewType: string; displayName?: string; selector: { filenamePattern: string }[] }[] };
};

function walk(dir: string, out: string[] = []): string[] {
  for (const n of readdirSync(dir).sort()) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

describe('runFiles: custom editor viewTypes', () => {
  it('every package.json selector opens with its own viewType, and every entry has a display name', () => {
    const editors = pkg.contributes.customEditors;
    assert.ok(editors.length >= 2);
    let checked = 0;
    for (const editor of editors) {
      assert.equal(editor.displayName, 'Optimizer Lens Dashboard', `${editor.viewType} displayName`);
      for (const { filenamePattern } of editor.selector) {
        const sample = `/ws/run/${filenamePattern.replace(/\*/g, 'x1')}`;
        assert.equal(opensInDashboardEditor(sample), true, `${sample} opens in the dashboard`);
        assert.equal(dashboardViewTypeFor(sample), editor.viewType, `${sample} (selector ${filenamePattern})`);
        checked++;
      }
    }
    assert.ok(checked >= 10, `${checked} selectors`);
  });

  it('the real fixture files map to the viewType of the selector they match', () => {
    assert.equal(dashboardViewTypeFor(fixturePath('adam_base', 'tensors', 'step_000120.safetensors')), 'optimizerLens.dashboard');
    assert.equal(
      dashboardViewTypeFor(fixturePath('adam_base', 'tb', 'events.out.tfevents.1717200000.localhost')),
      'optimizerLens.dashboard',
    );
    assert.equal(dashboardViewTypeFor(fixturePath('adamw_wd0.05', 'checkpoint-120', 'trainer_state.json')), 'optimizerLens.logDashboard');
    assert.equal(dashboardViewTypeFor(fixturePath('adam_base', 'stats.jsonl')), 'optimizerLens.logDashboard');
    assert.equal(opensInDashboardEditor(fixturePath('adam_base', 'expected.json')), false);
    assert.equal(opensInDashboardEditor(fixturePath('adam_base', 'config.json')), false);
  });

  it('the findFiles glob lists the same names isRunInputName accepts', () => {
    const inner = /\{(.*)\}/.exec(CANDIDATE_GLOB)![1].split(',');
    assert.ok(inner.length >= 10);
    for (const pattern of inner) assert.equal(isRunInputName(pattern.replace(/\*/g, 'x1')), true, pattern);
    assert.equal(isRunInputName('expected.json'), false);
    assert.equal(isRunInputName('README.md'), false);
  });
});

describe('runFiles: Compare Runs… candidates', () => {
  it('offers the run folders (shallow first, with what they hold) and the logs of the fixture tree', () => {
    const base = fixturePath();
    const runs = ['adam_base', 'adamw_wd0.05', 'sgd_momentum'];
    const rels = runs.flatMap((r) => walk(fixturePath(r)).map((p) => relative(base, p).split('\\').join('/')));
    const candidates = runCandidatesFromPaths(rels);
    const folders = candidates.filter((c) => c.kind === 'folder');
    const files = candidates.filter((c) => c.kind === 'file');
    // the three run folders first, then deeper ones
    assert.deepEqual(
      folders.slice(0, 3).map((c) => c.rel),
      runs,
    );
    for (let i = 1; i < folders.length; i++) {
      assert.ok(folders[i - 1].rel.split('/').length <= folders[i].rel.split('/').length, `${folders[i - 1].rel} before ${folders[i].rel}`);
    }
    // counts by name, recomputed from the tree
    for (const run of runs) {
      const names = walk(fixturePath(run)).map((p) => p.split(/[\\/]/).pop()!);
      const logs = names.filter(isLogName).length;
      const tensors = names.filter((n) => isRunInputName(n) && !isLogName(n)).length;
      const folder = folders.find((c) => c.rel === run)!;
      const want = [logs ? `${logs} log${logs === 1 ? '' : 's'}` : '', tensors ? `${tensors} tensor file${tensors === 1 ? '' : 's'}` : '']
        .filter(Boolean)
        .join(', ');
      assert.equal(folder.description, want, run);
    }
    assert.equal(folders.find((c) => c.rel === 'adam_base')!.description, '4 logs, 16 tensor files');
    assert.ok(folders.some((c) => c.rel === 'adamw_wd0.05/checkpoint-120'));
    // every log is offered by itself; expected.json / config.json never
    assert.ok(files.some((c) => c.rel === 'adam_base/stats.jsonl'));
    assert.ok(files.some((c) => c.rel === 'adamw_wd0.05/checkpoint-120/trainer_state.json'));
    assert.ok(files.some((c) => c.rel.startsWith('adam_base/tb/events.out.tfevents.')));
    assert.ok(!candidates.some((c) => /expected\.json$|config\.json$/.test(c.rel)));
    // bounded
    assert.equal(runCandidatesFromPaths(rels, 5).length, 5);
  });
});
