#!/usr/bin/env node
// End-to-end tests of Optimizer Lens in a real VS Code (code-server 4.139.1 = VS Code 1.139.1), offline.
//   1. scripts/setup-e2e.sh (idempotent: chromium, Node 24, code-server into .vscode-e2e/)
//   2. production build + `vsce package --no-dependencies` -> .vscode-e2e/optimizer-lens.vsix
//   3. install the .vsix into a scratch extensions dir, scratch workspace copied from test/fixtures
//   4. start code-server on 127.0.0.1:<free port> in its own process group
//   5. extension-host tests (test/e2e/exthost/index.js inside the real Node extension host, full `vscode` API,
//      the installed .vsix folder as extensionDevelopmentPath), then UI tests driven by playwright-core +
//      Debian chromium (test/e2e/ui.mjs), each saving a screenshot to test-results/e2e/
//   6. stop the server's process group; print `N passed, N failed`; exit 1 on any failure.
// Env: E2E_SKIP_SETUP=1, E2E_SKIP_BUILD=1 (package the existing dist/), E2E_VSIX=file (use this .vsix as is),
//      E2E_ONLY=regex (run only matching tests), E2E_HEADED=1, E2E_KEEP=1 (leave the server up for a look).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import {
  CHROMIUM,
  E2E_ROOT,
  REPO,
  buildProduction,
  ensureSetup,
  installVsix,
  log,
  packageVsix,
  serverDirs,
  sleep,
  startServer,
  tail,
  writeUserSettings,
} from '../../scripts/e2e-lib.mjs';
import { uiTests } from './ui.mjs';
import { writeLlamaLog } from '../../scripts/llama-log.mjs';
import { dupBombPt } from '../../scripts/hostile-files.mjs';

const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');

const RESULTS = path.join(REPO, 'test-results/e2e');
const RUN_DIR = path.join(E2E_ROOT, 'run-e2e');
const WORKSPACE = path.join(RUN_DIR, 'workspace');
const ONLY = process.env.E2E_ONLY ? new RegExp(process.env.E2E_ONLY) : null;
const WATCHDOG_MS = 40 * 60_000; // the whole run; ~5 min once installed on an idle machine, far more at load 15

const results = []; // { name, ok, ms, error }
let server = null;
let browser = null;

function record(name, ok, ms, error) {
  results.push({ name, ok, ms, error });
  const n = results.length;
  console.log(`${ok ? 'ok' : 'not ok'} ${n} - ${name} (${(ms / 1000).toFixed(1)}s)`);
  if (!ok) console.log(`  ---\n  ${String(error).split('\n').slice(0, 30).join('\n  ')}\n  ...`);
}

/** Scratch workspace: a few fixture runs and the configs, copied so tests may edit them freely. */
function makeWorkspace() {
  fs.rmSync(WORKSPACE, { recursive: true, force: true });
  fs.mkdirSync(WORKSPACE, { recursive: true });
  // No .toml in the workspace: the `workspaceContains:**/train*.toml` (etc.) events would activate the extension at startup and hide
  // whether opening a YAML config alone activates it (onLanguage:yaml), which the first tests check.
  const noToml = (src) => !src.endsWith('.toml');
  for (const d of ['adam_base', 'adamw_wd0.05', 'sgd_momentum', 'configs']) {
    fs.cpSync(path.join(REPO, 'test/fixtures', d), path.join(WORKSPACE, d), { recursive: true, filter: noToml });
  }
  // the extension-host tests edit a config of their own so the UI tests see finetune.yaml untouched
  fs.cpSync(path.join(REPO, 'test/fixtures/configs'), path.join(WORKSPACE, 'exthost-configs'), { recursive: true, filter: noToml });
  fs.writeFileSync(path.join(WORKSPACE, 'scratch.py'), '# scratch file for Insert Logging Snippet\n');
  // Containment: a real hostile checkpoint (195 KB, a pickle of 200M DUP opcodes), and two logs the analysis
  // process is told to exhaust its limits on (EXHAUST_ENV below), whatever the readers' budgets become.
  const hostile = path.join(WORKSPACE, 'hostile');
  fs.mkdirSync(hostile);
  fs.writeFileSync(path.join(hostile, 'dup-bomb.pt'), dupBombPt());
  for (const name of ['exhaust-memory.jsonl', 'exhaust-hang.jsonl'])
    fs.copyFileSync(path.join(WORKSPACE, 'adam_base/stats.jsonl'), path.join(hostile, name));
  // LLM scale: a Llama-7B-shaped run, 291 tensors × 2,000 logged steps (254 MB); the last UI test appends to it.
  fs.mkdirSync(path.join(WORKSPACE, 'llama'));
  const t0 = Date.now();
  const { bytes } = writeLlamaLog(path.join(WORKSPACE, 'llama/optimizer_lens.jsonl'));
  log(`workspace: llama/optimizer_lens.jsonl ${(bytes / 1e6).toFixed(0)} MB written in ${Date.now() - t0} ms`);
}

