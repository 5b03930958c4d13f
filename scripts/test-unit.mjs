// Runs the Node unit tests: every *.test.ts under test/ except the Chromium (test/webview) and the real
// VS Code (test/e2e) layers. Node 20's test runner takes no glob of .ts files, so they are listed here.
// Extra arguments go to `node --test` (e.g. --test-name-pattern=zip).
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

const files = collect(join(ROOT, 'test'), []);
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', ...process.argv.slice(2), ...files], { cwd: ROOT, stdio: 'inherit' });
process.exit(r.status ?? 1);
