// What a config's learning rate means under the optimizer it belongs to: the one sentence (lrMeaning, shared
// with the dashboard and the CLI), whether a parameter scale is needed to say how fast the weights move, and
// how the relative step follows from lr (and the scale). Findings, hover and Explain all read this.
import { formatNumber } from '../../shared/format';
import { lrMeaning, OPTIMIZER_LABELS, OPTIMIZER_NORMALIZATION } from '../../shared/optimizers';
import { normalizeKey } from './classify';
import type { ConfigLearningRate, ConfigOptimizer, ConfigScan, OptimizerFamily } from './types';

/** Later in training RMS(u) of Adam's normalized update is this fraction of its first-step value 1 (our measured runs). */
export const LATE_UPDATE_RMS: [number, number] = [0.2, 0.45];

/** How the relative step per step follows from lr. */
export type StepModel =
  /** Adam family: lr/scale at step 1 (RMS(u) ≈ 1), LATE_UPDATE_RMS × that later. */
  | { kind: 'adam-band' }
  /** lr/scale itself: exact for Lion (every element moves by lr); a bound for Adafactor with an absolute lr (update RMS clipped to 1). */
  | { kind: 'over-scale'; exact: boolean }
  /** lr × factor is the relative step, whatever the scale (LAMB: 1; LARS: η; Adafactor with scale_parameter: ≤ 1). */
  | { kind: 'relative'; factor: number | null; exact: boolean }
  /** Muon: lr·c(shape)/RMS(w), c from the weight's shape and the scaling convention. */
  | { kind: 'muon' }
  /** lr is not a step size (SGD), not used (Adafactor relative_step), or the optimizer is unknown. */
  | { kind: 'none' };

export type AdafactorMode = 'relative-step' | 'scale-relative' | 'absolute' | 'unknown';

export interface LrReading {
  /** The kind, 'other' for an optimizer Optimizer Lens does not know, null when the config names none. */
  family: OptimizerFamily | null;
  optimizer: ConfigOptimizer | null;
  /** How the text names it: 'AdamW', 'AdamW (8-bit)', 'Adam (AMSGrad)', 'Adafactor (relative_step)', 'Adadelta'. */
  label: string | null;
  /** What lr means, in one sentence. */
  meaning: string;
  /** The relative step needs the parameter scale (lr-without-scale applies). */
  needsScale: boolean;
  step: StepModel;
  /** The config names no optimizer: read as Adam-like, and the text says so. */
  assumed: boolean;
  adafactor?: AdafactorMode;
}

function adafactorMode(o: ConfigOptimizer | null): AdafactorMode {
  if (!o) return 'unknown';
  const { relativeStep, scaleParameter } = o.options;
  if (relativeStep === true) return 'relative-step';
  // The HF Trainer builds Adafactor(scale_parameter=False, relative_step=False, lr=learning_rate).
  if (o.source === 'hf-optim' && relativeStep === undefined && scaleParameter === undefined) return 'absolute';
  if (scaleParameter === false) return 'absolute';
  if (scaleParameter === true) return 'scale-relative';
  // torch.optim.Adafactor: the step is min(lr, 1/√t) · max(ε2, RMS(w)), always relative to the weight.
  if (/torch\.optim/.test(o.name)) return 'scale-relative';
  // transformers' Adafactor defaults to scale_parameter=True, relative_step=True.
  if (o.source === 'ctor') return relativeStep === false ? 'scale-relative' : 'relative-step';
  return 'unknown';
}

const ADAFACTOR_SENTENCE: Record<AdafactorMode, string> = {
  'relative-step':
    'With relative_step=True Adafactor has no absolute lr: the step is min(1e-2, 1/√t) × RMS(w) (warmup_init: min(1e-6·t, 1/√t)), so the relative step is about 1e-2 at the start and 1/√t later; an lr written here is not the step size (transformers refuses a manual lr with relative_step=True).',
  'scale-relative':
    'With scale_parameter the step is lr × max(ε₂, RMS(w)) × the update clipped to RMS ≤ 1, so lr already is a relative step (at most lr per step).',
  absolute:
    'With scale_parameter=False (as the Hugging Face Trainer builds it for optim=adafactor) lr is an absolute step per weight, like Adam, with the update clipped to RMS ≤ 1.',
  unknown:
    'With scale_parameter (transformers’ default) lr is a relative step; with scale_parameter=False an absolute step per weight; with relative_step=True it is not used — this config does not say which.',
};

