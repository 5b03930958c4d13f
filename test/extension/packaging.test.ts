// The .vsix carries every bundle the extension loads at run time: the allow-list in .vscodeignore names each
// entry esbuild.config.mjs builds (a bundle left out installs fine and fails only when first used, as the
// analysis process did).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../support/fixtures';

test('.vscodeignore keeps every bundle esbuild builds', () => {
  const config = readFileSync(join(ROOT, 'esbuild.config.mjs'), 'utf8');
  const outs = [...config.matchAll(/out: '([\w-]+)'/g)].map((m) => m[1]);
  assert.ok(outs.includes('analysis') && outs.includes('extension') && outs.includes('webview'), outs.join(', '));
  const kept = readFileSync(join(ROOT, '.vscodeignore'), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('!'))
    .map((l) => l.slice(1).trim());
  for (const out of outs) assert.ok(kept.includes(`dist/${out}.js`), `.vscodeignore does not keep dist/${out}.js`);
});
