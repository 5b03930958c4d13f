// Rules over a config scan (README "Findings"): the same ids as the run analysis, in CLI JSON,
// Problems and hovers.
import { DEFAULT_THRESHOLDS, type Severity, type Thresholds } from '../rules/types';
import { formatNumber, formatPercent } from '../../shared/format';
import { lrForTarget } from '../../shared/equivalence';
import { lrMeaning } from '../../shared/optimizers';
import { autoOptimizerReading, LATE_UPDATE_RMS, readingFor, type LrReading } from './reading';
import type { ConfigFinding, ConfigLearningRate, ConfigScale, ConfigScan, LinkedScale } from './types';

/** Target relative step per optimizer step when none is configured (optimizerLens.targetRelativeStep). */
export const DEFAULT_TARGET_RELATIVE_STEP = 1e-3;

/** Smallest positive float16 (subnormal): 2^-24 ≈ 5.96e-8. Below half of it a value rounds to 0. */
export const FP16_MIN_SUBNORMAL = 2 ** -24;

/** Round a float64 to the nearest float16 value (round half to even), as a number. */
export function toFloat16(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const sign = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  if (a >= 65520) return sign * Infinity;
  const e = Math.max(Math.floor(Math.log2(a)), -14);
  const quantum = 2 ** (e - 10);
  let q = a / quantum;
  const f = Math.floor(q);
  const rem = q - f;
  q = rem > 0.5 || (rem === 0.5 && f % 2 === 1) ? f + 1 : f;
  return sign * q * quantum;
}

/**
 * The same number written so YAML 1.1 (PyYAML) reads a float too: a digit before and after the dot and a signed
 * exponent ('1e-4' → '1.0e-4', '1e4' → '1.0e+4', '+.5' → '+0.5').
 */
export function yaml11Float(raw: string): string {
  const m = /^([-+]?)(\d[\d_]*)?(?:\.([\d_]*))?(?:[eE]([-+]?)(\d+))?$/.exec(raw.trim());
  if (!m) return raw;
  const [, sign, int, frac, esign, exp] = m;
  return `${sign}${int ?? '0'}.${frac || '0'}${exp !== undefined ? `e${esign || '+'}${exp}` : ''}`;
}

export interface ConfigLintOptions {
  thresholds?: Partial<Thresholds>;
  /** A linked log or checkpoint's per-layer parameter RMS. */
  linked?: LinkedScale | null;
}

export interface ScaleChoice {
  /** The single scale used for messages (for a linked run: the median layer RMS). */
  value: number;
  /** How it is described in text. */
  source: string;
  scale?: ConfigScale;
  /** Per-layer measured scales (linked run). */
  layers?: { name: string; paramRms: number }[];
}

function describeScale(s: ConfigScale): string {
  switch (s.source) {
    case 'annotation':
      return `annotation, line ${s.range.line}`;
    case 'sibling':
      return `${s.key} in ${s.path ? s.path.split(/[\\/]/).pop() : 'a sibling file'}`;
    case 'init-call':
      return `${s.key}, line ${s.range.line}`;
    default:
      return `${s.key}, line ${s.range.line}`;
  }
}

/** An annotation on an lr's line or the line above it is that lr's own. */
export function annotationIsNear(scale: ConfigScale, lr: ConfigLearningRate): boolean {
  return scale.source === 'annotation' && (scale.range.line === lr.range.line || scale.range.line === lr.range.line - 1);
}

/** Lines an annotation on which belongs to one lr (its line or the line above), once per scan. */
const nearCache = new WeakMap<ConfigScan, Set<number>>();
function nearLines(scan: ConfigScan): Set<number> {
  let s = nearCache.get(scan);
  if (!s) {
    s = new Set();
    for (const l of scan.learningRates) {
      s.add(l.range.line);
      s.add(l.range.line - 1);
    }
    nearCache.set(scan, s);
  }
  return s;
}

/**
 * The scale that goes with a learning rate: an annotation on the lr's line or the line above (that lr only),
 * else a linked run (measured per layer), else a file-wide annotation (one that is on or above no lr's line),
 * a stated init scale, an init call, a sibling file.
 */