/** The reading of one optimizer (null: not named). */
export function readingOf(family: OptimizerFamily | null, optimizer: ConfigOptimizer | null = null): LrReading {
  if (family === null)
    return { family, optimizer, label: null, meaning: lrMeaning(null), needsScale: true, step: { kind: 'adam-band' }, assumed: true };
  if (family === 'other') {
    const name = optimizer?.name ?? 'This optimizer';
    return {
      family,
      optimizer,
      label: optimizer?.name ?? 'an unknown optimizer',
      meaning: `\`${name}\` is not an optimizer Optimizer Lens knows: whether its lr is a step per weight (as under Adam) depends on how it normalizes its update, so nothing is assumed here.`,
      needsScale: false,
      step: { kind: 'none' },
      assumed: false,
    };
  }
  const base = OPTIMIZER_LABELS[family];
  const label = `${base}${optimizer?.eightBit ? ' (8-bit)' : ''}${optimizer?.options.amsgrad ? ' (AMSGrad)' : ''}`;
  const eight = optimizer?.eightBit ? ' Its 8-bit state (bitsandbytes) is dequantized for the step: the update is the 32-bit one.' : '';
  const r = (step: StepModel, needsScale: boolean, extra = ''): LrReading => ({
    family,
    optimizer,
    label,
    meaning: `${lrMeaning(family)}${extra}${eight}`,
    needsScale,
    step,
    assumed: false,
  });
  switch (OPTIMIZER_NORMALIZATION[family]) {
    case 'second-moment':
      return r({ kind: 'adam-band' }, true);
    case 'sign':
      return r({ kind: 'over-scale', exact: true }, true);
    case 'trust-ratio': {
      if (family === 'lamb') return r({ kind: 'relative', factor: 1, exact: true }, false);
      const eta = optimizer?.options.trustCoefficient ?? null;
      return r(
        { kind: 'relative', factor: eta, exact: false },
        false,
        eta === null
          ? ' LARS multiplies it by the trust coefficient η (not stated here; 0.001 in the LARS paper), so the relative step is lr × η.'
          : ` With η = ${eta} the relative step is lr × η.`,
      );
    }
    case 'orthogonalized':
      return r({ kind: 'muon' }, true);
    case 'factored': {
      const mode = adafactorMode(optimizer);
      const step: StepModel =
        mode === 'absolute'
          ? { kind: 'over-scale', exact: false }
          : mode === 'scale-relative'
            ? { kind: 'relative', factor: 1, exact: false }
            : { kind: 'none' };
      const out = r(step, mode === 'absolute', ` ${ADAFACTOR_SENTENCE[mode]}`);
      out.label = mode === 'relative-step' ? `${label} (relative_step)` : mode === 'absolute' ? `${label} (absolute lr)` : label;
      out.adafactor = mode;
      return out;
    }
    case 'none':
      return r({ kind: 'none' }, false);
  }
}

/** The optimizer a config lr belongs to (by key path, call or name; else the file's single kind). */
export function optimizerOfLr(lr: ConfigLearningRate, scan: ConfigScan): ConfigOptimizer | null {
  if (lr.optimizer !== undefined) return scan.optimizers[lr.optimizer] ?? null;
  const fam = optimizerFamilyOf(scan);
  if (fam === null) return null;
  return scan.optimizers.find((o) => o.family === fam) ?? null;
}

export function readingFor(lr: ConfigLearningRate, scan: ConfigScan): LrReading {
  const o = optimizerOfLr(lr, scan);
  return readingOf(o ? o.family : lr.optimizer === undefined ? optimizerFamilyOf(scan) : null, o);
}

/** The optimizer family the file states (null when not stated or mixed families). */
export function optimizerFamilyOf(scan: ConfigScan): OptimizerFamily | null {
  const fams = new Set(scan.optimizers.map((o) => o.family));
  if (fams.size === 0) return null;
  if (fams.size === 1) return [...fams][0];
  if ([...fams].every((f) => f === 'sgd')) return 'sgd';
  return [...fams].find((f) => f === 'adamw' || f === 'adam') ?? null;
}

/** What Ultralytics' `optimizer: auto` does with a config's lr0 (ultralytics/engine/trainer.py, build_optimizer). */
export interface AutoOptimizerReading {
  /** The lr Ultralytics fits for AdamW, round(0.002·5/(4 + nc), 6), when the file states nc. */
  adamWLr: number | null;
  message: string;
}

/** Ultralytics' fit for AdamW's lr from the number of classes (6 decimals, as the trainer rounds it). */
export const ultralyticsAutoLr = (classes: number) => Math.round((0.002 * 5 * 1e6) / (4 + classes)) / 1e6;

/**
 * Ultralytics with `optimizer: auto` ignores lr0 and momentum: its trainer picks SGD(lr=0.01, momentum=0.9)
 * when the run has more than 10,000 iterations (epochs × batches of max(batch, nbs)), else
 * AdamW(lr=round(0.002·5/(4+nc), 6), betas=(0.9, 0.999)), and sets warmup_bias_lr to 0. Null for any other lr.
 */
export function autoOptimizerReading(lr: ConfigLearningRate, scan: ConfigScan): AutoOptimizerReading | null {
  const auto = scan.autoOptimizer;
  if (!auto) return null;
  const last = normalizeKey(lr.key.split('.').pop()!);
  if (last !== 'lr0' && last !== 'warmup_bias_lr') return null;
  const adamWLr = auto.classes !== undefined ? ultralyticsAutoLr(auto.classes) : null;
  const adamW =
    adamWLr !== null
      ? `AdamW(lr=${formatNumber(adamWLr, 6)} for nc = ${auto.classes}, betas=(0.9, 0.999))`
      : `AdamW(lr=0.002·5/(4 + nc): ${formatNumber(ultralyticsAutoLr(80))} for COCO's 80 classes, betas=(0.9, 0.999))`;
  const what = last === 'lr0' ? `${lr.key} = ${formatNumber(lr.value)} is not used` : `${lr.key} is set to 0`;
  return {
    adamWLr,
    message: `${auto.key}: ${auto.raw} (line ${auto.range.line}): ${what}. Ultralytics then picks the optimizer and its lr itself, ignoring lr0 and momentum: SGD(lr=0.01, momentum=0.9) for runs of more than 10,000 iterations, else ${adamW}, with warmup_bias_lr set to 0. Name the optimizer (SGD, AdamW, …) for lr0 to apply.`,
  };
}