/** The analysis process exhausts its heap ceiling / hangs on these inputs (src/extension/analysis/testHooks.ts). */
const EXHAUST_ENV = { OPTIMIZER_LENS_TEST_EXHAUST: 'memory:exhaust-memory.jsonl,hang:exhaust-hang.jsonl' };

async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: !process.env.E2E_HEADED,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
    env: { ...process.env, HOME: path.join(RUN_DIR, 'chrome-home') }, // else chromium writes ~/.config/chromium
  });
}

/**
 * A browser context whose waits suit a busy 2-core machine: a navigation (the workbench's first load) took
 * more than playwright's default 30 s at load 15. Tests still wait for conditions, only longer at worst.
 */
async function newContext() {
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  ctx.setDefaultTimeout(60_000);
  ctx.setDefaultNavigationTimeout(180_000);
  return ctx;
}

/** Runs test/e2e/exthost/index.js in the extension host; its `ok - name` / `not ok - name: err` lines become results. */
async function runExtHostTests(extFolder) {
  const testsPath = path.join(REPO, 'test/e2e/exthost/index.js');
  const payload = [
    ['extensionDevelopmentPath', server.remote(extFolder)],
    ['extensionTestsPath', server.remote(testsPath)],
  ];
  const ctx = await newContext();
  const page = await ctx.newPage();
  let done;
  const exited = new Promise((r) => (done = r));
  const lines = [];
  await page.exposeFunction('codeAutomationLog', (type, args) => {
    const text = (Array.isArray(args) ? args : [args]).map(String).join(' ');
    lines.push(text);
    if (process.env.E2E_VERBOSE) console.log(`  [exthost] ${text}`);
  });
  await page.exposeFunction('codeAutomationExit', (code) => done(code));
  page.on('pageerror', (e) => lines.push(`pageerror: ${e.message}`));
  const t0 = Date.now();
  await page.goto(server.url(WORKSPACE, payload));
  const timer = setTimeout(() => done('timeout'), 20 * 60_000);
  const code = await exited;
  clearTimeout(timer);
  await page.screenshot({ path: path.join(RESULTS, 'exthost-final.png') }).catch(() => {});
  await ctx.close();
  // structured results: one JSON line per test, prefixed with E2E-RESULT
  let n = 0;
  for (const l of lines.join('\n').split('\n')) {
    if (l.startsWith('E2E-INFO ')) {
      console.log(`# ${l.slice('E2E-INFO '.length)}`);
      continue;
    }
    if (!l.startsWith('E2E-RESULT ')) continue;
    const r = JSON.parse(l.slice('E2E-RESULT '.length));
    record(`exthost: ${r.name}`, r.ok, r.ms, r.error);
    n++;
  }
  if (n === 0 || (code !== 0 && results.every((r) => r.ok))) {
    record('exthost: test run', false, Date.now() - t0, `extension host exited with ${code}; log:\n${lines.slice(-40).join('\n')}`);
  }
  fs.writeFileSync(path.join(RESULTS, 'exthost.log'), lines.join('\n'));
}