export function scaleFor(lr: ConfigLearningRate, scan: ConfigScan, linked?: LinkedScale | null): ScaleChoice | null {
  const own = scan.scales.find((s) => annotationIsNear(s, lr));
  if (own) return { value: own.value, source: describeScale(own), scale: own };
  if (linked) {
    const layers = linked.layers.filter((l): l is { name: string; paramRms: number } => typeof l.paramRms === 'number' && l.paramRms > 0);
    if (layers.length) {
      const sorted = layers.map((l) => l.paramRms).sort((a, b) => a - b);
      const median = sorted[Math.floor(sorted.length / 2)];
      const name = linked.path.split(/[\\/]/).pop();
      return {
        value: median,
        source: `median layer RMS of linked ${name}${linked.step !== null ? ` at step ${linked.step}` : ''}`,
        layers,
      };
    }
  }
  const near = nearLines(scan);
  const fileWide = (s: ConfigScale) => s.source !== 'annotation' || !near.has(s.range.line);
  for (const source of ['annotation', 'stated', 'init-call', 'sibling'] as const) {
    const s = scan.scales.find((x) => x.source === source && fileWide(x));
    if (s) return { value: s.value, source: describeScale(s), scale: s };
  }
  return null;
}

export { optimizerFamilyOf } from './reading';

/** A relative-step estimate for one scale (or one layer of a linked run). */
export interface StepEstimate {
  layer: string | null;
  scale: number | null;
  /** Adam family: the step-1 bound lr/scale (RMS(u) ≈ 1); Lion: exact; trust ratio: lr × factor. */
  first: number;
  /** Adam family: LATE_UPDATE_RMS × first; null where there is no such band. */
  later: [number, number] | null;
}

/** The relative steps an lr gives under its optimizer, per layer of a linked run or for the one scale; null: not computable. */
export function stepEstimates(lr: number, reading: LrReading, choice: ScaleChoice | null): StepEstimate[] | null {
  const step = reading.step;
  if (step.kind === 'relative')
    return step.factor === null ? null : [{ layer: null, scale: choice?.value ?? null, first: lr * step.factor, later: null }];
  if ((step.kind !== 'adam-band' && step.kind !== 'over-scale') || !choice) return null;
  const scales = choice.layers ? choice.layers.map((l) => ({ layer: l.name, scale: l.paramRms })) : [{ layer: null, scale: choice.value }];
  return scales.map(({ layer, scale }) => {
    const first = lr / scale;
    return { layer, scale, first, later: step.kind === 'adam-band' ? [first * LATE_UPDATE_RMS[0], first * LATE_UPDATE_RMS[1]] : null };
  });
}

/** A relative-step verdict: the finding the config lint reports and the hover repeats (one computation, one text). */
export interface StepVerdict {
  rule: 'relative-step-high' | 'relative-step-low';
  severity: Severity;
  message: string;
  estimate: StepEstimate;
  /** Layers beyond the threshold (linked run). */
  layers: number;
  /** lr for the target relative step under the same reading (the set-lr quick fix). */
  lrForTarget: number | null;
}

const range2 = (r: [number, number]) => `${formatNumber(r[0])}–${formatNumber(r[1])}`;

/** lr that gives `target` under this reading: Adam family by the later band's upper end (then the whole band is at or below it). */
export function lrForTargetStep(reading: LrReading, scale: number | null, target: number): number | null {
  const step = reading.step;
  const kind = reading.family === null || reading.family === 'other' ? null : reading.family;
  if (step.kind === 'relative') return step.factor ? target / step.factor : null;
  if (scale === null || !(scale > 0)) return null;
  if (step.kind === 'adam-band')
    return lrForTarget({ name: '', paramRms: scale, adamUpdateRms: LATE_UPDATE_RMS[1], relStep: null }, null, target, kind).lr;
  if (step.kind === 'over-scale') return lrForTarget({ name: '', paramRms: scale, adamUpdateRms: 1, relStep: null }, null, target, kind).lr;
  return null;
}

