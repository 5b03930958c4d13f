import type { GlobalObservation, InputSeen, ParamGroupHyper, ReadIssue, SkippedInput } from './run/types';
import type { LayerStats, UpdateDistribution } from './engine/types';
import type { Finding, Thresholds } from './rules/types';
import type { LayerSeries } from '../shared/series';
import type { MuonScaling, OptimizerKind } from '../shared/optimizers';

// What the pipeline (pipeline.ts) produces: the CLI's `--json` contract and what the dashboard shows.
// Types only: the webview and the protocol import them.

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
    /** Set when no input names the optimizer and `type` was inferred from its state: what it rests on. */
    typeAssumedFrom?: string;
    /** Per-group values where the input states parameter groups (e.g. AdamW decay on some groups only). */
    paramGroups?: ParamGroupHyper[];
  };
  step: number | null;
  steps: number[];
  layers: LayerStats[];
  findings: Finding[];
  /** Reader problems that did not stop the analysis. */
  issues: ReadIssue[];
  /** What each log input was recognised as and which tags / columns / keys gave values. */
  seen?: InputSeen[];
  /** Files in the folders that were not read, and why. */
  skipped?: SkippedInput[];
}

export interface AnalyzeOptions {
  /** Report this step (default: the last step with figures). */
  step?: number;
  lr?: number;
  optimizer?: OptimizerKind;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /**
   * Muon's shape scaling where the input does not state it (torch's `adjust_lr_fn`, Moonlight's layout); when neither
   * states it, `original` is assumed and an issue says so.
   */
  muonScaling?: MuonScaling;
  thresholds?: Partial<Thresholds>;
  signal?: AbortSignal;
  onProgress?: (fraction: number, message: string) => void;
}

/** Everything the dashboard shows: the CLI JSON contract plus series over steps. */
/** The learning rate over the run, as the inputs state it (logged lr, or per-checkpoint lr). */
export interface LrSchedule {
  peak: number;
  peakStep: number;
  first: number;
  firstStep: number;
  last: number;
  lastStep: number;
  /** Number of steps at which the lr is known. */
  points: number;
}

/** The whole run at a glance (the dashboard header, the CLI's first lines). */
export interface RunSummary {
  /** First and last step with figures, and how many. */
  steps: { first: number; last: number; count: number } | null;
  lrSchedule: LrSchedule | null;
  /** The last step where every layer that has figures anywhere has its relative step (the default report step). */
  lastFullStep: number | null;
  /** `epoch` when the logs' x-axis is the epoch (no step column): the "steps" are epochs. */
  xAxis?: 'epoch';
  /** Set when the run has no per-layer figures: what its logs gave, and what to log to get more. */
  noLayerFigures?: NoLayerFigures;
}

/** What a run without per-layer figures did give. */
export interface NoLayerFigures {
  /** Whole-model values found (normalized keys: loss, lr, gradNorm, …). */
  globals: string[];
  /** The tags / columns / keys they were read from (first few per input). */
  read: string[];
  /** What to log to get per-layer figures. */
  hint: string;
}

/** One run of several found in the inputs (separate runs are analyzed apart, never merged). */
export interface AnalyzedRun {
  /** The run's folder relative to the folder named, or the file(s) named. */
  label: string;
  /** The run's folder; null for the files named on the command line. */
  dir: string | null;
  analysis: RunAnalysis;
}

export interface RunAnalysis {
  result: AnalysisResult;
  /** The whole run at a glance; absent in analyses made before it existed (exported reports). */
  summary?: RunSummary;
  series: LayerSeries[];
  globals: GlobalObservation[];
  distributions: UpdateDistribution[];
  thresholds: Thresholds;
}
