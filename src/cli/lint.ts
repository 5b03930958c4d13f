// `optimizer-lens lint FILE... [--json] [--fail-on error|warning]`: learning rates, scales and findings of
// training configs. Exit codes: 0 ok, 1 --fail-on tripped, 2 unreadable input or bad usage.
import { statSync } from 'node:fs';
import { walkFiles } from '../core/io/walk';
import {
  configLanguageOf,
  notAConfigByName,
  lintConfig,
  scanConfigFile,
  type ConfigFinding,
  type ConfigScan,
  type LinkedScale,
} from '../core/config';
import { ReaderError } from '../core/errors';
import { formatNumber } from '../shared/format';
import type { Severity, Thresholds } from '../core/rules/types';

export interface LintIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

export const LINT_USAGE = `Usage: optimizer-lens lint FILE|DIR... [--json] [--fail-on error|warning]
                           [--link RUN] [--relative-step-high X] [--relative-step-low X]

Reads training configs (YAML, JSON/JSONC, TOML, Python, shell launch scripts) without executing them and
lists the learning rates, the stated parameter scales, and findings:
  lr-without-scale     (warning) an lr with no parameter scale stated or linked
  relative-step-high   (warning) lr/scale above --relative-step-high (default 1e-2)
  relative-step-low    (warning) lr/scale below --relative-step-low (default 1e-5)
  yaml-float-string    (warning; info for Hydra/OmegaConf/LightningCLI files) 1e-4-style YAML values that
                       PyYAML's safe_load returns as strings
  eps-underflow-fp16   (warning) eps below float16's smallest subnormal in true half precision
  not-adam             (info) SGD-like optimizer: lr is not a step size
State a scale with a comment: # optimizer-lens: param-scale=0.02 (// in JSONC; strict JSON: a sibling
optimizer-lens.json {"paramScale": 0.02}). --link RUN takes per-layer scales from a log or checkpoint.
Directories are searched (3 levels) for .yaml .yml .json .jsonc .toml .py .sh files. Training logs are
skipped: trainer_state.json, JSON/YAML with a top-level log_history, and arrays of per-step records
({"step": …, "learning_rate": …}) are not read as learning-rate settings.
Exit codes: 0 ok, 1 --fail-on tripped, 2 unreadable input or bad usage.
`;

interface JsonPosition {
  key: string;
  value: number;
  line: number;
  column: number;
}

export interface LintFileJson {
  path: string;
  learningRates: JsonPosition[];
  scales: JsonPosition[];
  findings: { rule: string; severity: Severity; line: number; column: number; message: string }[];
  /** Present when the file was not read as a config (a training log): the reason. */
  skipped?: string;
}

/** The `--json` shape of one file (1-based lines and columns; sibling scales keyed `file:key` with their position there). */
export function lintFileJson(path: string, scan: ConfigScan, findings: ConfigFinding[]): LintFileJson {
  return {
    path,
    learningRates: scan.learningRates.map((l) => ({ key: l.key, value: l.value, line: l.range.line, column: l.range.column })),
    scales: scan.scales.map((s) => ({
      key: s.path ? `${s.path.split(/[\\/]/).pop()}:${s.key}` : s.key,
      value: s.value,
      line: s.range.line,
      column: s.range.column,
    })),
    findings: findings.map((f) => ({ rule: f.rule, severity: f.severity, line: f.range.line, column: f.range.column, message: f.message })),
    ...(scan.skipped ? { skipped: scan.skipped } : {}),
  };
}

const SKIP_DIRS = new Set(['node_modules', '.git', '__pycache__', '.venv', 'venv', 'dist', 'out']);

function expand(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  // trainer_state.json: a log, not a config
  return walkFiles(path, { maxDepth: 2, skipDirs: SKIP_DIRS, include: (p) => !!configLanguageOf(p) && !notAConfigByName(p) }).files;
}

function parsePositive(flag: string, v: string | undefined): number {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n) || n <= 0) throw new Error(`${flag} needs a positive number`);
  return n;
}

async function linkedScale(run: string): Promise<LinkedScale> {
  const { analyzePaths } = await import('../core/pipeline');
  const a = await analyzePaths([run]);
  return { path: run, step: a.result.step, layers: a.result.layers.map((l) => ({ name: l.name, paramRms: l.paramRms })) };
}

