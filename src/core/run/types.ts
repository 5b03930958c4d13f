// The run model: what the readers found in one or more inputs (see ARCHITECTURE.md):
//   file ──io──▶ bytes ──reader──▶ RunData ──engine──▶ figures per layer and step ──rules──▶ findings
// A reader knows bytes, not statistics; the engine knows statistics, not formats.

import type { TensorBytes } from '../io/tensorBytes';
import type { OptimizerKind } from '../../shared/optimizers';

/**
 * What a tensor is, relative to optimizer step t (the t-th optimizer.step()).
 * - param_before: the parameter step t consumed; param_after: what it left.
 * - param: a parameter whose timing is not stated (plain `<layer>` keys, model state dicts).
 *   In a checkpoint saved after step t it is param_after of step t.
 * - grad: the gradient step t consumed.
 * - exp_avg / exp_avg_sq / max_exp_avg_sq / momentum_buffer: optimizer state after step t.
 */
export type TensorRole =
  'param' | 'param_before' | 'param_after' | 'grad' | 'exp_avg' | 'exp_avg_sq' | 'max_exp_avg_sq' | 'momentum_buffer';

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
  /** The optimizer's hyper-parameters as this snapshot's own checkpoint states them (its lr at its step). */
  hyper?: Partial<OptimizerHyper>;
  /** Per-group hyper-parameters of this snapshot's checkpoint, when its optimizer has groups. */
  paramGroups?: ParamGroupHyper[];
}

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
  /** AMSGrad (`amsgrad: True` in torch Adam/AdamW param groups): v̂ is max_exp_avg_sq, not exp_avg_sq. */
  amsgrad?: boolean | null;
}

/** Per-parameter-group hyper-parameters (e.g. AdamW with decay on some groups only). */
export interface ParamGroupHyper {
  layers: string[];
  lr: number | null;
  betas: [number, number] | null;
  eps: number | null;
  weightDecay: number | null;
  amsgrad?: boolean | null;
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
}

export type FigureName = keyof LayerFigures;

/** A scalar observation from a log: one (step, layer, figure) value. */
export interface LayerObservation {
  step: number;
  layer: string;
  figures: Partial<LayerFigures>;
  /** numel of the layer when the log states it (needed to turn norms into RMS). */
  numel?: number;
  shape?: number[];
}

/** Whole-model scalars per step (loss, global grad norm, lr). */
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
  observations: LayerObservation[];
  globals: GlobalObservation[];
  histograms: HistogramObservation[];
  nonFinite: NonFiniteObservation[];
  issues: ReadIssue[];
  /** Layers the optimizer does not train (e.g. PEFT base weights, absent from the optimizer's param groups). */
  frozenLayers?: string[];
}

export function emptyRunData(): RunData {
  return {
    inputs: [],
    layerOrder: [],
    layerShapes: {},
    hyper: {},
    snapshots: [],
    observations: [],
    globals: [],
    histograms: [],
    nonFinite: [],
    issues: [],
  };
}