async function runUiTests() {
  const ctx = await newContext();
  const page = await ctx.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  const env = { page, url: server.url(WORKSPACE), workspace: WORKSPACE, results: RESULTS, repo: REPO, log };
  for (const t of uiTests) {
    if (ONLY && !t.required && !ONLY.test(t.name)) continue; // a required test (the workbench loading) runs always
    const t0 = Date.now();
    try {
      await withTimeout(t.fn(env), t.timeoutMs ?? 180_000, t.name);
      record(`ui: ${t.name}`, true, Date.now() - t0);
    } catch (e) {
      await page.screenshot({ path: path.join(RESULTS, `FAILED-${t.slug}.png`) }).catch(() => {});
      record(`ui: ${t.name}`, false, Date.now() - t0, e?.stack || e);
      if (t.required) break; // e.g. the workbench never loaded: the rest cannot run
    }
  }
  if (pageErrors.length) fs.writeFileSync(path.join(RESULTS, 'page-errors.log'), pageErrors.join('\n'));
  await ctx.close();
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, rej) => {
      timer = setTimeout(() => rej(new Error(`${what}: timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function cleanup() {
  try {
    await browser?.close();
  } catch {
    /* ignore */
  }
  if (server && !process.env.E2E_KEEP) {
    await server.stop();
    server = null;
  }
}

async function main() {
  fs.rmSync(RESULTS, { recursive: true, force: true });
  fs.mkdirSync(RESULTS, { recursive: true });
  if (!process.env.E2E_SKIP_SETUP) {
    log('setup (scripts/setup-e2e.sh)');
    ensureSetup();
  }

  let vsix = process.env.E2E_VSIX && path.resolve(process.env.E2E_VSIX);
  if (!vsix) {
    // type-checking is `npm run build`'s job (npm test runs it first); here only the production bundles
    if (!process.env.E2E_SKIP_BUILD) {
      log('build (esbuild --production)');
      buildProduction({ typecheck: false });
    }
    vsix = path.join(E2E_ROOT, 'optimizer-lens.vsix');
    log('vsce package --no-dependencies');
    packageVsix(vsix);
    log(`packaged ${path.relative(REPO, vsix)} (${(fs.statSync(vsix).size / 1024).toFixed(0)} KiB)`);
  }

  fs.rmSync(RUN_DIR, { recursive: true, force: true });
  const dirs = serverDirs(RUN_DIR);
  writeUserSettings(dirs);
  makeWorkspace();
  const extFolder = installVsix(dirs, vsix);
  log(`installed the .vsix: ${path.relative(E2E_ROOT, extFolder)}`);

  server = await startServer(dirs, { smokeTestDriver: true, env: EXHAUST_ENV });
  log(`code-server up on 127.0.0.1:${server.port} (pgid ${server.pid}) after ${server.startupMs} ms`);
  browser = await launchBrowser();

  if (!ONLY || ONLY.test('exthost')) {
    log('extension-host tests');
    await runExtHostTests(extFolder);
  }
  log('UI tests');
  await runUiTests();
  fs.writeFileSync(path.join(RESULTS, 'server.log'), tail(dirs.log, 400));
}

const watchdog = setTimeout(async () => {
  console.log(`e2e watchdog: no end after ${WATCHDOG_MS / 60_000} min, stopping`);
  record('e2e run', false, WATCHDOG_MS, 'watchdog timeout');
  await cleanup();
  finish();
}, WATCHDOG_MS);
watchdog.unref();

function finish() {
  const failed = results.filter((r) => !r.ok).length;
  fs.mkdirSync(RESULTS, { recursive: true });
  fs.writeFileSync(path.join(RESULTS, 'results.json'), JSON.stringify(results, null, 2));
  console.log(`\nscreenshots and logs: ${path.relative(process.cwd(), RESULTS) || '.'}/`);
  console.log(`${results.length - failed} passed, ${failed} failed`);
  process.exit(failed || results.length === 0 ? 1 : 0);
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    console.log(`\n${sig}: stopping code-server`);
    try {
      await browser?.close();
    } catch {
      /* ignore */
    }
    if (server) await server.stop();
    process.exit(130);
  });
}

try {
  await main();
} catch (e) {
  record('e2e harness', false, 0, e?.stack || e);
} finally {
  await cleanup();
  if (process.env.E2E_KEEP && server) {
    console.log(`E2E_KEEP: code-server still up at ${server.url(WORKSPACE)} (pgid ${server.pid}); Ctrl-C to stop`);
    await new Promise(() => {});
  }
  clearTimeout(watchdog);
  await sleep(10);
  finish();
}
