#!/usr/bin/env node
// `npm run package`: production build (tsc --noEmit + esbuild --production), then
// `vsce package --no-dependencies` -> optimizer-lens-<version>.vsix (gitignored), and a report of its size and
// contents (`vsce ls`). Options: --out FILE, --no-typecheck, --no-build.
import fs from 'node:fs';
import path from 'node:path';
import { REPO, buildProduction, listVsixFiles, log, packageJson, packageVsix, vscodeIgnoreFile } from './e2e-lib.mjs';

const argv = process.argv.slice(2);
const opt = (name) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const pj = packageJson();
const out = path.resolve(REPO, opt('--out') || `${pj.name}-${pj.version}.vsix`);

try {
  if (!argv.includes('--no-build')) {
    const typecheck = !argv.includes('--no-typecheck');
    log(`build (${typecheck ? 'type-check + ' : ''}esbuild --production)`);
    buildProduction({ typecheck });
  }
  log(`vsce package --no-dependencies (ignore file: ${path.relative(REPO, vscodeIgnoreFile())})`);
  packageVsix(out);
  const files = listVsixFiles();
  const sizeOf = (f) => {
    try {
      return fs.statSync(path.join(REPO, f)).size;
    } catch {
      return 0;
    }
  };
  console.log(`\n${path.relative(process.cwd(), out)}: ${(fs.statSync(out).size / 1024).toFixed(1)} KiB (${files.length} files)`);
  for (const f of files) console.log(`  ${(sizeOf(f) / 1024).toFixed(1).padStart(9)} KiB  ${f}`);
} catch (e) {
  console.error(`package failed: ${e.message}`);
  process.exit(1);
}
