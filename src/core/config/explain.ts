// "Explain Learning Rate": what an (lr, parameter scale) pair means under the optimizer it belongs to, as
// structured data and compact Markdown. Shared by the CLI, the config hover and the Explain Learning Rate view.
// The arithmetic is src/shared/equivalence.ts's (equivalent triples, lr for a target), numbers go through
// src/shared/format.ts, and the sentence of what lr means is src/shared/optimizers.ts's lrMeaning.
import { formatNumber, formatPercent } from '../../shared/format';
import { equivalentPairs, lrScaling } from '../../shared/equivalence';
import { LATE_UPDATE_RMS, readingOf, type LrReading } from './reading';
import { DEFAULT_TARGET_RELATIVE_STEP, lrForTargetStep } from './rules';
import type { OptimizerFamily } from './types';

export { LATE_UPDATE_RMS } from './reading';
export { DEFAULT_TARGET_RELATIVE_STEP } from './rules';

export interface ExplainInput {
  lr: number;
  /** Parameter scale (init std or measured RMS); null/undefined when not known. */
  scale?: number | null;
  optimizer?: OptimizerFamily | null;
  /** The reading of the lr's optimizer (its options, 8-bit, Adafactor mode); derived from `optimizer` when absent. */
  reading?: LrReading;
  /** Target relative step per optimizer step (default 1e-3). */
  target?: number;
  /** Per-layer measured scales (a linked run): the relative step per layer. */
  layers?: { name: string; paramRms: number | null }[];
  /** Where the scale came from, for the text ('initializer_range in config.json', 'linked run …'). */
  scaleSource?: string;
  eps?: number | null;
  /** Muon: a model width the config states (a d×d weight's update RMS follows from it). */
  width?: { value: number; key: string; line: number } | null;
}

export interface EquivalentPair {
  lr: number;
  scale: number;
  /** eps divided by the same factor keeps the run exactly equivalent (Adam family, LAMB); null when eps unknown or none. */
  eps: number | null;
  factor: number;
}

export interface Explanation {
  lr: number;
  scale: number | null;
  family: OptimizerFamily | null;
  /** Adam family: each weight moves by about lr per step at the start; Lion: exactly lr. Null where lr is not a step per weight. */
  absoluteStep: number | null;
  /** The step-1 bound lr/scale (Adam family), the exact lr/scale (Lion), lr × factor (trust ratio); null when not computable. */
  relativeStep: number | null;
  /** Adam family: lr·RMS(u)/scale for RMS(u) in LATE_UPDATE_RMS. */
  relativeStepLater: [number, number] | null;
  /** Per layer (linked run): lr / paramRms, sorted high to low. */
  layers: { name: string; paramRms: number; relativeStep: number }[];
  equivalents: EquivalentPair[];
  target: number;
  /** lr that gives `target` under this optimizer (Adam family: at the later band's upper end, so later steps are at most the target). */
  lrForTarget: number | null;
  /** Adam family: lr for the target across the later band [RMS(u) 0.45, RMS(u) 0.2]. */
  lrForTargetRange: [number, number] | null;
  markdown: string;
}

const pair = (q: { lr: number; scale: number; eps: number | null }) =>
  `(lr ${formatNumber(q.lr)}, scale ${formatNumber(q.scale)}${q.eps !== null ? `, eps ${formatNumber(q.eps)}` : ''})`;

/** The equivalence sentence, saying the direction of each change both ways. */
function equivalenceText(reading: LrReading, lr: number, scale: number, eps: number | null, pairs: EquivalentPair[]): string {
  const kind = reading.family === null || reading.family === 'other' ? null : reading.family;
  const { lrPower, epsScales } = lrScaling(kind);
  const up = pairs.find((q) => q.factor > 1)!;
  const down = pairs.find((q) => q.factor < 1)!;
  const k = formatNumber(up.factor);
  const lrUp = lrPower === 0 ? 'lr unchanged' : lrPower === 2 ? `lr ×${formatNumber(up.factor ** 2)}` : `lr ×${k}`;
  const lrDown = lrPower === 0 ? 'lr unchanged' : lrPower === 2 ? `lr ÷${formatNumber(up.factor ** 2)}` : `lr ÷${k}`;
  const epsUp = epsScales ? ` and ε ÷${k}` : '';
  const epsDown = epsScales ? ` and ε ×${k}` : '';
  const name = reading.label ?? 'Adam';
  const exact = epsScales ? (eps === null ? ' (exact only with ε rescaled by the same factor)' : ' (exact with ε rescaled)') : '';
  return `Equivalent under ${reading.assumed ? 'an Adam-like optimizer' : name}, the same relative step${exact}: weights ×${k} with ${lrUp}${epsUp} → ${pair(up)}; weights ÷${k} with ${lrDown}${epsDown} → ${pair(down)}; this config: ${pair({ lr, scale, eps: epsScales ? eps : null })}.`;
}

