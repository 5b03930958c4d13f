// The run model: what the readers found in one or more inputs (see ARCHITECTURE.md):
//   file ──io──▶ bytes ──reader──▶ RunData ──engine──▶ figures per layer and step ──rules──▶ findings
// A reader knows bytes, not statistics; the engine knows statistics, not formats.

import type { TensorBytes } from '../io/tensorBytes';
import type { OptimizerKind } from '../../shared/optimizers';
import { ScalarStore } from './scalars';

/**
 * What a tensor is, relative to optimizer step t (the t-th optimizer.step()).
 * - param_before: the parameter step t consumed; param_after: what it left.
 * - param: a parameter whose timing is not stated (plain `<layer>` keys, model state dicts).
 *   In a checkpoint saved after step t it is param_after of step t.
 * - grad: the gradient step t consumed.
 * - the others: optimizer state after step t, named as torch and the libraries save it (see
 *   OPTIMIZER_STATE_ROLES): Adam's exp_avg / exp_avg_sq / max_exp_avg_sq (AMSGrad), SGD's and Muon's
 *   momentum_buffer, Adamax's exp_inf, Adagrad's sum, RMSprop's square_avg / grad_avg, Adafactor's factored
 *   exp_avg_sq_row / exp_avg_sq_col (torch's row_var / col_var), bitsandbytes' state1 / state2 (8-bit codes
 *   or float32) with their per-block absmax1 / absmax2 and 256-entry quantization maps qmap1 / qmap2.
 */
export type TensorRole =
  | 'param'
  | 'param_before'
  | 'param_after'
  | 'grad'
  | 'exp_avg'
  | 'exp_avg_sq'
  | 'max_exp_avg_sq'
  | 'momentum_buffer'
  | 'exp_inf'
  | 'sum'
  | 'square_avg'
  | 'grad_avg'
  | 'exp_avg_sq_row'
  | 'exp_avg_sq_col'
  | 'state1'
  | 'state2'
  | 'absmax1'
  | 'absmax2'
  | 'qmap1'
  | 'qmap2';

/** The optimizer-state roles (everything but parameters and gradients). */
export const OPTIMIZER_STATE_ROLES = [
  'exp_avg',
  'exp_avg_sq',
  'max_exp_avg_sq',
  'momentum_buffer',
  'exp_inf',
  'sum',
  'square_avg',
  'grad_avg',
  'exp_avg_sq_row',
  'exp_avg_sq_col',
  'state1',
  'state2',
  'absmax1',
  'absmax2',
  'qmap1',
  'qmap2',
] as const satisfies readonly TensorRole[];
export type OptimizerStateRole = (typeof OPTIMIZER_STATE_ROLES)[number];

/** State roles whose shape is not the parameter's (factored moments, quantization blocks and maps). */
export const AUXILIARY_STATE_ROLES: ReadonlySet<TensorRole> = new Set([
  'exp_avg_sq_row',
  'exp_avg_sq_col',
  'absmax1',
  'absmax2',
  'qmap1',
  'qmap2',
]);

/** One tensor found in a file, described but not read: where its bytes are, and which layer and role it is. */
export interface TensorRef extends TensorBytes {
  /** Layer name as in model.named_parameters() (prefixes like `param/` and suffixes like `.grad` removed). */
  layer: string;
  role: TensorRole;
}

/** A set of tensors that belong to one optimizer step (a snapshot file, or a checkpoint). */
export interface TensorSnapshot {
  /** The optimizer step the roles refer to; null when the file does not say. */
  step: number | null;
  tensors: TensorRef[];
  /** The file the snapshot came from. */
  path: string;
  /** Scalars stored next to the tensors (e.g. npz `lr`, safetensors metadata, optimizer param_groups). */
  scalars?: Record<string, number>;
  /**
   * The optimizer's parameter groups as this snapshot states them (a checkpoint's param_groups at its step);
   * preferred over RunData.paramGroups for this snapshot's tensors.
   */
  paramGroups?: ParamGroupHyper[];
  /**
   * Per-layer scalar optimizer state at this snapshot: `step` (the parameter's own step count), NAdam's
   * `mu_product`, HF Adafactor's `RMS` (RMS of the parameter the step consumed), …
   */
  layerState?: Record<string, Record<string, number>>;
}

/** A param-group setting as the input states it (numbers, flags, names, tuples such as Adafactor's eps pair). */
export type OptimizerOptionValue = number | boolean | string | null | (number | null)[];

/** Hyper-parameters of the optimizer, as far as an input states them. */
export interface OptimizerHyper {
  type: OptimizerKind | null;
  lr: number | null;
  betas: [number, number] | null;
  eps: number | null;
  weightDecay: number | null;
  /** Where these came from: 'checkpoint', 'log', 'config', 'cli', 'default', 'mixed'. */
  source: string;
  /** Set when no input names the optimizer and `type` was inferred from its state: what it rests on. */
  typeAssumedFrom?: string;
  /**
   * The other settings the input states, by their names in the optimizer (amsgrad, momentum, nesterov, centered,
   * scale_parameter, relative_step, clip_threshold, adjust_lr_fn, …), where they are the same for every group.
   */
  options?: Record<string, OptimizerOptionValue>;
}

/** Per-parameter-group hyper-parameters (e.g. AdamW with decay on some groups only). */
export interface ParamGroupHyper {
  layers: string[];
  lr: number | null;
  betas: [number, number] | null;
  eps: number | null;
  weightDecay: number | null;
  /** This group's optimizer where it differs by group (Muon's groups with `use_muon: False` are AdamW). */
  kind?: OptimizerKind | null;
  /** The group's other settings by their names in the optimizer (see OptimizerHyper.options). */
  options?: Record<string, OptimizerOptionValue>;
}

