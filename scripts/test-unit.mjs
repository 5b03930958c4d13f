// Runs the Node unit tests: every *.test.ts under test/ except the Chromium (test/webview) and the real
// VS Code (test/e2e) layers. Node 20's test runner takes no glob of .ts files, so they are listed here.
// Extra arguments go to `node --test` (e.g. --test-name-pattern=zip). `--fuzz` (npm run fuzz) runs only the
// fuzzers (every *Fuzz*.test.ts) with FUZZ_SCALE=25 unless set: 25 times the unit suite's case counts.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
const SKIP = new Set(['test/webview', 'test/e2e', 'test/fixtures', 'test/python', 'test/support']);

function collect(dir, out) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    const rel = relative(ROOT, p);
    if (statSync(p).isDirectory()) {
      if (!SKIP.has(rel)) collect(p, out);
    } else if (name.endsWith('.test.ts')) out.push(rel);
  }
  return out;
}

const fuzz = process.argv.includes('--fuzz');
const args = process.argv.slice(2).filter((a) => a !== '--fuzz');
const files = collect(join(ROOT, 'test'), []).filter((f) => !fuzz || /Fuzz[^/]*\.test\.ts$/.test(f));
const env = fuzz ? { ...process.env, FUZZ_SCALE: process.env.FUZZ_SCALE ?? '25' } : process.env;
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', ...args, ...files], { cwd: ROOT, stdio: 'inherit', env });
process.exit(r.status ?? 1);