export function explainLearningRate(input: ExplainInput): Explanation {
  const lr = input.lr;
  const reading = input.reading ?? readingOf(input.optimizer ?? null);
  const family = reading.family;
  const step = reading.step;
  const target = input.target && input.target > 0 ? input.target : DEFAULT_TARGET_RELATIVE_STEP;
  const layers = (input.layers ?? [])
    .filter((l): l is { name: string; paramRms: number } => typeof l.paramRms === 'number' && l.paramRms > 0)
    .map((l) => ({ name: l.name, paramRms: l.paramRms, relativeStep: lr / l.paramRms }))
    .sort((a, b) => b.relativeStep - a.relativeStep);
  let scale = input.scale && input.scale > 0 ? input.scale : null;
  if (scale === null && layers.length) {
    const sorted = layers.map((l) => l.paramRms).sort((a, b) => a - b);
    scale = sorted[Math.floor(sorted.length / 2)];
  }
  const eps = input.eps ?? null;
  const kind = family === null || family === 'other' ? null : family;
  const band = step.kind === 'adam-band';
  const relativeStep =
    step.kind === 'relative'
      ? step.factor !== null
        ? lr * step.factor
        : null
      : (band || step.kind === 'over-scale') && scale
        ? lr / scale
        : null;
  const relativeStepLater: [number, number] | null =
    band && relativeStep !== null ? [relativeStep * LATE_UPDATE_RMS[0], relativeStep * LATE_UPDATE_RMS[1]] : null;
  const equivalents: EquivalentPair[] =
    scale && family !== 'other' && step.kind !== 'none'
      ? equivalentPairs(lr, scale, eps, kind, [10, 0.1]).map((q) => ({ lr: q.lr, scale: q.scale, eps: q.eps, factor: q.k }))
      : family === 'sgd' && scale
        ? equivalentPairs(lr, scale, null, 'sgd', [10, 0.1]).map((q) => ({ lr: q.lr, scale: q.scale, eps: null, factor: q.k }))
        : [];
  const lrTarget = lrForTargetStep(reading, scale, target);
  const lrForTargetRange: [number, number] | null = band && scale ? [lrTarget!, (target * scale) / LATE_UPDATE_RMS[0]] : null;
  const scaleText = scale ? `scale ${formatNumber(scale)}${input.scaleSource ? ` (${input.scaleSource})` : ''}` : '';

  const md: string[] = [];
  md.push(`**lr = ${formatNumber(lr)}**${reading.label && !reading.assumed ? ` (${reading.label})` : ''}: ${reading.meaning}`);
  if (band)
    md.push(
      `At step 1 (RMS(u) ≈ 1) each weight moves by ≈ **${formatNumber(lr)}** per step, ≈ ${formatNumber(lr * LATE_UPDATE_RMS[0])}–${formatNumber(lr * LATE_UPDATE_RMS[1])} later, whatever its size.`,
    );
  else if (step.kind === 'over-scale')
    md.push(`Each weight moves by ${step.exact ? 'exactly' : 'at most'} **${formatNumber(lr)}** per step, whatever its size.`);
  if (family === 'sgd') {
    if (scale)
      md.push(`Parameter scale ${scaleText}; the relative step also depends on the gradient's scale, which a config does not state.`);
    if (equivalents.length) md.push(equivalenceText(reading, lr, scale!, null, equivalents));
  } else if (family === 'other') {
    if (scale)
      md.push(
        `Parameter ${scaleText}: if ${reading.label} is Adam-like, lr/scale = ${formatNumber(lr / scale)} would be its relative step at step 1; Optimizer Lens does not assume it.`,
      );
  } else if (step.kind === 'none') {
    // Adafactor with relative_step: nothing to compute from lr.
  } else if (step.kind === 'muon') {
    md.push(...muonText(lr, scale, input.scaleSource, input.width ?? null));
    if (scale && equivalents.length) md.push(equivalenceText(reading, lr, scale, eps, equivalents));
  } else if (step.kind === 'relative') {
    if (step.factor !== null)
      md.push(
        `Relative step ≈ ${step.factor === 1 ? 'lr' : `lr × ${formatNumber(step.factor)}`} = **${formatNumber(relativeStep)}** (${formatPercent(relativeStep)} per step)${step.exact ? ', per layer, within the trust ratio’s clamp' : ' at most'} — whatever the parameter scale.`,
      );
    if (scale && equivalents.length) md.push(equivalenceText(reading, lr, scale, eps, equivalents));
    if (lrTarget !== null) md.push(`For a relative step of ${formatNumber(target)}: lr ≈ **${formatNumber(lrTarget)}**.`);
  } else if (scale && relativeStep !== null) {
    if (band)
      md.push(
        `At step 1 (RMS(u) ≈ 1) the relative step is lr/scale = **${formatNumber(relativeStep)}** (${formatPercent(relativeStep)} of the weights per step) for ${scaleText}; later in training RMS(u) is ${LATE_UPDATE_RMS[0]}–${LATE_UPDATE_RMS[1]} of 1, so ≈ ${formatNumber(relativeStepLater![0])}–${formatNumber(relativeStepLater![1])}.`,
      );
    else
      md.push(
        `Relative step lr/scale = **${formatNumber(relativeStep)}** (${formatPercent(relativeStep)} per step)${step.kind === 'over-scale' && step.exact ? ' exactly' : ' at most'}, for ${scaleText}.`,
      );
    if (layers.length > 1) {
      const hi = layers[0];
      const lo = layers[layers.length - 1];
      md.push(
        `Per layer (linked run), lr/RMS: ${formatNumber(hi.relativeStep)} (${hi.name}, RMS ${formatNumber(hi.paramRms)}) … ${formatNumber(lo.relativeStep)} (${lo.name}, RMS ${formatNumber(lo.paramRms)}).`,
      );
    }
    md.push(equivalenceText(reading, lr, scale, eps, equivalents));
    if (band && lrForTargetRange)
      md.push(
        `For a relative step of ${formatNumber(target)} later in training (RMS(u) ${LATE_UPDATE_RMS[1]}–${LATE_UPDATE_RMS[0]}): lr ≈ **${formatNumber(lrForTargetRange[0])}–${formatNumber(lrForTargetRange[1])}**; at step 1 (RMS(u) ≈ 1): ${formatNumber(target * scale)}.`,
      );
    else if (lrTarget !== null) md.push(`For a relative step of ${formatNumber(target)}: lr ≈ **${formatNumber(lrTarget)}**.`);
  } else {
    md.push(
      `Relative step unknown: no parameter scale is stated or linked. At scale 0.02 it would be ${formatNumber(lr / 0.02)}${band ? ` at step 1 (≈ ${formatNumber((lr / 0.02) * LATE_UPDATE_RMS[0])}–${formatNumber((lr / 0.02) * LATE_UPDATE_RMS[1])} later)` : ''}; at scale 1, ${formatNumber(lr)}.`,
    );
  }
  const perWeight = band || step.kind === 'over-scale';
  return {
    lr,
    scale,
    family,
    absoluteStep: perWeight ? lr : null,
    relativeStep,
    relativeStepLater,
    layers,
    equivalents,
    target,
    lrForTarget: lrTarget,
    lrForTargetRange,
    markdown: md.join('\n\n'),
  };
}

