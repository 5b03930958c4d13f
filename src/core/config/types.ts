// Types of the training-config scanner. Pure data: no vscode, no DOM.
import type { Severity } from '../rules/types';
import type { OptimizerKind } from '../../shared/optimizers';

export type ConfigLanguage = 'yaml' | 'json' | 'jsonc' | 'toml' | 'python' | 'shell';

/** A source range: 0-based offsets into the text, 1-based lines and columns (columns count UTF-16 units). */
export interface SourceRange {
  start: number;
  end: number;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
}

export type ScalarValue = number | string | boolean | null | number[];

/** A key/value the language front end found, before classification. */
export interface RawEntry {
  /** Key path, e.g. ['optimizer','params','lr'], ['AdamW','lr'] for a python call keyword, ['--lr'] for a flag. */
  path: string[];
  value: ScalarValue;
  /** The value as written in the source. */
  raw: string;
  valueRange: SourceRange;
  /** Range of the key (or keyword/flag name) when there is one. */
  keyRange?: SourceRange;
  /** How the entry was written. */
  context: 'mapping' | 'assign' | 'call-keyword' | 'optimizer-ctor' | 'init-call' | 'argparse' | 'flag';
  /** Python calls: the dotted callee (e.g. 'torch.optim.AdamW'). */
  callee?: string;
  /** Number lists: the range of each item (a piecewise schedule's peak is one of them). */
  itemRanges?: SourceRange[];
  /** Where the value is used when it is written elsewhere (a shell `--lr $LR` whose value is `LR=2e-5`). */
  useRange?: SourceRange;
  /** How the value was obtained when it is not a literal at its position ('LR=2e-5 (line 3)', '5e-4 × 1024 / 512'). */
  via?: string;
  /** Python: offset of the optimizer constructor call the entry is an argument of (its param groups included). */
  ctorStart?: number;
  /** Python dict literal or dict() of a param group: the group's name (its 'name' or the 'params' expression). */
  groupName?: string;
  /** Python: the constants a folded value was computed from (`base_lr`, `batch_size`). */
  refs?: string[];
}

/** An lr-like setting whose value is not a constant this file states ('depends on X'). */
export interface UnresolvedEntry {
  path: string[];
  /** The expression as written. */
  raw: string;
  /** Names the value depends on that this file does not state as constants. */
  dependsOn: string[];
  valueRange: SourceRange;
  keyRange?: SourceRange;
  useRange?: SourceRange;
  ctorStart?: number;
}

/** A problem in the text (a parse error, a bound reached); the scan keeps what it could read. */
export interface ScanIssue {
  severity: 'error' | 'warning';
  line: number;
  column: number;
  message: string;
}

export interface ConfigComment {
  text: string;
  range: SourceRange;
}

/**
 * What a learning rate is: the main lr (the peak of its schedule), a parameter group's lr (`text_encoder_lr`,
 * Megatron `--decoupled-lr`, a Python param-group dict), the lr a warmup starts from, or the floor a schedule
 * decays to. Findings about the step size are about main and group lrs.
 */
export type LrRole = 'main' | 'group' | 'warmup-start' | 'floor';

export interface ConfigLearningRate {
  /** Dotted key as written ('optimizer.params.lr', 'learning_rate', '--lr', 'AdamW.lr'). */
  key: string;
  value: number;
  role: LrRole;
  /** The parameter group for role 'group' ('text encoder', 'embedding/output (decoupled)', 'actor'). */
  group?: string;
  /** How hover and Problems name it: 'lr', 'text-encoder lr', 'embedding/output lr (decoupled)', 'warmup start lr'. */
  label: string;
  raw: string;
  range: SourceRange;
  keyRange?: SourceRange;
  /** Where else the hover shows it (the `$LR` in a shell flag whose value is the assignment `LR=…`). */
  useRanges?: SourceRange[];
  /** Set when the value is not a plain number at its position: a string read as a number, a shell variable, folded arithmetic. */
  note?: string;
  /** A list or piecewise value: the peak is `value`, the rest of the schedule here (boundaries when stated). */
  schedule?: { values: number[]; boundaries?: number[] };
  /** Index into the scan's optimizers of the optimizer this lr belongs to (by key path, call or name); absent: file-wide. */
  optimizer?: number;
  /** Set when another lr is computed from this one (`lr = base_lr * batch_size / 256`): that lr's key; no step findings here. */
  feeds?: string;
}

