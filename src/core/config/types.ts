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
}

export interface ConfigComment {
  text: string;
  range: SourceRange;
}

export type LrRole = 'peak' | 'floor';

export interface ConfigLearningRate {
  /** Dotted key as written ('optimizer.params.lr', 'learning_rate', '--lr', 'AdamW.lr'). */
  key: string;
  value: number;
  role: LrRole;
  raw: string;
  range: SourceRange;
  keyRange?: SourceRange;
  /** Set when the value is a string that was read as a number (YAML 1.1 '1e-4', shell flags, quoted values). */
  note?: string;
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
  family: OptimizerFamily;
  key: string;
  range: SourceRange;
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

/** Loaders that resolve '1e-4' as a float although the file is YAML (their own resolver). */
export type YamlLoaderHint = 'hydra' | 'lightning-cli';

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
  /** Text problems (parse errors); the scan keeps what it could read. */
  issues: { severity: 'error' | 'warning'; line: number; column: number; message: string }[];
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
  'lr-without-scale' | 'relative-step-high' | 'relative-step-low' | 'yaml-float-string' | 'eps-underflow-fp16' | 'not-adam';

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