/**
 * Muon's per-weight step (the update's RMS) for a d×d weight under the two scaling conventions in use: an
 * orthogonal d×d matrix has RMS 1/√d; max(1, rows/cols)^0.5 leaves that for a square weight, 0.2·√max(rows, cols)
 * makes it 0.2 (matched to AdamW's typical update RMS).
 */
export function muonSteps(lr: number, d: number): { kellerJordan: number; matchedAdamW: number } {
  return { kellerJordan: lr / Math.sqrt(d), matchedAdamW: 0.2 * lr };
}

/** Muon: the update's RMS per shape under the two scaling conventions in use, for a d×d weight when d is stated. */
function muonText(lr: number, scale: number | null, scaleSource: string | undefined, width: ExplainInput['width']): string[] {
  const out: string[] = [];
  if (width) {
    const d = width.value;
    const { kellerJordan: kj, matchedAdamW: moon } = muonSteps(lr, d);
    out.push(
      `For a ${d}×${d} weight (\`${width.key}\`, line ${width.line}): with the max(1, rows/cols)^0.5 scaling each weight moves by ≈ ${formatNumber(kj)} per step${scale ? ` (relative step ${formatNumber(kj / scale)} at ${formatNumber(scale)}${scaleSource ? `, ${scaleSource}` : ''})` : ''}; with 0.2·√max(rows, cols) (matched to AdamW's RMS) by ≈ ${formatNumber(moon)}${scale ? ` (relative step ${formatNumber(moon / scale)})` : ''}. Which one the run uses is the Muon implementation's choice; the config does not say.`,
    );
  } else
    out.push(
      `The update's RMS is lr × c(shape): c = max(1, rows/cols)^0.5/√max(rows, cols) (Keller Jordan's Muon) or 0.2 (scaled to match AdamW's RMS); the config states no model width to evaluate it${scale ? `, so the relative step at scale ${formatNumber(scale)} is lr·c/${formatNumber(scale)}` : ''}.`,
    );
  return out;
}

/** Arguments of the Explain Learning Rate command as the config hover passes them. */
export interface ExplainCommandArgs {
  lr: number;
  scale: number | null;
  optimizer?: OptimizerFamily | null;
  eps?: number | null;
  scaleSource?: string;
  source?: string;
}

/** Encoded arguments for the `command:optimizerLens.explainLearningRate?…` hover link (one object argument). */
export function explainCommandArgs(args: ExplainCommandArgs): string {
  return encodeURIComponent(JSON.stringify([args]));
}