/** An lr-like setting this file computes from names it does not state (hover: 'depends on X'). */
export interface ConfigUnresolvedLr {
  key: string;
  role: LrRole;
  label: string;
  raw: string;
  dependsOn: string[];
  range: SourceRange;
  keyRange?: SourceRange;
  useRanges?: SourceRange[];
}

/** A step schedule stated next to the lr: MultiStepLR milestones with gamma, detectron SOLVER.STEPS with GAMMA. */
export interface ConfigSchedule {
  key: string;
  milestones: number[];
  gamma: number;
  range: SourceRange;
}

export type ScaleSource = 'stated' | 'init-call' | 'annotation' | 'sibling' | 'linked';

export interface ConfigScale {
  key: string;
  value: number;
  source: ScaleSource;
  raw: string;
  /** Range in this file; for 'sibling' scales, the range in `path`. */
  range: SourceRange;
  keyRange?: SourceRange;
  /** The file the scale was read from when it is not the scanned file. */
  path?: string;
}

/** The optimizer a config names: a known kind, or 'other' (named, but not one Optimizer Lens knows). */
export type OptimizerFamily = OptimizerKind | 'other';

export interface ConfigOptimizer {
  /** The name as written ('AdamW', 'adamw_torch', 'torch.optim.SGD'). */
  name: string;
  /** The kind (optimizerKindFromName), or 'other' for a name Optimizer Lens does not know. */
  family: OptimizerFamily;
  key: string;
  range: SourceRange;
  /** 8-bit state (bitsandbytes, HF `*_8bit`): dequantized, the update is the 32-bit optimizer's. */
  eightBit?: boolean;
  /**
   * Where the name comes from: an HF TrainingArguments `optim` value or `adafactor` flag (the Trainer's own
   * settings apply), a Python constructor call, or a config's optimizer name.
   */
  source: 'hf-optim' | 'ctor' | 'name';
  /** Key path of the section the optimizer is named in (its lr and options live there); [] for file level. */
  scope: string[];
  /** Python constructor: the call's start offset (its keywords and param groups belong to it). */
  ctorStart?: number;
  /** Options stated with it that change what lr means. */
  options: {
    amsgrad?: boolean;
    relativeStep?: boolean;
    scaleParameter?: boolean;
    warmupInit?: boolean;
    /** LARS trust coefficient η (‖Δw‖ = lr·η·‖w‖). */
    trustCoefficient?: number;
  };
}

/**
 * An optimizer name key set to `auto`, beside Ultralytics' `lr0` (its trainer's default): the trainer picks the
 * optimizer and its lr itself and ignores lr0 and momentum (see reading.ts autoOptimizerReading).
 */
export interface ConfigAutoOptimizer {
  key: string;
  raw: string;
  range: SourceRange;
  /** The number of classes where the file states it (`nc`): the lr Ultralytics fits for AdamW follows from it. */
  classes?: number;
}

export type PrecisionMode = 'fp16-true' | 'fp16-mixed' | 'bf16-true' | 'bf16-mixed' | 'fp32';

export interface ConfigPrecision {
  mode: PrecisionMode;
  key: string;
  raw: string;
  range: SourceRange;
}

export interface ConfigNumber {
  key: string;
  value: number;
  raw: string;
  range: SourceRange;
  keyRange?: SourceRange;
}

export interface ConfigBetas {
  key: string;
  value: [number | null, number | null];
  range: SourceRange;
}

/** A YAML plain scalar that YAML 1.2 reads as a float but YAML 1.1 (PyYAML safe_load) as a string. */
export interface YamlFloatString {
  key: string;
  raw: string;
  value: number;
  range: SourceRange;
}

/**
 * Loaders that turn '1e-4' into a float although the file is YAML: Hydra/OmegaConf and Lightning CLI (their own
 * resolvers), yacs CfgNode (merge_from_file literal_evals strings), axolotl (pydantic converts numeric strings).
 */
