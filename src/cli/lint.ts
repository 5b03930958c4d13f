// `optimizer-lens lint FILE... [--json] [--fail-on error|warning]`: learning rates, scales and findings of
// training configs. Exit codes: 0 ok, 1 --fail-on tripped, 2 unreadable input or bad usage.
import { statSync } from 'node:fs';
import { walkFiles } from '../core/io/walk';
import {
  CONFIG_BUDGETS,
  configLanguageOf,
  notAConfigByName,
  lintConfig,
  scanConfigFile,
  type ConfigFinding,
  type ConfigScan,
  type LinkedScale,
  type LrRole,
} from '../core/config';
import { terminalSafe } from './terminal';
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
lists the learning rates (main, per-group, warmup start, schedule floor; Python constants folded, shell
variables followed), the stated parameter scales, and findings, each in the terms of the lr's optimizer:
  lr-without-scale     (warning) an lr with no parameter scale stated or linked, where the optimizer's lr
                       is a step per weight (Adam family, Lion, Muon); info for an optimizer not known
  relative-step-high   (warning) the relative step above --relative-step-high (default 1e-2): for the Adam
                       family the whole later band (RMS(u) 0.2–0.45); info when only the step-1 bound is
  relative-step-low    (warning) the relative step below --relative-step-low (default 1e-5)
  yaml-float-string    (warning; info where the loader converts: Hydra/OmegaConf, LightningCLI, yacs,
                       axolotl) 1e-4-style YAML values that PyYAML's safe_load returns as strings
  eps-underflow-fp16   (warning) eps below float16's smallest subnormal in true half precision
  not-adam             (info) SGD-like optimizer: lr is not a step size
  lr-ignored           (warning) an lr the trainer replaces: Ultralytics' optimizer: auto ignores lr0
