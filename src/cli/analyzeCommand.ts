import { analyzeRuns } from '../core/pipeline';
import { AnalysisError } from '../core/errors';
import { formatNumber, formatPercent, formatStep } from '../shared/format';
import { formatLocated, ReaderError } from '../core/errors';
import type { AnalysisResult, AnalyzedRun, AnalyzeOptions, RunSummary } from '../core/analysis';
import type { Finding, Thresholds } from '../core/rules/types';
import type { LayerStats } from '../core/engine/types';
import { isMuonScaling, isOptimizerKind, lrMeaning, MUON_SCALINGS, OPTIMIZER_KINDS } from '../shared/optimizers';

// `optimizer-lens analyze PATH... [--json] [--step N] [--lr X] [--optimizer KIND] [--muon-scaling S]
//  [--betas B1,B2] [--eps E] [--weight-decay W] [--fail-on error|warning]
//  [--rel-step-high X] [--rel-step-low X] [--eps-dominated X] [--scale-spread X]`
// Exit 0 on success, 1 when --fail-on trips, 2 on unreadable input or bad usage.
// Separate runs in the inputs are reported apart: one block per run (text), a `runs` array (--json);
// one run keeps the single-run shape.

export interface CliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

export class UsageError extends Error {}

export const ANALYZE_USAGE = `Usage: optimizer-lens analyze PATH... [options]

Reads logs (JSONL, CSV, W&B exports, trainer_state.json), tensor snapshots (.safetensors, .npy, .npz),
PyTorch/HF/Lightning checkpoints and TensorBoard event files, or run folders holding them.

Options:
  --json                 print one JSON object (the contract in the README)
  --step N               report step N (default: the last step where every layer has figures)
  --lr X                 learning rate (overrides or supplies what the input lacks)
  --optimizer NAME       ${OPTIMIZER_KINDS.join(' | ')}
                         (where the input does not say, or says it ambiguously)
  --muon-scaling S       Muon's shape scaling: original = √max(1, rows/cols) (Keller Jordan, torch's default),
                         match_rms_adamw = 0.2·√max(rows, cols) (Moonlight); default: as the checkpoint states,
                         else original, said in the output
  --betas B1,B2          Adam's betas, e.g. 0.9,0.999
  --eps E                Adam's epsilon
  --weight-decay W       weight decay
  --fail-on LEVEL        exit 1 when a finding of this severity or worse exists (error | warning)
  --rel-step-high X      relative-step-high threshold (default 1e-2)
  --rel-step-low X       relative-step-low threshold (default 1e-5)
  --eps-dominated X      eps-dominated threshold on the fraction of elements (default 0.5)
  --scale-spread X       scale-spread threshold on the ratio of layer scales (default 100)
`;

function num(flag: string, v: string | undefined): number {
  if (v === undefined) throw new UsageError(`${flag} needs a value`);
  const x = Number(v);
  if (!Number.isFinite(x)) throw new UsageError(`${flag}: '${v}' is not a number`);
  return x;
}

export interface ParsedAnalyzeArgs {
  paths: string[];
  json: boolean;
  failOn: 'error' | 'warning' | null;
  options: AnalyzeOptions;
}

