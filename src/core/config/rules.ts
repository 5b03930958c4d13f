// Rules over a config scan (README "Findings"): the same ids as the run analysis, in CLI JSON,
// Problems and hovers.
import { DEFAULT_THRESHOLDS, type Thresholds } from '../rules/types';
import { formatNumber, formatPercent } from '../../shared/format';
import type { ConfigFinding, ConfigLearningRate, ConfigScale, ConfigScan, LinkedScale, OptimizerFamily } from './types';
import { LATE_UPDATE_RMS } from './explain';

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

/**
 * The scale that goes with a learning rate: an annotation on the lr's line or the line above (that lr only),
 * else a linked run (measured per layer), else a file-wide annotation (one that is on or above no lr's line),
 * a stated init scale, an init call, a sibling file.
 */
export function scaleFor(lr: ConfigLearningRate, scan: ConfigScan, linked?: LinkedScale | null): ScaleChoice | null {
  const near = scan.scales.find((s) => annotationIsNear(s, lr));
  if (near) return { value: near.value, source: describeScale(near), scale: near };
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
  const fileWide = (s: ConfigScale) => s.source !== 'annotation' || !scan.learningRates.some((l) => annotationIsNear(s, l));
  for (const source of ['annotation', 'stated', 'init-call', 'sibling'] as const) {
    const s = scan.scales.find((x) => x.source === source && fileWide(x));
    if (s) return { value: s.value, source: describeScale(s), scale: s };
  }
  return null;
}

/** The optimizer family the file states (null when not stated or mixed families). */
export function optimizerFamilyOf(scan: ConfigScan): OptimizerFamily | null {
  const fams = new Set(scan.optimizers.map((o) => o.family));
  if (fams.size === 0) return null;
  if (fams.size === 1) return [...fams][0];
  if ([...fams].every((f) => f === 'sgd')) return 'sgd';
  return [...fams].find((f) => f === 'adamw' || f === 'adam') ?? null;
}

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
        message: `${f.key}: ${f.raw} is read as ${formatNumber(f.value)} here (${scan.yamlLoader.hint === 'hydra' ? 'Hydra/OmegaConf' : 'Lightning CLI'} resolves it as a float; evidence: ${scan.yamlLoader.evidence}), but YAML 1.1 loaders such as PyYAML's yaml.safe_load return the string '${f.raw}'. ${fixed} is a float everywhere.`,
        evidence: { key: f.key, raw: f.raw, value: f.value, replacement: fixed, loader: scan.yamlLoader.hint },
      });
    } else {
      out.push({
        rule: 'yaml-float-string',
        severity: 'warning',
        range: f.range,
        message: `${f.key}: ${f.raw} is the string '${f.raw}' for YAML 1.1 loaders such as PyYAML's yaml.safe_load (YAML 1.2 reads the float ${f.value}); write ${fixed}.`,
        evidence: { key: f.key, raw: f.raw, value: f.value, replacement: fixed },
      });
    }
  }

  const family = optimizerFamilyOf(scan);
  for (const o of scan.optimizers) {
    if (o.family !== 'sgd') continue;
    out.push({
      rule: 'not-adam',
      severity: 'info',
      range: o.range,
      message: `${o.name} is SGD-like: its lr is not a step size (the step is lr × gradient, with momentum), so the Adam reading lr ≈ step per weight does not apply; rescaling weights by k needs lr × k².`,
      evidence: { optimizer: o.name, key: o.key },
    });
  }

  if (family !== 'sgd') {
    for (const lr of scan.learningRates) {
      if (lr.role !== 'peak') continue;
      const choice = scaleFor(lr, scan, options.linked);
      if (!choice) {
        out.push({
          rule: 'lr-without-scale',
          severity: 'warning',
          range: lr.range,
          message: `${lr.key} = ${formatNumber(lr.value)} without a parameter scale: under Adam each weight moves by ≈ ${formatNumber(lr.value)} per step whatever its size, so the relative step is unknown (${formatNumber(lr.value / 0.02)} at scale 0.02, ${formatNumber(lr.value)} at scale 1). State the scale (# optimizer-lens: param-scale=…) or link a log or checkpoint.`,
          evidence: { key: lr.key, lr: lr.value },
        });
        continue;
      }
      const rels = choice.layers
        ? choice.layers.map((l) => ({ name: l.name, rel: lr.value / l.paramRms }))
        : [{ name: null as string | null, rel: lr.value / choice.value }];
      const maxRel = rels.reduce((a, b) => (b.rel > a.rel ? b : a));
      const minRel = rels.reduce((a, b) => (b.rel < a.rel ? b : a));
      const linkedName = options.linked ? options.linked.path.split(/[\\/]/).filter(Boolean).pop() : '';
      const scaleText = (r: { name: string | null; rel: number }, n: number, side: string) =>
        r.name
          ? `layer ${r.name}'s RMS ${formatNumber(lr.value / r.rel)} (linked ${linkedName}${options.linked?.step !== null && options.linked?.step !== undefined ? ` at step ${options.linked.step}` : ''}${n > 1 ? `; ${n - 1} more layer${n > 2 ? 's' : ''} ${side}` : ''})`
          : `scale ${formatNumber(choice.value)} (${choice.source})`;
      const later = (r: number) => `${formatNumber(r * LATE_UPDATE_RMS[0])}–${formatNumber(r * LATE_UPDATE_RMS[1])}`;
      if (maxRel.rel > th.relativeStepHigh) {
        const n = rels.filter((r) => r.rel > th.relativeStepHigh).length;
        out.push({
          rule: 'relative-step-high',
          severity: 'warning',
          range: lr.range,
          message: `${lr.key} = ${formatNumber(lr.value)} with ${scaleText(maxRel, n, 'above')}: relative step lr/scale = ${formatNumber(maxRel.rel)} (${formatPercent(maxRel.rel)} per step) > ${formatNumber(th.relativeStepHigh)}; later in training RMS(u) 0.2–0.45 gives ≈ ${later(maxRel.rel)}.`,
          evidence: {
            key: lr.key,
            lr: lr.value,
            scale: choice.value,
            relativeStep: maxRel.rel,
            threshold: th.relativeStepHigh,
            layer: maxRel.name,
            layersAbove: n,
          },
        });
      }
      if (minRel.rel < th.relativeStepLow) {
        const n = rels.filter((r) => r.rel < th.relativeStepLow).length;
        out.push({
          rule: 'relative-step-low',
          severity: 'warning',
          range: lr.range,
          message: `${lr.key} = ${formatNumber(lr.value)} with ${scaleText(minRel, n, 'below')}: relative step lr/scale = ${formatNumber(minRel.rel)} < ${formatNumber(th.relativeStepLow)}; the weights barely move (and later RMS(u) 0.2–0.45 makes it ≈ ${later(minRel.rel)}).`,
          evidence: {
            key: lr.key,
            lr: lr.value,
            scale: choice.value,
            relativeStep: minRel.rel,
            threshold: th.relativeStepLow,
            layer: minRel.name,
            layersBelow: n,
          },
        });
      }
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
