import type { GlobalObservation, ParamGroupHyper, ReadIssue, RunData } from './run/types';
import type { LayerStats, UpdateDistribution } from './engine/types';
import { DEFAULT_THRESHOLDS, type Finding, type Thresholds } from './rules/types';
import type { LayerSeries } from '../shared/series';
import { readInputs } from './readers/discover';
import { computeRunFigures } from './engine/runFigures';
import { evaluateRunRules } from './rules/runRules';
import { VERSION } from './version';

// The pipeline, one direction: files ──readers──▶ RunData ──engine──▶ figures ──rules──▶ findings,
// assembled into what the CLI prints (`--json`) and the dashboard shows.

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
  const findings = evaluateRunRules({ step, layers, thresholds, lr: hyper.lr, anyParamScale, eps: hyper.eps, nonFinite });
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
      ...(data.paramGroups?.length ? { paramGroups: data.paramGroups } : {}),
    },
    step,
    steps,
    layers,
    findings,
    issues: data.issues,
  };
  return { result, series, globals: data.globals, distributions, thresholds };
}

/** The `--json` contract of `optimizer-lens analyze` (README "CLI"). */
export interface AnalysisResult {
  tool: 'optimizer-lens';
  version: string;
  inputs: { path: string; format: string }[];
  optimizer: {
    type: string | null;
    lr: number | null;
    betas: [number, number] | null;
    eps: number | null;
    weightDecay: number | null;
    source: string;
    /** Per-group values where the input states parameter groups (e.g. AdamW decay on some groups only). */
    paramGroups?: ParamGroupHyper[];
  };
  step: number | null;
  steps: number[];
  layers: LayerStats[];
  findings: Finding[];
  /** Reader problems that did not stop the analysis. */
  issues: ReadIssue[];
}

export interface AnalyzeOptions {
  /** Report this step (default: the last step with figures). */
  step?: number;
  lr?: number;
  optimizer?: 'adam' | 'adamw' | 'sgd';
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  thresholds?: Partial<Thresholds>;
  signal?: AbortSignal;
  onProgress?: (fraction: number, message: string) => void;
}

/** Everything the dashboard shows: the CLI JSON contract plus series over steps. */
export interface RunAnalysis {
  result: AnalysisResult;
  series: LayerSeries[];
  globals: GlobalObservation[];
  distributions: UpdateDistribution[];
  thresholds: Thresholds;
}