State a scale with a comment: # optimizer-lens: param-scale=0.02 (// in JSONC; strict JSON: a sibling
optimizer-lens.json {"paramScale": 0.02}). --link RUN takes per-layer scales from a log or checkpoint.
Directories are searched (3 levels) for .yaml .yml .json .jsonc .toml .py .sh files. Not read as configs:
trainer_state.json, tokenizer files, JSON/YAML with a top-level log_history, data files whose values are
mostly tables of records (a test's expected.json), and arrays of per-step records ({"step": …, "lr": …}).
Parse errors and budgets reached (nesting, expression size, entries per file) are issues with their line
and column, in the text and in --json. Exit codes: 0 ok, 1 --fail-on tripped, 2 unreadable input (a file
that cannot be read, or a parse error) or bad usage.
`;

interface JsonPosition {
  key: string;
  value: number;
  line: number;
  column: number;
}

interface JsonLearningRate {
  key: string;
  /** null: the file computes it from names it does not state (dependsOn). */
  value: number | null;
  role: LrRole;
  label: string;
  line: number;
  column: number;
  /** The optimizer the lr belongs to, as the file names it. */
  optimizer?: string;
  dependsOn?: string[];
  note?: string;
}

interface JsonIssue {
  severity: 'error' | 'warning';
  /** null for a problem with the whole file (it cannot be read). */
  line: number | null;
  column: number | null;
  message: string;
}

export interface LintFileJson {
  path: string;
  learningRates: JsonLearningRate[];
  scales: JsonPosition[];
  findings: { rule: string; severity: Severity; line: number; column: number; message: string }[];
  /** Parse errors and budgets reached (the scan kept what it could read). */
  issues: JsonIssue[];
  /** Present when the file was not read as a config (a training log, a data file): the reason. */
  skipped?: string;
}

/** The `--json` shape of one file (1-based lines and columns; sibling scales keyed `file:key` with their position there). */
export function lintFileJson(path: string, scan: ConfigScan, findings: ConfigFinding[]): LintFileJson {
  const max = CONFIG_BUDGETS.maxFindings;
  const issues: JsonIssue[] = scan.issues.map((i) => ({ severity: i.severity, line: i.line, column: i.column, message: i.message }));
  if (findings.length > max) {
    const at = findings[max].range;
    issues.push({
      severity: 'warning',
      line: at.line,
      column: at.column,
      message: `… and ${findings.length - max} more findings (the first ${max} are listed)`,
    });
  }
  const lrs: JsonLearningRate[] = scan.learningRates.map((l) => {
    const o = l.optimizer !== undefined ? scan.optimizers[l.optimizer] : undefined;
    return {
      key: l.key,
      value: l.value,
      role: l.role,
      label: l.label,
      line: l.range.line,
      column: l.range.column,
      ...(o ? { optimizer: o.name } : {}),
      ...(l.note ? { note: l.note } : {}),
    };
  });
  for (const u of scan.unresolved)
    lrs.push({ key: u.key, value: null, role: u.role, label: u.label, line: u.range.line, column: u.range.column, dependsOn: u.dependsOn });
  lrs.sort((a, b) => a.line - b.line || a.column - b.column);
  return {
    path,
    learningRates: lrs,
    scales: scan.scales.map((s) => ({
      key: s.path ? `${s.path.split(/[\\/]/).pop()}:${s.key}` : s.key,
      value: s.value,
      line: s.range.line,
      column: s.range.column,
    })),
    findings: findings
      .slice(0, max)
      .map((f) => ({ rule: f.rule, severity: f.severity, line: f.range.line, column: f.range.column, message: f.message })),
    issues,
    ...(scan.skipped ? { skipped: scan.skipped } : {}),
  };
}

/** A file that could not be read at all, in the same shape (its error as an issue). */
function unreadableJson(path: string, err: unknown): LintFileJson {
  const e = err instanceof ReaderError ? err : null;
  return {
    path,
    learningRates: [],
    scales: [],
    findings: [],
    issues: [{ severity: 'error', line: e?.line ?? null, column: null, message: e ? e.reason : (err as Error).message }],
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
      io.stderr(`optimizer-lens lint: ${terminalSafe(arg)}: cannot read: ${terminalSafe((e as Error).message)}\n`);
      results.push(unreadableJson(arg, e));
      exit = 2;
      continue;
    }
    for (const p of paths) {
      if (!configLanguageOf(p)) {
        io.stderr(
          `optimizer-lens lint: ${terminalSafe(p)}: not a config format this command reads (.yaml .yml .json .jsonc .toml .py .sh)\n`,
        );
        exit = 2;
        continue;
      }
      let scan: ConfigScan;
      try {
        scan = scanConfigFile(p);
      } catch (e) {
        io.stderr(`optimizer-lens lint: ${terminalSafe(e instanceof ReaderError ? e.message : `${p}: ${(e as Error).message}`)}\n`);
        results.push(unreadableJson(p, e));
        exit = 2;
        continue;
      }
      // A parse error means part of the file was not read: unreadable input (exit 2), as for analyze.
      if (scan.issues.some((i) => i.severity === 'error')) exit = 2;
      const findings = lintConfig(scan, { thresholds, linked });
      const fileJson = lintFileJson(p, scan, findings);
      for (const f of fileJson.findings) counts[f.severity]++;
      results.push(fileJson);
      if (json) continue;
      const safe = terminalSafe;
      textOut.push(safe(p));
      for (const iss of fileJson.issues)
        textOut.push(
          `  ${iss.line !== null ? `${iss.line}:${iss.column}` : ''}`.padEnd(9) +
            ` ${iss.severity.padEnd(7)} ${'(parse)'.padEnd(19)} ${safe(iss.message)}`,
        );
      if (scan.skipped) {
        textOut.push(`  skipped: ${safe(scan.skipped)}`, '');
        continue;
      }
      const lrText = fileJson.learningRates
        .map(
          (l) =>
            `${safe(l.key)} = ${l.value === null ? `? (depends on ${safe((l.dependsOn ?? []).join(', '))})` : formatNumber(l.value)}${l.role === 'main' ? '' : ` [${safe(l.label)}]`} (${l.line}:${l.column})`,
        )
        .join(', ');
      textOut.push(`  learning rates: ${lrText || 'none'}`);
      const scText = fileJson.scales.map((s) => `${safe(s.key)} = ${formatNumber(s.value)} (${s.line}:${s.column})`).join(', ');
      textOut.push(`  scales: ${scText || (linked ? `linked ${safe(link ?? '')}` : 'none stated')}`);
      for (const f of fileJson.findings)
        textOut.push(`  ${`${f.line}:${f.column}`.padEnd(7)} ${f.severity.padEnd(7)} ${f.rule.padEnd(19)} ${safe(f.message)}`);
      textOut.push('');
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
