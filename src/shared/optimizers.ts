// The one list of optimizer kinds every part of Optimizer Lens names: the run model (what a checkpoint or
// log states), the engine (how it normalizes the update), the config scanner (what a config names), the
// CLI and the webview (what they print). Names from the wild — torch class names, HF `optim` values,
// DeepSpeed `type`, Lightning `lr-<Optimizer>` columns, our snippet's `optimizer` field — map here.

export const OPTIMIZER_KINDS = [
  'adam',
  'adamw',
  'nadam',
  'radam',
  'adamax',
  'adagrad',
  'rmsprop',
  'sgd',
  'lion',
  'adafactor',
  'lamb',
  'lars',
  'muon',
] as const;

export type OptimizerKind = (typeof OPTIMIZER_KINDS)[number];

/** How the optimizer normalizes its update, which decides what its lr means. */
export type UpdateNormalization =
  /** Adam family: u = m̂/(√v̂+ε) has RMS ≲ 1 whatever the gradient's scale; lr ≈ absolute step per weight. */
  | 'second-moment'
  /** Lion: sign(·), every element moves by exactly lr. */
  | 'sign'
  /** LAMB / LARS: a per-layer trust ratio makes lr a relative step. */
  | 'trust-ratio'
  /** Muon: an orthogonalized update whose RMS follows from the weight's shape. */
  | 'orthogonalized'
  /** Adafactor: factored second moment, update clipped by its RMS, lr often relative to RMS(w). */
  | 'factored'
  /** SGD: the step is lr × gradient, so it scales with the gradient (no normalization). */
  | 'none';

export const OPTIMIZER_NORMALIZATION: Readonly<Record<OptimizerKind, UpdateNormalization>> = {
  adam: 'second-moment',
  adamw: 'second-moment',
  nadam: 'second-moment',
  radam: 'second-moment',
  adamax: 'second-moment',
  adagrad: 'second-moment',
  rmsprop: 'second-moment',
  sgd: 'none',
  lion: 'sign',
  adafactor: 'factored',
  lamb: 'trust-ratio',
  lars: 'trust-ratio',
  muon: 'orthogonalized',
};

export const OPTIMIZER_LABELS: Readonly<Record<OptimizerKind, string>> = {
  adam: 'Adam',
  adamw: 'AdamW',
  nadam: 'NAdam',
  radam: 'RAdam',
  adamax: 'Adamax',
  adagrad: 'Adagrad',
  rmsprop: 'RMSprop',
  sgd: 'SGD',
  lion: 'Lion',
  adafactor: 'Adafactor',
  lamb: 'LAMB',
  lars: 'LARS',
  muon: 'Muon',
};

export function isOptimizerKind(x: unknown): x is OptimizerKind {
  return typeof x === 'string' && (OPTIMIZER_KINDS as readonly string[]).includes(x);
}

/** Display name of an optimizer kind (null: the input does not say). */
export function optimizerLabel(kind: OptimizerKind | null | undefined): string | null {
  return kind ? OPTIMIZER_LABELS[kind] : null;
}

// A name as written in the wild, lower-cased, word by word, to its kind. Checked in order: the first
// pattern that matches a word wins (so 'adamw8bit' is AdamW, 'lamb' before 'adam').
const NAME_PATTERNS: [RegExp, OptimizerKind][] = [
  [/^(?:paged)?lion/, 'lion'],
  [/lion(?:8bit|32bit)?$/, 'lion'],
  [/muon/, 'muon'],
  [/adafactor/, 'adafactor'],
  [/lamb/, 'lamb'],
  [/lars/, 'lars'],
  [/larc/, 'lars'],
  [/nadam/, 'nadam'],
  [/radam/, 'radam'],
  [/adamax/, 'adamax'],
  [/adagrad/, 'adagrad'],
  [/rmsprop/, 'rmsprop'],
  [/adamw/, 'adamw'],
  [/adam/, 'adam'],
  [/amsgrad/, 'adam'],
  [/(?:^|fused|nesterov)sgd|^sgd|^asgd$|momentum$/, 'sgd'],
];

// Names that contain a kind's name but are not that optimizer: D-Adaptation and Prodigy estimate the step size
// themselves (their lr is a multiplier, typically 1.0), so reading 'DAdaptAdam' as Adam would misstate its lr.
const LOOKALIKE_NAMES = /^(?:dadapt|prodigy)/;

