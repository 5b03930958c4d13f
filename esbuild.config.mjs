// Two kinds of bundle (DESIGN.md): node (CLI, extension host, worker) and browser (webview).
// esbuild does not type-check: `npm run build` runs tsc --noEmit first.
import * as esbuild from 'esbuild';
import { existsSync } from 'node:fs';
import { embedSnippets } from './build/embedSnippets.mjs';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

const common = { bundle: true, sourcemap: production ? false : 'linked', minify: production, logLevel: 'warning', legalComments: 'none' };

const nodeEntries = [
  { in: 'src/cli/main.ts', out: 'cli' },
  { in: 'src/extension/extension.ts', out: 'extension' },
  { in: 'src/extension/analysis/process.ts', out: 'analysis' },
  { in: 'src/core/engine/statsWorker.ts', out: 'statsWorker' },
].filter((e) => existsSync(e.in));

const builds = [];
if (nodeEntries.length) {
  builds.push({
    ...common,
    entryPoints: nodeEntries,
    outdir: 'dist',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
    plugins: [embedSnippets], // snippets/*.py as text (loader '.py': 'text'), not read from disk
  });
}
if (existsSync('webview/main.ts')) {
  builds.push({
    ...common,
    entryPoints: [{ in: 'webview/main.ts', out: 'webview' }],
    outdir: 'dist',
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
  });
}

if (watch) {
  const ctxs = await Promise.all(builds.map((b) => esbuild.context(b)));
  await Promise.all(ctxs.map((c) => c.watch()));
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