export function stepVerdicts(
  lr: ConfigLearningRate,
  reading: LrReading,
  choice: ScaleChoice | null,
  th: Thresholds,
  linked: LinkedScale | null | undefined,
  target = DEFAULT_TARGET_RELATIVE_STEP,
): StepVerdict[] {
  const est = stepEstimates(lr.value, reading, choice);
  if (!est?.length) return [];
  const out: StepVerdict[] = [];
  const linkedName = linked ? linked.path.split(/[\\/]/).filter(Boolean).pop() : '';
  const at = (e: StepEstimate, n: number, side: string) =>
    e.layer
      ? `layer ${e.layer}'s RMS ${formatNumber(e.scale)} (linked ${linkedName}${linked?.step !== null && linked?.step !== undefined ? ` at step ${linked.step}` : ''}${n > 1 ? `; ${n - 1} more layer${n > 2 ? 's' : ''} ${side}` : ''})`
      : choice
        ? `scale ${formatNumber(choice.value)} (${choice.source})`
        : 'any scale';
  const who = `${lr.key} = ${formatNumber(lr.value)}${lr.role === 'group' ? ` (${lr.label})` : ''}`;
  const band = reading.step.kind === 'adam-band';
  // High. The Adam family warns when the whole later band (RMS(u) 0.2–0.45) is above the threshold; when only
  // the step-1 bound (RMS(u) ≈ 1) or part of the band is, it is an info that gives both numbers. The others are exact.
  const highOf = (e: StepEstimate) => (band ? e.later![0] : e.first);
  const hi = est.reduce((a, b) => (highOf(b) > highOf(a) || (highOf(b) === highOf(a) && b.first > a.first) ? b : a));
  const nHigh = est.filter((e) => highOf(e) > th.relativeStepHigh).length;
  if (band && hi.later![0] > th.relativeStepHigh) {
    out.push({
      rule: 'relative-step-high',
      severity: 'warning',
      estimate: hi,
      layers: nHigh,
      lrForTarget: lrForTargetStep(reading, hi.scale, target),
      message: `${who} with ${at(hi, nHigh, 'above')}: later in training (RMS(u) ${LATE_UPDATE_RMS[0]}–${LATE_UPDATE_RMS[1]}) the relative step is ≈ ${range2(hi.later!)} per step, above ${formatNumber(th.relativeStepHigh)}; at step 1 (RMS(u) ≈ 1) lr/scale = ${formatNumber(hi.first)} (${formatPercent(hi.first)}).`,
    });
  } else if (band) {
    const b = est.reduce((a, x) => (x.first > a.first ? x : a));
    const n = est.filter((e) => e.first > th.relativeStepHigh).length;
    if (b.first > th.relativeStepHigh)
      out.push({
        rule: 'relative-step-high',
        severity: 'info',
        estimate: b,
        layers: n,
        lrForTarget: lrForTargetStep(reading, b.scale, target),
        message: `${who} with ${at(b, n, 'above')}: lr/scale = ${formatNumber(b.first)} is the step-1 bound (RMS(u) ≈ 1), above ${formatNumber(th.relativeStepHigh)}; later in training RMS(u) ${LATE_UPDATE_RMS[0]}–${LATE_UPDATE_RMS[1]} gives ≈ ${range2(b.later!)}, ${b.later![1] > th.relativeStepHigh ? `above ${formatNumber(th.relativeStepHigh)} only at the upper end` : 'below it'}.`,
      });
  } else if (hi.first > th.relativeStepHigh) {
    const exact = reading.step.kind === 'over-scale' ? reading.step.exact : reading.step.kind === 'relative' && reading.step.exact;
    const how =
      reading.step.kind === 'relative'
        ? `${reading.label}'s relative step is ${reading.step.factor === 1 ? 'lr' : `lr × ${formatNumber(reading.step.factor)}`}`
        : `${reading.label}'s relative step is ${exact ? '' : 'at most '}lr/scale`;
    out.push({
      rule: 'relative-step-high',
      severity: 'warning',
      estimate: hi,
      layers: nHigh,
      lrForTarget: lrForTargetStep(reading, hi.scale, target),
      message: `${who}${reading.step.kind === 'relative' ? '' : ` with ${at(hi, nHigh, 'above')}`}: ${how} = ${formatNumber(hi.first)} (${formatPercent(hi.first)} per step), above ${formatNumber(th.relativeStepHigh)}.`,
    });
  }
  const lo = est.reduce((a, b) => (b.first < a.first ? b : a));
  const nLow = est.filter((e) => e.first < th.relativeStepLow).length;
  if (lr.value > 0 && lo.first < th.relativeStepLow)
    out.push({
      rule: 'relative-step-low',
      severity: 'warning',
      estimate: lo,
      layers: nLow,
      lrForTarget: lrForTargetStep(reading, lo.scale, target),
      message: `${who} with ${at(lo, nLow, 'below')}: relative step ${band ? 'at most ' : ''}${formatNumber(lo.first)} per step${band ? ' (the step-1 bound; later RMS(u) makes it smaller)' : ''}, below ${formatNumber(th.relativeStepLow)}: the weights barely move.`,
    });
  return out;
}