/**
 * The kind a name states: torch class names (`torch.optim.AdamW`), HF `optim` values (`adamw_torch_fused`,
 * `adamw_bnb_8bit`, `paged_adamw_32bit`, `lion_32bit`, `adafactor`), DeepSpeed types (`Lamb`, `FusedAdam`,
 * `DeepSpeedCPUAdam`, `OneBitAdam`), bitsandbytes classes (`AdamW8bit`), Lightning `lr-AdamW` columns.
 * null for a name that is not an optimizer this list knows (the caller says so; nothing is assumed).
 */
export function optimizerKindFromName(name: string | null | undefined): OptimizerKind | null {
  if (!name) return null;
  const last = name.split(/[.:/]/).filter(Boolean).pop() ?? name;
  // Per separator-delimited word ('lr-AdamW' → lr, adamw): squashing the whole name would read 'lradamw' as RAdam.
  for (const word of last.toLowerCase().split(/[^a-z0-9]+/)) {
    if (!word) continue;
    if (LOOKALIKE_NAMES.test(word)) return null;
    for (const [re, kind] of NAME_PATTERNS) if (re.test(word)) return kind;
  }
  return null;
}

/** True when the name is an 8-bit (blockwise-quantized state) variant: bitsandbytes, HF `*_8bit`. */
export function isEightBitOptimizerName(name: string | null | undefined): boolean {
  return !!name && /8\s*bit/i.test(name.replace(/[_-]/g, ''));
}

/**
 * What a learning rate means under this optimizer, in one sentence shared by the dashboard, the CLI and the
 * config hover. `null` (the input does not say which optimizer) gets the Adam-family reading with the
 * caveat that it is assumed.
 */
export function lrMeaning(kind: OptimizerKind | null): string {
  switch (kind === null ? null : OPTIMIZER_NORMALIZATION[kind]) {
    case null:
      return 'Optimizer not stated: if it is Adam-like, each weight moves by about lr × RMS(u) per step whatever the gradient’s size, so the relative step is about lr·RMS(u)/RMS(w).';
    case 'second-moment':
      return `Under ${OPTIMIZER_LABELS[kind!]} each weight moves by about lr × RMS(u) per step whatever the gradient’s size (RMS(u) ≈ 1 at the first steps, 0.2–0.45 later), so the relative step is about lr·RMS(u)/RMS(w).`;
    case 'sign':
      return 'Under Lion every element moves by exactly lr per step (a sign update), so the relative step is lr/RMS(w) (+ the decoupled decay) — its lr is typically 3–10× below AdamW’s for the same step.';
    case 'trust-ratio':
      return `Under ${OPTIMIZER_LABELS[kind!]} the trust ratio scales each layer’s update to ‖w‖, so lr already is a relative step per layer (‖Δw‖ ≈ lr·‖w‖ within the ratio’s clamp).`;
    case 'orthogonalized':
      return 'Under Muon the update is orthogonalized: its RMS follows from the weight’s shape and the scaling convention, so the relative step is lr·c(shape)/RMS(w) — its lr is not comparable to an AdamW lr beside it.';
    case 'factored':
      return 'Under Adafactor the update is clipped by its RMS and, with scale_parameter, multiplied by RMS(w): the effective lr is relative to the weight’s scale (with relative_step it comes from the step count, not an absolute lr).';
    case 'none':
      return 'Under SGD the step is lr × gradient (× momentum): lr is not a step size, the relative step depends on the gradient’s scale as well as the weight’s.';
  }
}

/**
 * Muon's shape scaling of the orthogonalized update O (d = c·O): `original` (Keller Jordan's Muon and torch.optim.Muon's
 * default) c = √max(1, rows/cols); `match_rms_adamw` (Moonshot's Moonlight, torch's `adjust_lr_fn="match_rms_adamw"`)
 * c = 0.2·√max(rows, cols), which gives RMS(d) ≈ 0.2 like AdamW's update.
 */
export const MUON_SCALINGS = ['original', 'match_rms_adamw'] as const;
export type MuonScaling = (typeof MUON_SCALINGS)[number];

export function isMuonScaling(x: unknown): x is MuonScaling {
  return typeof x === 'string' && (MUON_SCALINGS as readonly string[]).includes(x);
}

/** The factor c of d = c·O for a rows × cols weight under a scaling convention. */
export function muonScaleFactor(scaling: MuonScaling, rows: number, cols: number): number {
  return scaling === 'original' ? Math.sqrt(Math.max(1, rows / cols)) : 0.2 * Math.sqrt(Math.max(rows, cols));
}