export async function runLint(argv: string[], io: LintIo): Promise<number> {
  const files: string[] = [];
  let json = false;
  let failOn: 'error' | 'warning' | null = null;
  let link: string | null = null;
  const thresholds: Partial<Thresholds> = {};
  try {
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i];
      if (a === '--help' || a === '-h') {
        io.stdout(LINT_USAGE);
        return 0;
      } else if (a === '--json') json = true;
      else if (a === '--fail-on' || a.startsWith('--fail-on=')) {
        const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
        if (v !== 'error' && v !== 'warning') throw new Error(`--fail-on must be 'error' or 'warning', got '${v ?? ''}'`);
        failOn = v;
      } else if (a === '--link') {
        link = argv[++i] ?? null;
        if (!link) throw new Error('--link needs a log or checkpoint path');
      } else if (a === '--relative-step-high') thresholds.relativeStepHigh = parsePositive(a, argv[++i]);
      else if (a === '--relative-step-low') thresholds.relativeStepLow = parsePositive(a, argv[++i]);
      else if (a.startsWith('-') && a !== '-') throw new Error(`unknown option '${a}'`);
      else files.push(a);
    }
    if (!files.length) throw new Error('no FILE given');
  } catch (e) {
    io.stderr(`optimizer-lens lint: ${(e as Error).message}\n\n${LINT_USAGE}`);
    return 2;
  }

  let exit = 0;
  let linked: LinkedScale | null = null;
  if (link) {
    try {
      linked = await linkedScale(link);
    } catch (e) {
      io.stderr(`optimizer-lens lint: cannot analyze --link ${link}: ${(e as Error).message}\n`);
      return 2;
    }
  }

  const results: LintFileJson[] = [];
  const textOut: string[] = [];
  const counts = { error: 0, warning: 0, info: 0 };
  for (const arg of files) {
    let paths: string[];
    try {
      paths = expand(arg);
    } catch (e) {
      io.stderr(`optimizer-lens lint: ${arg}: cannot read: ${(e as Error).message}\n`);
      exit = 2;
      continue;
    }
    for (const p of paths) {
      if (!configLanguageOf(p)) {
        io.stderr(`optimizer-lens lint: ${p}: not a config format this command reads (.yaml .yml .json .jsonc .toml .py .sh)\n`);
        exit = 2;
        continue;
      }
      let scan: ConfigScan;
      try {
        scan = scanConfigFile(p);
      } catch (e) {
        io.stderr(`optimizer-lens lint: ${e instanceof ReaderError ? e.message : `${p}: ${(e as Error).message}`}\n`);
        exit = 2;
        continue;
      }
      for (const iss of scan.issues) io.stderr(`${p}:${iss.line}:${iss.column}: ${iss.severity}: ${iss.message}\n`);
      const findings = lintConfig(scan, { thresholds, linked });
      for (const f of findings) counts[f.severity]++;
      const fileJson = lintFileJson(p, scan, findings);
      results.push(fileJson);
      if (!json && scan.skipped) {
        textOut.push(p, `  skipped: ${scan.skipped}`, '');
      } else if (!json) {
        textOut.push(p);
        const lrText = fileJson.learningRates.map((l) => `${l.key} = ${formatNumber(l.value)} (${l.line}:${l.column})`).join(', ');
        textOut.push(`  learning rates: ${lrText || 'none'}`);
        const scText = fileJson.scales.map((s) => `${s.key} = ${formatNumber(s.value)} (${s.line}:${s.column})`).join(', ');
        textOut.push(`  scales: ${scText || (linked ? `linked ${link}` : 'none stated')}`);
        for (const f of fileJson.findings)
          textOut.push(`  ${`${f.line}:${f.column}`.padEnd(7)} ${f.severity.padEnd(7)} ${f.rule.padEnd(19)} ${f.message}`);
        textOut.push('');
      }
    }
  }
  if (json) io.stdout(`${JSON.stringify({ files: results }, null, 2)}\n`);
  else {
    textOut.push(
      `${results.length} file${results.length === 1 ? '' : 's'}: ${counts.error} errors, ${counts.warning} warnings, ${counts.info} infos`,
    );
    io.stdout(`${textOut.join('\n')}\n`);
  }
  if (exit === 0 && failOn) {
    const tripped = failOn === 'error' ? counts.error > 0 : counts.error + counts.warning > 0;
    if (tripped) exit = 1;
  }
  return exit;
}
