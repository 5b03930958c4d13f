// "Explain Learning Rate": what an (lr, parameter scale) pair means under Adam, as structured data and
// compact Markdown. Shared by the CLI, the config hover and the Explain Learning Rate view.
import { formatNumber, formatPercent } from '../../shared/format';
import type { OptimizerFamily } from './types';

/** Later in training RMS(u) of Adam's normalized update is typically this fraction of 1 (the first-step value). */
export const LATE_UPDATE_RMS: [number, number] = [0.2, 0.45];
export const DEFAULT_TARGET_RELATIVE_STEP = 1e-3;

export interface ExplainInput {
  lr: number;
  /** Parameter scale (init std or measured RMS); null/undefined when not known. */
  scale?: number | null;
  optimizer?: OptimizerFamily | null;
  /** Target relative step per optimizer step (default 1e-3). */
  target?: number;
  /** Per-layer measured scales (a linked run): the relative step per layer. */
  layers?: { name: string; paramRms: number | null }[];
  /** Where the scale came from, for the text ('initializer_range in config.json', 'linked run …'). */
  scaleSource?: string;
  eps?: number | null;
}

export interface EquivalentPair {
  lr: number;
  scale: number;
  /** Adam: eps divided by the same factor keeps the run exactly equivalent; null when eps unknown. */
  eps: number | null;
  factor: number;
}

export interface Explanation {
  lr: number;
  scale: number | null;
  family: OptimizerFamily | null;
  /** Under Adam: every weight moves by about lr per step (RMS(u) ≈ 1 at the start). Null for SGD-like optimizers. */
  absoluteStep: number | null;
  /** lr / scale (Adam, early in training); null without a scale or for SGD. */
  relativeStep: number | null;
  /** lr·RMS(u)/scale for RMS(u) in LATE_UPDATE_RMS. */
  relativeStepLater: [number, number] | null;
  /** Per layer (linked run): lr / paramRms, sorted high to low. */
  layers: { name: string; paramRms: number; relativeStep: number }[];
  equivalents: EquivalentPair[];
  target: number;
  /** lr that gives `target` relative step at this scale (Adam): target·scale. */
  lrForTarget: number | null;
  markdown: string;
}

export function explainLearningRate(input: ExplainInput): Explanation {
  const lr = input.lr;
  const family = input.optimizer ?? null;
  const sgd = family === 'sgd';
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
  const relativeStep = !sgd && scale ? lr / scale : null;
  const relativeStepLater: [number, number] | null =
    relativeStep !== null ? [relativeStep * LATE_UPDATE_RMS[0], relativeStep * LATE_UPDATE_RMS[1]] : null;
  const eps = input.eps ?? null;
  const equivalents: EquivalentPair[] = scale
    ? [10, 0.1].map((k) => ({ lr: sgd ? lr * k * k : lr * k, scale: scale! * k, eps: eps !== null && !sgd ? eps / k : null, factor: k }))
    : [];
  const lrForTarget = !sgd && scale ? target * scale : null;

  const md: string[] = [];
  if (sgd) {
    md.push(
      `**lr = ${formatNumber(lr)}** (SGD-like optimizer): the step is lr × gradient (× momentum), so lr is **not** a step size; the relative step depends on the gradient scale. Rescaling weights by k needs lr × k² to stay equivalent.`,
    );
    if (scale) md.push(`Parameter scale ${formatNumber(scale)}${input.scaleSource ? ` (${input.scaleSource})` : ''}.`);
  } else {
    md.push(
      `**lr = ${formatNumber(lr)}** under Adam: each weight moves by ≈ **${formatNumber(lr)}** per step (|u| ≈ 1 early on), whatever the weight's size.`,
    );
    if (scale && relativeStep !== null && relativeStepLater) {
      md.push(
        `Relative step lr/scale = **${formatNumber(relativeStep)}** (${formatPercent(relativeStep)} of the weights per step) for scale ${formatNumber(scale)}${input.scaleSource ? ` (${input.scaleSource})` : ''}; later in training RMS(u) is ${LATE_UPDATE_RMS[0]}–${LATE_UPDATE_RMS[1]} of 1, so ≈ ${formatNumber(relativeStepLater[0])}–${formatNumber(relativeStepLater[1])}.`,
      );
      if (layers.length > 1) {
        const hi = layers[0];
        const lo = layers[layers.length - 1];
        md.push(
          `Per layer (linked run): ${formatNumber(hi.relativeStep)} (${hi.name}, RMS ${formatNumber(hi.paramRms)}) … ${formatNumber(lo.relativeStep)} (${lo.name}, RMS ${formatNumber(lo.paramRms)}).`,
        );
      }
      const pair = (q: { lr: number; scale: number; eps: number | null }) =>
        `(lr ${formatNumber(q.lr)}, scale ${formatNumber(q.scale)}${q.eps !== null ? `, eps ${formatNumber(q.eps)}` : ''})`;
      const down = equivalents.find((q) => q.factor < 1)!;
      const up = equivalents.find((q) => q.factor > 1)!;
      md.push(
        `Equivalent under Adam: ${pair(down)} ↔ ${pair({ lr, scale, eps })} ↔ ${pair(up)}${eps === null ? ' (eps divided by the same factor as lr)' : ''}.`,
      );
      md.push(`For a relative step of ${formatNumber(target)}: lr ≈ **${formatNumber(lrForTarget)}**.`);
    } else {
      md.push(
        `Relative step unknown: no parameter scale is stated or linked. At scale 0.02 it would be ${formatNumber(lr / 0.02)}; at scale 1, ${formatNumber(lr)}.`,
      );
    }
  }
  return {
    lr,
    scale,
    family,
    absoluteStep: sgd ? null : lr,
    relativeStep,
    relativeStepLater,
    layers,
    equivalents,
    target,
    lrForTarget,
    markdown: md.join('\n\n'),
  };
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
