// The typed interfaces between readers, the engine, rules and surfaces (see DESIGN.md):
//   file ──reader──▶ RunData ──engine──▶ LayerStats per step ──rules──▶ Finding[] ──surface
// A reader knows bytes, not statistics; the engine knows statistics, not formats.

/** Element types a tensor reader can hand to the stats kernel. */
export type Dtype = 'F64' | 'F32' | 'F16' | 'BF16';

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

/** Where a tensor's bytes are: read by offset, never loaded whole. */
export interface ByteSource {
  /** Absolute or CLI-relative file path. */
  path: string;
  /** Byte offset of the first element (of the compressed stream for 'deflate'). */
  offset: number;
  /** Bytes stored at `offset` (compressed size for 'deflate'). */
  storedLength: number;
  /** 'none': raw little-endian elements; 'deflate': a raw deflate stream (zip method 8). */
  compression: 'none' | 'deflate';
  /** 'deflate' only: decompressed bytes to skip before the first element (an npz member's npy header). */
  skipInflated?: number;
}

/** One tensor found in a file, described but not read. */
export interface TensorRef {
  /** Layer name as in model.named_parameters() (prefixes like `param/` and suffixes like `.grad` removed). */
  layer: string;
  role: TensorRole;
  /** The key exactly as stored in the file (for messages). */
  key: string;
  dtype: Dtype;
  shape: number[];
  numel: number;
  source: ByteSource;
  /**
   * Element strides (in elements) when the tensor is not C-contiguous; absent for contiguous data.
   * The stats kernel refuses non-contiguous refs unless they are a contiguous slice.
   */
  strides?: number[];
  /** Element offset into `source` (torch storages: storage_offset). Default 0. */
  elementOffset?: number;
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
}

/** Hyper-parameters of the optimizer, as far as an input states them. */
export interface OptimizerHyper {
  type: 'adam' | 'adamw' | 'sgd' | null;
  lr: number | null;
  betas: [number, number] | null;
  eps: number | null;
  weightDecay: number | null;
  /** Where these came from: 'checkpoint', 'log', 'config', 'cli', 'default', 'mixed'. */
  source: string;
}

/** Per-parameter-group hyper-parameters (e.g. AdamW with decay on some groups only). */
export interface ParamGroupHyper {
  layers: string[];
  lr: number | null;
  betas: [number, number] | null;
  eps: number | null;
  weightDecay: number | null;
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

/** Error type every reader throws for unreadable input: names the file and the position. */
export class ReaderError extends Error {
  readonly path: string;
  readonly line?: number;
  readonly offset?: number;
  constructor(path: string, message: string, where: { line?: number; offset?: number } = {}) {
    const at = where.line !== undefined ? `:${where.line}` : where.offset !== undefined ? ` (byte offset ${where.offset})` : '';
    super(`${path}${at}: ${message}`);
    this.name = 'ReaderError';
    this.path = path;
    this.line = where.line;
    this.offset = where.offset;
  }
}

/** A reader turns one file (or folder) into RunData. Detection by magic bytes / name. */
export interface Reader {
  /** Short format id used in `inputs[].format` (e.g. 'safetensors', 'npz', 'jsonl', 'tfevents'). */
  readonly format: string;
  /** Cheap check: name and the first bytes (up to 64) of the file. */
  detect(path: string, head: Uint8Array): boolean;
  /** Read the file; throw ReaderError when nothing is usable, else record problems in `issues`. */
  read(path: string, options?: ReadOptions): Promise<RunData>;
}

export interface ReadOptions {
  signal?: AbortSignal;
  onProgress?: (fraction: number) => void;
}

// ---- Engine output -----------------------------------------------------------------------

export interface LayerStats {
  name: string;
  shape: number[] | null;
  numel: number | null;
  paramRms: number | null;
  gradRms: number | null;
  updateRms: number | null;
  relStep: number | null;
  adamUpdateRms: number | null;
  relStepPredicted: number | null;
  epsDominatedFraction: number | null;
  /** Extra figures (not in the CLI contract's required set, but shown by surfaces). */
  decayRms?: number | null;
  sqrtVHatRms?: number | null;
  momentumBufferRms?: number | null;
  /** Where each figure came from (e.g. {paramRms: 'tensors', gradRms: 'log'}). */
  provenance?: Record<string, string>;
}

export type Severity = 'error' | 'warning' | 'info';

export interface Finding {
  rule: string;
  severity: Severity;
  layer: string | null;
  step: number | null;
  message: string;
  evidence: Record<string, unknown>;
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

// ---- What surfaces render (CLI table, webview dashboard) ---------------------------------------

/** Thresholds of the rules (README "Findings"); each is a setting in the extension and a CLI option. */
export interface Thresholds {
  /** relative-step-high: relative step per step above this (default 1e-2). */
  relativeStepHigh: number;
  /** relative-step-low: relative step per step below this (default 1e-5). */
  relativeStepLow: number;
  /** eps-dominated: fraction of elements with √v̂ < ε above this (default 0.5). */
  epsDominatedFraction: number;
  /** scale-spread: ratio of largest to smallest layer parameter RMS above this (default 100). */
  scaleSpread: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = {
  relativeStepHigh: 1e-2,
  relativeStepLow: 1e-5,
  epsDominatedFraction: 0.5,
  scaleSpread: 100,
};

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

/** The figures a chart plots over steps, one array entry per step in `steps`. */
export const SERIES_FIGURES = [
  'paramRms',
  'gradRms',
  'updateRms',
  'relStep',
  'adamUpdateRms',
  'relStepPredicted',
  'epsDominatedFraction',
] as const;
export type SeriesFigure = (typeof SERIES_FIGURES)[number];

export interface LayerSeries {
  layer: string;
  steps: number[];
  figures: Record<SeriesFigure, (number | null)[]>;
}

/** Histogram of Adam's normalized update u for one layer at one step (where tensors exist). */
export interface UpdateDistribution {
  layer: string;
  step: number;
  /** Bin edges (length counts.length + 1) over u (signed). */
  edges: number[];
  counts: number[];
}

/** Everything the dashboard shows: the CLI JSON contract plus series over steps. */
export interface RunAnalysis {
  result: AnalysisResult;
  series: LayerSeries[];
  globals: GlobalObservation[];
  distributions: UpdateDistribution[];
  thresholds: Thresholds;
}