export type YamlLoaderHint = 'hydra' | 'lightning-cli' | 'yacs' | 'axolotl';

export interface ConfigScan {
  path: string;
  language: ConfigLanguage;
  learningRates: ConfigLearningRate[];
  scales: ConfigScale[];
  optimizers: ConfigOptimizer[];
  eps: ConfigNumber[];
  betas: ConfigBetas[];
  weightDecay: ConfigNumber[];
  precision: ConfigPrecision[];
  yamlFloatStrings: YamlFloatString[];
  /** YAML only: evidence the file is read by Hydra/OmegaConf or Lightning CLI (null: none seen). */
  yamlLoader: { hint: YamlLoaderHint; evidence: string } | null;
  /** `# optimizer-lens: param-scale=…` annotations (also in `scales`, with source 'annotation'). */
  annotations: { value: number; range: SourceRange; raw: string }[];
  /** lr-like settings computed from names the file does not state. */
  unresolved: ConfigUnresolvedLr[];
  /** Step schedules (milestones × gamma) of the main lr. */
  schedules: ConfigSchedule[];
  /** Model widths stated (n_embd, hidden_size, d_model …): the shape Muon's update RMS follows from. */
  widths: ConfigNumber[];
  /** `optimizer: auto` (Ultralytics), or null. */
  autoOptimizer: ConfigAutoOptimizer | null;
  /**
   * Evidence that training starts from loaded weights (a fine-tune or resume: model_name_or_path, init_from,
   * pretrained checkpoint): a stated init scale is then the scale at initialization, not the current one.
   */
  loadedWeights: { key: string; raw: string; range: SourceRange } | null;
  /** Text problems (parse errors, bounds reached); the scan keeps what it could read. */
  issues: ScanIssue[];
  /** Line count of the text (for bounds). */
  lineCount: number;
  /**
   * Set when the file is not read as a config although its format is one (a training log such as HF Trainer's
   * trainer_state.json, or JSON with a top-level log_history): the reason. Such a scan has no entries.
   */
  skipped?: string;
}

/** A scan with nothing found yet: the scanners fill it. */
export function emptyConfigScan(path: string, language: ConfigLanguage, lineCount: number): ConfigScan {
  return {
    path,
    language,
    learningRates: [],
    scales: [],
    optimizers: [],
    eps: [],
    betas: [],
    weightDecay: [],
    precision: [],
    yamlFloatStrings: [],
    yamlLoader: null,
    annotations: [],
    unresolved: [],
    schedules: [],
    widths: [],
    autoOptimizer: null,
    loadedWeights: null,
    issues: [],
    lineCount,
  };
}

/** A parameter scale measured from a linked log or checkpoint (per layer). */
export interface LinkedScale {
  /** The linked log or checkpoint path. */
  path: string;
  /** Per-layer parameter RMS (null where the run does not say). */
  layers: { name: string; paramRms: number | null }[];
  /** The step the figures are from (null: not stated). */
  step: number | null;
}

export type ConfigRuleId =
  'lr-without-scale' | 'relative-step-high' | 'relative-step-low' | 'yaml-float-string' | 'eps-underflow-fp16' | 'not-adam' | 'lr-ignored';

export interface ConfigFinding {
  rule: ConfigRuleId;
  severity: Severity;
  message: string;
  range: SourceRange;
  /** Facts behind the finding (the lr, the scale, the eps, ...), also used by quick fixes. */
  evidence: Record<string, unknown>;
}

/** One text edit on the scanned text (offsets into the original text). */
export interface TextEdit {
  start: number;
  end: number;
  newText: string;
}

export interface QuickFix {
  title: string;
  rule: ConfigRuleId;
  /** Edits to the scanned file (applied together). */
  edits: TextEdit[];
  /**
   * Same edit as a snippet (VS Code SnippetString syntax, with a tab stop on the value) when one helps:
   * insert `snippet.text` at `snippet.offset` instead of applying `edits`.
   */
  snippet?: { offset: number; text: string };
  /** A file to create next to the scanned file (strict JSON has no comments). */
  createFile?: { path: string; content: string };
  /** A command the surface should run instead of edits (e.g. link a log or checkpoint). */
  command?: 'linkRun';
  isPreferred?: boolean;
}
