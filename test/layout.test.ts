import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { VERSION } from '../src/core/version';

const ROOT = resolve(__dirname, '..');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('src/core and src/cli import neither vscode nor DOM-only modules (they run in the CLI and workers)', () => {
  const offenders = [...tsFiles(join(ROOT, 'src', 'core')), ...tsFiles(join(ROOT, 'src', 'cli'))].filter((f) =>
    /(?:from\s+|import\s*\(\s*|require\s*\(\s*|import\s+)['"]vscode['"]/.test(readFileSync(f, 'utf8')),
  );
  assert.deepEqual(offenders, []);
  const core = JSON.parse(readFileSync(join(ROOT, 'tsconfig.core.json'), 'utf8'));
  assert.ok(!core.compilerOptions.lib.some((l: string) => /dom/i.test(l)), 'no DOM lib for core');
  assert.equal(core.compilerOptions.paths.vscode[0], './build/no-vscode-in-core.d.ts');
});

test('the CLI reports the version in package.json', () => {
  assert.equal(VERSION, JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
});
