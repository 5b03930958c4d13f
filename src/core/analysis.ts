import type { GlobalObservation, ParamGroupHyper, ReadIssue } from './run/types';
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