/**
 * Figures for one layer at one step. Every field is optional in a reader's output (absent = the
 * input does not say) and `number | null` in the engine's output (null = unknown, never invented).
 */
export interface LayerFigures {
  paramRms: number | null;
  paramNorm: number | null;
  gradRms: number | null;
  gradNorm: number | null;
  updateRms: number | null;
  updateNorm: number | null;
  relStep: number | null;
  adamUpdateRms: number | null;
  relStepPredicted: number | null;
  epsDominatedFraction: number | null;
  exp_avgRms: number | null;
  sqrtVHatRms: number | null;
  /** RMS of lr·wd·p (AdamW decoupled decay share of the step). */
  decayRms: number | null;
  momentumBufferRms: number | null;
  lr: number | null;
  /** RMS of the optimizer's normalized direction d (update ÷ lr, decoupled decay excluded); Adam: = adamUpdateRms. */
  directionRms: number | null;
  /** Share of elements whose second moment is exactly 0 (never received a gradient): their update is 0. */
  zeroSecondMomentFraction: number | null;
  /** LAMB / LARS: the trust ratio the step applied to this layer. */
  trustRatio: number | null;
  /** The lr the step applied to d where it is not the group's lr (Adafactor's relative/scaled lr, Adagrad's decay). */
  effectiveLr: number | null;
  /** Adafactor: the divisor of the update clipping, max(1, RMS(U)/clip_threshold) (1 = not clipped). */
  updateClip: number | null;
}

export type FigureName = keyof LayerFigures;

/** Whole-model scalars per step (loss, global grad norm, lr): the analysis' output form of the globals. */
export interface GlobalObservation {
  step: number;
  values: Record<string, number>;
}

/** A histogram summary of a tensor (TensorBoard). */
export interface HistogramObservation {
  step: number;
  layer: string;
  /** null when the histogram is of no tensor role (adam_u/<L>, updates/<L>): see `quantity`. */
  role: TensorRole | null;
  num: number;
  sum: number;
  sumSquares: number;
  min: number;
  max: number;
  /** Bucket right edges and counts (bucket i spans (limits[i-1], limits[i]]). */
  bucketLimits: number[];
  bucketCounts: number[];
  /** True when RMS can only be approximated (TF2 [k,3] tensors). */
  approximate: boolean;
  /** Present when the histogram was of something other than a tensor role (e.g. adam_u). */
  quantity?: string;
}

/** A problem met while reading; readers keep what they could read and report the rest here. */
export interface ReadIssue {
  severity: 'error' | 'warning';
  path: string;
  /** 1-based line for text formats. */
  line?: number;
  /** Byte offset for binary formats. */
  offset?: number;
  /** The tensor the problem is about (its key as stored), when it is about one tensor. */
  tensor?: string;
  message: string;
}

/** A non-finite value found in a tensor or a log. */
export interface NonFiniteObservation {
  path: string;
  step: number | null;
  layer: string | null;
  what: string;
  count: number;
  /** First location: element index in a tensor, or 1-based line in a text log. */
  firstIndex?: number;
  line?: number;
}

/** Everything the readers found in one or more inputs; merged by the engine. */
export interface RunData {
  inputs: { path: string; format: string }[];
  /** Layer order as found (named_parameters() order where the input states it). */
  layerOrder: string[];
  layerShapes: Record<string, number[]>;
  hyper: Partial<OptimizerHyper>;
  paramGroups?: ParamGroupHyper[];
  snapshots: TensorSnapshot[];
  /** Logged per-layer figures and whole-model values, columnar (run/scalars.ts). */
  scalars: ScalarStore;
  histograms: HistogramObservation[];
  nonFinite: NonFiniteObservation[];
  issues: ReadIssue[];
  /** Layers the optimizer does not train (e.g. PEFT base weights, absent from the optimizer's param groups). */
  frozenLayers?: string[];
  /** What each log input was recognised as and which of its tags / columns / keys gave values. */
  seen?: InputSeen[];
  /** Files in a folder that were not read, and why. */
  skipped?: SkippedInput[];
  /** Set when this RunData merges several separate runs (the single-run view): which ones. */
  runs?: RunRef[];
}

/** One run of several found in the inputs. */
export interface RunRef {
  /** The run's folder relative to the folder named, or the file(s) named. */
  label: string;
  /** The run's folder (analyze it to see the run alone); null for the files named on the command line. */
  dir: string | null;
}

/** What a reader recognised in one input and what of it gave values (the "what was read" report). */
export interface InputSeen {
  path: string;
  format: string;
  /**
   * What the input is when it is not a training time series: `wandb-system-metrics` (wandb-events.jsonl),
   * `wandb-runs-table` (a runs-table export, one row per run), `wandb-summary` (wandb-summary.json).
   */
  kind?: string;
  /** `epoch` when the input's x-axis is the epoch (no step column, e.g. Ultralytics results.csv). */
  xAxis?: 'epoch';
  /** Tag / column / key names values were read from, in first-seen order (at most MAX_SEEN_NAMES). */
  read: string[];
  /** A sentence about the input (what it is, why it gives no series). */
  note?: string;
}

/** At most this many names are kept per input in `InputSeen.read`. */
export const MAX_SEEN_NAMES = 64;

export interface SkippedInput {
  path: string;
  reason: string;
}

export function emptyRunData(): RunData {
  return {
    inputs: [],
    layerOrder: [],
    layerShapes: {},
    hyper: {},
    snapshots: [],
    scalars: new ScalarStore(),
    histograms: [],
    nonFinite: [],
    issues: [],
  };
}
