// The analysis process as the extension ships it (src/extension/analysis/process.ts bundled by esbuild into one
// CommonJS file), written into `dir`: what the analysis-process tests and the live-tail bench spawn.
import { join, resolve } from 'node:path';

/** Bundle the analysis process into `dir`/analysis.js; returns its path. */
export async function buildAnalysisProcess(dir: string): Promise<string> {
  const esbuild = await import('esbuild');
  const modulePath = join(dir, 'analysis.js');
  await esbuild.build({
    entryPoints: [resolve(__dirname, '..', '..', 'src', 'extension', 'analysis', 'process.ts')],
    outfile: modulePath,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
    logLevel: 'warning',
  });
  return modulePath;
}