export function parseAnalyzeArgs(argv: string[]): ParsedAnalyzeArgs {
  const paths: string[] = [];
  const options: AnalyzeOptions = {};
  const thresholds: Partial<Thresholds> = {};
  let json = false;
  let failOn: 'error' | 'warning' | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] =
      a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = (): string | undefined => (inline !== undefined ? inline : argv[++i]);
    switch (flag) {
      case '--json':
        json = true;
        break;
      case '--step': {
        const s = num(flag, value());
        if (!Number.isInteger(s) || s < 0) throw new UsageError(`--step: '${s}' is not a step number`);
        options.step = s;
        break;
      }
      case '--lr':
        options.lr = num(flag, value());
        break;
      case '--optimizer': {
        const o = value()?.toLowerCase();
        if (!isOptimizerKind(o)) throw new UsageError(`--optimizer must be one of ${OPTIMIZER_KINDS.join(', ')}`);
        options.optimizer = o;
        break;
      }
      case '--muon-scaling': {
        const v = value();
        if (!isMuonScaling(v)) throw new UsageError(`--muon-scaling must be ${MUON_SCALINGS.join(' or ')}`);
        options.muonScaling = v;
        break;
      }
      case '--betas': {
        const v = value();
        const parts = (v ?? '').split(',').map((x) => Number(x.trim()));
        if (parts.length !== 2 || parts.some((x) => !Number.isFinite(x) || x < 0 || x >= 1))
          throw new UsageError(`--betas needs two numbers in [0, 1) like 0.9,0.999`);
        options.betas = [parts[0], parts[1]];
        break;
      }
      case '--eps':
        options.eps = num(flag, value());
        break;
      case '--weight-decay':
        options.weightDecay = num(flag, value());
        break;
      case '--fail-on': {
        const v = value();
        if (v !== 'error' && v !== 'warning') throw new UsageError(`--fail-on must be error or warning`);
        failOn = v;
        break;
      }
      case '--rel-step-high':
        thresholds.relativeStepHigh = num(flag, value());
        break;
      case '--rel-step-low':
        thresholds.relativeStepLow = num(flag, value());
        break;
      case '--eps-dominated':
        thresholds.epsDominatedFraction = num(flag, value());
        break;
      case '--scale-spread':
        thresholds.scaleSpread = num(flag, value());
        break;
      default:
        if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown option ${a}`);
        paths.push(a);
    }
  }
  if (paths.length === 0) throw new UsageError('analyze needs at least one file or folder');
  if (Object.keys(thresholds).length) options.thresholds = thresholds;
  return { paths, json, failOn, options };
}

const COLUMNS: [string, (l: LayerStats) => string][] = [
  ['layer', (l) => l.name],
  ['shape', (l) => (l.shape ? `[${l.shape.join(',')}]` : '—')],
  ['param RMS', (l) => formatNumber(l.paramRms)],
  ['grad RMS', (l) => formatNumber(l.gradRms)],
  ['RMS(u)', (l) => formatNumber(l.adamUpdateRms)],
  ['RMS(d)', (l) => formatNumber(l.directionRms ?? null)],
  ['update RMS', (l) => formatNumber(l.updateRms)],
  ['rel. step', (l) => formatNumber(l.relStep)],
  ['predicted', (l) => formatNumber(l.relStepPredicted)],
  ['ε-dominated', (l) => formatPercent(l.epsDominatedFraction)],
];

export function renderTable(result: AnalysisResult, summary?: RunSummary): string {
  const lines: string[] = [];
  const o = result.optimizer;
  lines.push(`Optimizer Lens ${result.version} — ${result.inputs.length} input${result.inputs.length === 1 ? '' : 's'}`);
  for (const i of result.inputs.slice(0, 12)) {
    lines.push(`  ${i.format.padEnd(12)} ${i.path}`);
    const note = result.seen?.find((s) => s.path === i.path && s.note)?.note;
    if (note) lines.push(`  ${''.padEnd(12)} ↳ ${note}`);
  }
  if (result.inputs.length > 12) lines.push(`  … and ${result.inputs.length - 12} more`);
  const skipped = result.skipped ?? [];
  if (skipped.length) {
    lines.push(`Not read (${skipped.length}${skipped.length >= 100 ? '+' : ''}):`);
    for (const sk of skipped.slice(0, 8)) lines.push(`  ${sk.path}: ${sk.reason}`);
    if (skipped.length > 8) lines.push(`  … and ${skipped.length - 8} more`);
  }
  const groups = o.paramGroups ?? [];
  const perGroup = (pick: (g: (typeof groups)[number]) => number | null): string =>
    groups.map((g) => `${formatNumber(pick(g))} (${g.layers.length} layer${g.layers.length === 1 ? '' : 's'})`).join(', ');
  const wd = o.weightDecay === null && groups.length > 1 ? `per group ${perGroup((g) => g.weightDecay)}` : formatNumber(o.weightDecay);
  const lr = o.lr === null && groups.length > 1 ? `per group ${perGroup((g) => g.lr)}` : formatNumber(o.lr);
  lines.push(
    `Optimizer: ${o.type ?? 'unknown'}${o.typeAssumedFrom ? ` (assumed from ${o.typeAssumedFrom})` : ''}  lr ${lr}  betas ${o.betas ? o.betas.join(', ') : '—'}  eps ${formatNumber(o.eps)}  weight decay ${wd}  (from ${o.source})`,
  );
  const sched = summary?.lrSchedule;
  const byEpoch = summary?.xAxis === 'epoch';
  const unit = byEpoch ? 'epoch' : 'step';
  if (byEpoch) lines.push('x-axis: epoch (the logs have no step column; "step" below means epoch)');
  if (summary?.steps && summary.steps.count > 1) {
    const lrText = !sched
      ? ''
      : sched.points > 1 && (sched.peak !== sched.first || sched.peak !== sched.last)
        ? `; lr ${formatNumber(sched.first)} at ${unit} ${formatStep(sched.firstStep)}, peak ${formatNumber(sched.peak)} at ${unit} ${formatStep(sched.peakStep)}, ${formatNumber(sched.last)} at ${unit} ${formatStep(sched.lastStep)}`
        : `; lr ${formatNumber(sched.peak)} throughout`;
    lines.push(
      `Run: ${unit}s ${formatStep(summary.steps.first)}–${formatStep(summary.steps.last)} (${formatStep(summary.steps.count)} with figures)${lrText}`,
    );
  }
  if (result.step === null && result.layers.length) {
    lines.push('Step unknown: the input states no optimizer step (--step N places it)');
  } else {
    lines.push(
      `Step ${result.step ?? '—'} of ${result.steps.length} step${result.steps.length === 1 ? '' : 's'} with figures${result.steps.length ? ` (${result.steps[0]}–${result.steps[result.steps.length - 1]})` : ''}`,
    );
  }
  lines.push('');
  const rows = result.layers.map((l) => COLUMNS.map(([, f]) => f(l)));
  const header = COLUMNS.map(([h]) => h);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]): string => cells.map((s, c) => (c <= 1 ? s.padEnd(widths[c]) : s.padStart(widths[c]))).join('  ');
  lines.push(line(header));
  lines.push(widths.map((w) => '─'.repeat(w)).join('  '));
  for (const r of rows) lines.push(line(r));
  const none = summary?.noLayerFigures;
  if (none) {
    const got = none.globals.length ? none.globals.join(', ') : 'nothing the analysis uses';
    const from = none.read.length ? ` (from ${none.read.slice(0, 10).join(', ')}${none.read.length > 10 ? ', …' : ''})` : '';
    lines.push(`No per-layer figures in these inputs. Read: ${got}${from}.`);
    lines.push(`To get them: ${none.hint}.`);
  } else if (!rows.length) lines.push('(no per-layer figures at this step)');
  lines.push('');
  lines.push('rel. step = RMS(param_after − param_before) / RMS(param_before); predicted = RMS(lr·d [+ lr·wd·p]) / RMS(param);');
  lines.push('u = m̂/(√v̂+ε) as torch computes it; ε-dominated = share of elements with √v̂ < ε (v = 0 counted apart);');
  lines.push('d = the optimizer’s normalized direction (update ÷ lr, decoupled decay excluded; Adam: d = u).');
  lines.push('');
  const rules = directionRules(result.layers);
  if (rules.length) {
    lines.push('Normalized direction d, by the update rule applied:');
    for (const r of rules) {
      lines.push(
        `  ${r.rule} — ${r.layers.length > 4 ? `${r.layers.slice(0, 4).join(', ')} and ${r.layers.length - 4} more` : r.layers.join(', ')}`,
      );
      if (r.meaning) lines.push(`    ${r.meaning}`);
    }
    lines.push('');
  }
  if (result.findings.length) {
    lines.push(`Findings (${result.findings.length}):`);
    for (const f of result.findings) lines.push(`  ${sev(f)} ${f.rule}${findingWhere(f)}: ${f.message}`);
  } else {
    lines.push('Findings: none.');
  }
  if (result.issues.length) {
    lines.push('');
    lines.push(`Reading problems (${result.issues.length}):`);
    for (const i of result.issues.slice(0, 30)) {
      lines.push(`  ${i.severity}: ${formatLocated(i.path, i.message, i)}`);
    }
    if (result.issues.length > 30) lines.push(`  … and ${result.issues.length - 30} more`);
  }
  return lines.join('\n') + '\n';
}

/**
 * The update rule each layer's d was computed by (its provenance: the rule and, for Muon, the shape scaling and
 * whether it was stated, set or assumed), with the layers under it and what lr means there.
 */
function directionRules(layers: LayerStats[]): { rule: string; layers: string[]; meaning: string | null }[] {
  const out = new Map<string, { rule: string; layers: string[]; meaning: string | null }>();
  for (const l of layers) {
    const from = l.provenance?.directionRms;
    if (!from || l.directionRms === null || l.directionRms === undefined) continue;
    const rule = from.replace(/^tensors \((.*)\)$/, '$1');
    const entry = out.get(rule) ?? { rule, layers: [], meaning: l.optimizer ? lrMeaning(l.optimizer) : null };
    entry.layers.push(l.name);
    out.set(rule, entry);
  }
  return [...out.values()];
}

/** ` [layer]`, ` [3 layers]` for a grouped finding, `` for a run-wide one. */
function findingWhere(f: Finding): string {
  if (f.layers && f.layers.length > 1) return ` [${f.layers.length} layers]`;
  return f.layer ? ` [${f.layer}]` : '';
}

function sev(f: Finding): string {
  return f.severity === 'error' ? '✖ error  ' : f.severity === 'warning' ? '▲ warning' : 'ℹ info   ';
}

export async function runAnalyze(argv: string[], io: CliIo): Promise<number> {
  let parsed: ParsedAnalyzeArgs;
  try {
    parsed = parseAnalyzeArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`optimizer-lens analyze: ${e.message}\n\n${ANALYZE_USAGE}`);
      return 2;
    }
    throw e;
  }
  let runs: AnalyzedRun[];
  try {
    runs = await analyzeRuns(parsed.paths, parsed.options);
  } catch (e) {
    if (e instanceof ReaderError || e instanceof AnalysisError) {
      io.stderr(`optimizer-lens: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const json = (r: AnalyzedRun) => ({ ...r.analysis.result, summary: r.analysis.summary ?? null });
  if (runs.length === 1) {
    const a = runs[0]!.analysis;
    io.stdout(parsed.json ? JSON.stringify(json(runs[0]!), jsonReplacer, 1) + '\n' : renderTable(a.result, a.summary));
  } else if (parsed.json) {
    const first = runs[0]!.analysis.result;
    const out = { tool: first.tool, version: first.version, runs: runs.map((r) => ({ run: r.label, dir: r.dir, ...json(r) })) };
    io.stdout(JSON.stringify(out, jsonReplacer, 1) + '\n');
  } else {
    const blocks = runs.map(
      (r, i) => `══ Run ${i + 1} of ${runs.length}: ${r.label} ══\n${renderTable(r.analysis.result, r.analysis.summary)}`,
    );
    io.stdout(
      `${runs.length} separate runs, each analyzed on its own:\n${runs.map((r, i) => `  ${i + 1}. ${r.label}`).join('\n')}\n\n${blocks.join('\n')}`,
    );
  }
  const results = runs.map((r) => r.analysis.result);
  if (results.some((result) => result.issues.some((i) => i.severity === 'error'))) {
    if (!parsed.json)
      io.stderr(`optimizer-lens: some input could not be read completely (see "Reading problems"); what was readable is shown.\n`);
    return 2;
  }
  if (parsed.failOn) {
    const levels = parsed.failOn === 'error' ? ['error'] : ['error', 'warning'];
    if (results.some((result) => result.findings.some((f) => levels.includes(f.severity)))) return 1;
  }
  return 0;
}

/** JSON has no NaN/Infinity: write them as null (the figure is unknown as a finite number). */
function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? null : value;
}