/** lr-without-scale, in the words of the lr's optimizer (null: the rule does not apply to it). */
export function withoutScaleMessage(lr: ConfigLearningRate, reading: LrReading): { severity: Severity; message: string } | null {
  const who = `${lr.key} = ${formatNumber(lr.value)}${lr.role === 'group' ? ` (${lr.label})` : ''}`;
  const fix = 'State the scale (# optimizer-lens: param-scale=…) or link a log or checkpoint.';
  if (reading.family === 'other')
    return {
      severity: 'info',
      message: `${who} without a parameter scale, for ${reading.label}, an optimizer Optimizer Lens does not know: if it normalizes its update like Adam, lr is an absolute step per weight and the relative step needs the scale; if not, lr is not a step size. ${fix}`,
    };
  if (!reading.needsScale) return null;
  const step = reading.step.kind;
  const under = reading.assumed ? 'if the optimizer is Adam-like (the config does not name it)' : `under ${reading.label}`;
  const what =
    step === 'over-scale'
      ? `${under} each weight moves by ${reading.step.kind === 'over-scale' && reading.step.exact ? 'exactly' : 'at most'} ${formatNumber(lr.value)} per step whatever its size`
      : step === 'muon'
        ? `${under} the update's RMS is lr × c(shape), the same whatever the weight's size`
        : `${under} each weight moves by ≈ ${formatNumber(lr.value)} × RMS(u) per step whatever its size`;
  return {
    severity: 'warning',
    message: `${who} without a parameter scale: ${what}, so the relative step is unknown (${step === 'adam-band' ? 'at step 1: ' : ''}${formatNumber(lr.value / 0.02)} at scale 0.02, ${formatNumber(lr.value)} at scale 1). ${fix}`,
  };
}

/** Roles whose lr sets the step size (the findings are about these). */
export const isStepLr = (lr: ConfigLearningRate) => (lr.role === 'main' || lr.role === 'group') && !lr.feeds;

