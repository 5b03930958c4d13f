import type { RunData } from './run/types';
import type { AnalysisResult, AnalyzedRun, AnalyzeOptions, NoLayerFigures, RunAnalysis, RunSummary } from './analysis';
import type { LayerStats } from './engine/types';
import { SERIES_FIGURES } from '../shared/series';
import { lrAtFn, lrPoints, lrScheduleOf } from './lrSchedule';
import { DEFAULT_THRESHOLDS, type Thresholds } from './rules/types';
import { readInputs, readRuns } from './readers/discover';
import { computeRunFigures } from './engine/runFigures';
import { evaluateRunRules } from './rules/runRules';
import { VERSION } from './version';

// The pipeline, one direction: files ──readers──▶ RunData ──engine──▶ figures ──rules──▶ findings,
// assembled into what the CLI prints (`--json`) and the dashboard shows (analysis.ts).

/** Analyze files and folders: read them (streamed), merge, compute, evaluate rules. */
export async function analyzePaths(paths: string[], options: AnalyzeOptions = {}): Promise<RunAnalysis> {
  const data = await readInputs(paths, options);
  return analyzeRunData(data, options);
}

/**
 * Analyze files and folders as runs: the files of each run merged, separate runs (two TensorBoard runs,
 * Lightning version_N/ folders, HF runs/<date>_<host>/) analyzed apart, in folder-name order.
 */
export async function analyzeRuns(paths: string[], options: AnalyzeOptions = {}): Promise<AnalyzedRun[]> {
  const runs = await readRuns(paths, options);
  const out: AnalyzedRun[] = [];
  for (const r of runs) {
    options.signal?.throwIfAborted();
    out.push({ label: r.label, dir: r.dir, analysis: await analyzeRunData(r.data, options) });
  }
  return out;
}

/** The hint for a run whose logs have no per-layer figures. */
export const PER_LAYER_HINT =
  'log per-layer figures (param_rms, update_rms, rel_step, adam_u_rms per parameter) with the logging snippet (snippets/optimizer_lens_core.py; in VS Code: "Optimizer Lens: Insert Logging Snippet"), or analyze checkpoints that hold the optimizer state';

function noLayerFigures(data: RunData, layers: LayerStats[], hasSeries: boolean): NoLayerFigures | undefined {
  if (hasSeries || layers.some((l) => SERIES_FIGURES.some((f) => l[f] !== null && l[f] !== undefined))) return undefined;
  const globals = new Set<string>();
  for (const k of data.scalars.globalKeys) globals.add(k);
  const read = (data.seen ?? []).flatMap((s) => s.read.slice(0, 12));
  return { globals: [...globals], read: [...new Set(read)], hint: PER_LAYER_HINT };
}

/** Analyze run data already read (e.g. a followed log after its appended bytes were merged in). */
export async function analyzeRunData(data: RunData, options: AnalyzeOptions = {}): Promise<RunAnalysis> {
  const figures = await computeRunFigures(data, options);
  const thresholds: Thresholds = { ...DEFAULT_THRESHOLDS, ...(options.thresholds ?? {}) };
  const { hyper, step, steps, layers, series, distributions, nonFinite, anyParamScale } = figures;
  // The whole-model values as one object per step: what rules and surfaces read (RunAnalysis.globals).
  const globals = data.scalars.globalObservations();
  const lr = lrPoints(globals, figures.lrByStep);
  const lrSchedule = lrScheduleOf(lr);
  const findings = evaluateRunRules({
    step,
    layers,
    series,
    thresholds,
    optimizer: hyper.type,
    lr: hyper.lr,
    lrSchedule,
    lrAt: lrAtFn(lr),
    anyParamScale,
    eps: hyper.eps,
    nonFinite,
    globals,
    ...(data.frozenLayers?.length ? { frozenLayers: new Set(data.frozenLayers) } : {}),
  });
  const summary: RunSummary = {
    steps: steps.length ? { first: steps[0], last: steps[steps.length - 1], count: steps.length } : null,
    lrSchedule,
    lastFullStep: figures.lastFullStep,
  };
  const seriesInputs = (data.seen ?? []).filter((s) => s.kind === undefined && (s.read.length > 0 || s.xAxis));
  if (seriesInputs.length && seriesInputs.every((s) => s.xAxis === 'epoch')) summary.xAxis = 'epoch';
  const none = noLayerFigures(
    data,
    layers,
    series.some((s) => Object.values(s.figures).some((values) => values.some((v) => !Number.isNaN(v)))),
  );
  if (none) summary.noLayerFigures = none;
  const result: AnalysisResult = {
    tool: 'optimizer-lens',
    version: VERSION,
    inputs: data.inputs,
    optimizer: {
      type: hyper.type,
      lr: hyper.lr,
      betas: hyper.betas,
      eps: hyper.eps,
      weightDecay: hyper.weightDecay,
      source: hyper.source,
      ...(hyper.typeAssumedFrom ? { typeAssumedFrom: hyper.typeAssumedFrom } : {}),
      ...(data.paramGroups?.length ? { paramGroups: data.paramGroups } : {}),
    },
    step,
    steps,
    layers,
    findings,
    issues: data.issues,
    ...(data.seen?.length ? { seen: data.seen } : {}),
    ...(data.skipped?.length ? { skipped: data.skipped } : {}),
  };
  return { result, summary, series, globals, distributions, thresholds };
}
