import type { AnalyzeOptions } from '../analysis';
import type { OptimizerHyper, RunData } from '../run/types';
import { inferOptimizer } from './optimizerInference';

// Hyper-parameters as the engine uses them: what the options (CLI flags, settings) override, what the
// inputs state, and per layer the layer's parameter group. Nothing is defaulted: unknown stays null.

/** What the Adam figures of logged scalars and the replay need; null fields make the figures that need them null. */
export interface AdamStepHyper {
  lr: number | null;
  beta1: number | null;
  beta2: number | null;
  eps: number | null;
  weightDecay: number | null;
  /** AdamW's decoupled decay (p ← p·(1 − lr·wd) − lr·u); Adam's weight decay is inside the gradient. */
  decoupled: boolean;
}

/** Hyper-parameters after options, inputs and logged values are combined: every field resolved (null = unknown). */
export type ResolvedHyper = OptimizerHyper;

export function resolveHyper(data: RunData, options: AnalyzeOptions): ResolvedHyper {
  const h = data.hyper;
  const fromOpt =
    options.lr !== undefined || options.betas || options.eps !== undefined || options.weightDecay !== undefined || options.optimizer;
  const fromData = h.lr != null || h.betas != null || h.eps != null || h.type != null;
  let lr = options.lr ?? h.lr ?? null;
  if (lr === null) {
    // A logged lr (the last global value, else the last per-layer value) is a learning rate the run states.
    lr = data.scalars.lastGlobal('lr') ?? data.scalars.lastLayerFigure('lr');
  }
  const inferred = options.optimizer || h.type ? null : inferOptimizer(data);
  return {
    type: options.optimizer ?? h.type ?? inferred?.type ?? null,
    ...(inferred ? { typeAssumedFrom: inferred.from } : {}),
    lr,
    betas: options.betas ?? h.betas ?? null,
    eps: options.eps ?? h.eps ?? null,
    weightDecay: options.weightDecay ?? h.weightDecay ?? null,
    source: fromOpt && fromData ? 'mixed' : fromOpt ? 'cli' : (h.source ?? (lr !== null ? 'log' : 'none')),
  };
}

/** Per-layer hyper-parameters: the layer's parameter group where the input states groups. */
export function layerHyper(
  data: RunData,
  hyper: ResolvedHyper,
  options: AnalyzeOptions,
  layer: string,
  snapshotLr: number | undefined,
): AdamStepHyper {
  const group = data.paramGroups?.find((g) => g.layers.includes(layer));
  const lr = options.lr ?? snapshotLr ?? group?.lr ?? hyper.lr;
  const betas = options.betas ?? group?.betas ?? hyper.betas;
  return {
    lr: lr ?? null,
    beta1: betas ? betas[0] : null,
    beta2: betas ? betas[1] : null,
    eps: options.eps ?? group?.eps ?? hyper.eps,
    weightDecay: options.weightDecay ?? group?.weightDecay ?? hyper.weightDecay,
    decoupled: hyper.type === 'adamw',
  };
}
