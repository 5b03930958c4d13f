import type { RunData } from './run/types';
import type { AnalysisResult, AnalyzeOptions, RunAnalysis, RunSummary } from './analysis';
import { lrAtFn, lrPoints, lrScheduleOf } from './lrSchedule';
import { DEFAULT_THRESHOLDS, type Thresholds } from './rules/types';
import { readInputs } from './readers/discover';
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

/** Analyze run data already read (e.g. a followed log after its appended bytes were merged in). */
export async function analyzeRunData(data: RunData, options: AnalyzeOptions = {}): Promise<RunAnalysis> {
  const figures = await computeRunFigures(data, options);
  const thresholds: Thresholds = { ...DEFAULT_THRESHOLDS, ...(options.thresholds ?? {}) };
  const { hyper, step, steps, layers, series, distributions, nonFinite, anyParamScale } = figures;
  const lr = lrPoints(data.globals, figures.lrByStep);
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
    globals: data.globals,
    ...(data.frozenLayers?.length ? { frozenLayers: new Set(data.frozenLayers) } : {}),
  });
  const summary: RunSummary = {
    steps: steps.length ? { first: steps[0], last: steps[steps.length - 1], count: steps.length } : null,
    lrSchedule,
    lastFullStep: figures.lastFullStep,
  };
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
  };
  return { result, summary, series, globals: data.globals, distributions, thresholds };
}
