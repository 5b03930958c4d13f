#!/usr/bin/env node
// `npm run demo`: a real VS Code in the browser with Optimizer Lens and the bundled examples/ workspace.
//   scripts/setup-e2e.sh (code-server etc., cached) -> production build -> .vsix -> install into a scratch
//   extensions dir -> code-server on 127.0.0.1:$PORT (default 18080, or a free port if that one is taken)
//   -> prints the URL and stays in the foreground until Ctrl-C, then stops the server's process group.
// Options: --port N (or PORT=N), --no-build (package the existing dist/), --folder DIR (default examples/).
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  E2E_ROOT,
  REPO,
  buildProduction,
  ensureSetup,
  freePort,
  installVsix,
  log,
  packageVsix,
  serverDirs,
  startServer,
  writeUserSettings,
} from './e2e-lib.mjs';

const argv = process.argv.slice(2);
const opt = (name) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const folder = path.resolve(REPO, opt('--folder') || 'examples');

function portFree(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

let server = null;
async function stop(code) {
  if (server) {
    log(`stopping code-server (process group ${server.pid})`);
    await server.stop();
    server = null;
  }
  process.exit(code);
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
process.on('SIGHUP', () => stop(0));

try {
  log('setup (scripts/setup-e2e.sh)');
  ensureSetup();
  if (!argv.includes('--no-build')) {
    log('build (type-check + esbuild --production)');
    buildProduction();
  }
  const vsix = packageVsix(path.join(E2E_ROOT, 'optimizer-lens-demo.vsix'));
  log(`packaged ${path.relative(REPO, vsix)} (${(fs.statSync(vsix).size / 1024).toFixed(0)} KiB)`);

  const runDir = path.join(E2E_ROOT, 'run-demo');
  fs.rmSync(path.join(runDir, 'extensions'), { recursive: true, force: true }); // always the fresh build
  const dirs = serverDirs(runDir);
  writeUserSettings(dirs, { 'workbench.colorTheme': 'Default Dark Modern' });
  const ext = installVsix(dirs, vsix);
  log(`installed ${path.basename(ext)}`);

  let port = Number(opt('--port') || process.env.PORT || 18080);
  if (!(await portFree(port))) {
    const p = await freePort();
    log(`port ${port} is taken, using ${p}`);
    port = p;
  }
  server = await startServer(dirs, { port });
  const url = server.url(folder);
  console.log(
    `\nOptimizer Lens demo: open ${url}\n` +
      `(VS Code ${'1.139.1'} via code-server on 127.0.0.1:${port}; workspace ${path.relative(REPO, folder) || '.'}; ` +
      `server log ${path.relative(REPO, dirs.log)})\n` +
      'Try: open examples/adam_base/tensors/step_000120.safetensors, or run "Optimizer Lens: Analyze Folder…" ' +
      'from the command palette (F1).\nPress Ctrl-C to stop.\n',
  );
  // stay in the foreground while the server runs
  for (;;) {
    await new Promise((r) => setTimeout(r, 2000));
    try {
      process.kill(-server.pid, 0);
    } catch {
      log('code-server exited');
      server = null;
      process.exit(1);
    }
  }
} catch (e) {
  console.error(`demo failed: ${e.message}`);
  await stop(1);
}