export function lintConfig(scan: ConfigScan, options: ConfigLintOptions = {}): ConfigFinding[] {
  const th = { ...DEFAULT_THRESHOLDS, ...(options.thresholds ?? {}) };
  const out: ConfigFinding[] = [];

  for (const f of scan.yamlFloatStrings) {
    const fixed = yaml11Float(f.raw);
    if (scan.yamlLoader) {
      out.push({
        rule: 'yaml-float-string',
        severity: 'info',
        range: f.range,
        message: `${f.key}: ${f.raw} is read as ${formatNumber(f.value)} here (${LOADER_NAMES[scan.yamlLoader.hint]}; evidence: ${scan.yamlLoader.evidence}), but YAML 1.1 loaders such as PyYAML's yaml.safe_load return the string '${f.raw}'. ${fixed} is a float everywhere.`,
        evidence: { key: f.key, raw: f.raw, value: f.value, replacement: fixed, loader: scan.yamlLoader.hint },
      });
    } else {
      out.push({
        rule: 'yaml-float-string',
        severity: 'warning',
        range: f.range,
        message: `${f.key}: ${f.raw} is the string '${f.raw}' for YAML 1.1 loaders such as PyYAML's yaml.safe_load (YAML 1.2 reads the float ${formatNumber(f.value)}); write ${fixed}.`,
        evidence: { key: f.key, raw: f.raw, value: f.value, replacement: fixed },
      });
    }
  }

  for (const o of scan.optimizers) {
    if (o.family !== 'sgd') continue;
    out.push({
      rule: 'not-adam',
      severity: 'info',
      range: o.range,
      message: `${o.name} is SGD-like: ${lrMeaning('sgd')} Rescaling the weights by k keeps training the same only with lr × k².`,
      evidence: { optimizer: o.name, key: o.key },
    });
  }

  for (const lr of scan.learningRates) {
    if (!isStepLr(lr)) continue;
    const auto = autoOptimizerReading(lr, scan);
    if (auto) {
      // The trainer replaces this lr: a verdict on its step size would be about an lr the run never uses.
      out.push({
        rule: 'lr-ignored',
        severity: 'warning',
        range: lr.range,
        message: auto.message,
        evidence: { key: lr.key, lr: lr.value, optimizerKey: scan.autoOptimizer!.key, optimizer: 'auto', adamWLr: auto.adamWLr },
      });
      continue;
    }
    const reading = readingFor(lr, scan);
    if (reading.family === 'sgd') continue;
    const choice = scaleFor(lr, scan, options.linked);
    if (!choice && reading.step.kind !== 'relative') {
      const m = withoutScaleMessage(lr, reading);
      if (m)
        out.push({
          rule: 'lr-without-scale',
          severity: m.severity,
          range: lr.range,
          message: m.message,
          evidence: { key: lr.key, lr: lr.value, optimizer: reading.label },
        });
      continue;
    }
    for (const v of stepVerdicts(lr, reading, choice, th, options.linked)) {
      out.push({
        rule: v.rule,
        severity: v.severity,
        range: lr.range,
        message: v.message,
        evidence: {
          key: lr.key,
          lr: lr.value,
          scale: v.estimate.scale,
          relativeStep: v.estimate.first,
          relativeStepLater: v.estimate.later,
          threshold: v.rule === 'relative-step-high' ? th.relativeStepHigh : th.relativeStepLow,
          layer: v.estimate.layer,
          [v.rule === 'relative-step-high' ? 'layersAbove' : 'layersBelow']: v.layers,
          lrForTarget: v.lrForTarget,
          optimizer: reading.label,
        },
      });
    }
  }

  const trueHalf = scan.precision.find((p) => p.mode === 'fp16-true');
  if (trueHalf) {
    for (const e of scan.eps) {
      if (!(e.value > 0 && e.value < FP16_MIN_SUBNORMAL)) continue;
      const inHalf = toFloat16(e.value);
      out.push({
        rule: 'eps-underflow-fp16',
        severity: 'warning',
        range: e.range,
        message: `${e.key} = ${formatNumber(e.value)} is below float16's smallest subnormal 2^-24 ≈ 5.96e-8, and the optimizer runs in true half precision (${trueHalf.key}${trueHalf.key.includes('(') ? '' : ` = ${trueHalf.raw}`}, line ${trueHalf.range.line}): in float16 eps becomes ${inHalf === 0 ? '0' : formatNumber(inHalf)}, so √v̂ + ε can be 0. Use eps ≥ 1e-7 (or keep fp32 master weights).`,
        evidence: { key: e.key, eps: e.value, epsInFloat16: inHalf, precision: trueHalf.key, precisionLine: trueHalf.range.line },
      });
    }
  }
  out.sort((a, b) => a.range.start - b.range.start || a.rule.localeCompare(b.rule));
  return out;
}

/** How a loader that resolves '1e-4' to a float is named in messages. */
export const LOADER_NAMES: Record<NonNullable<ConfigScan['yamlLoader']>['hint'], string> = {
  hydra: 'Hydra/OmegaConf resolves it as a float',
  'lightning-cli': 'Lightning CLI resolves it as a float',
  yacs: "yacs' merge_from_file literal_evals the string",
  axolotl: 'axolotl converts it with float()',
};
