// What the engine computes from a run: figures per layer at a step, and the u distributions.

import type { OptimizerKind } from '../../shared/optimizers';

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
  /** RMS of the optimizer's normalized direction d (update ÷ lr, decoupled decay excluded); Adam: = adamUpdateRms. */
  directionRms?: number | null;
  /** Share of elements whose second moment is exactly 0 (never received a gradient); not in epsDominatedFraction. */
  zeroSecondMomentFraction?: number | null;
  /** LAMB / LARS: the trust ratio applied to this layer's update. */
  trustRatio?: number | null;
  /** The lr applied to d where it is not the group's (Adafactor's relative/scaled step size, Adagrad's decayed lr). */
  effectiveLr?: number | null;
  /** Adafactor: the update-clipping divisor max(1, RMS(U)/clip_threshold). */
  updateClip?: number | null;
  /** The update rule applied to this layer (Muon's AdamW groups are 'adamw'). */
  optimizer?: OptimizerKind;
  /** Where each figure came from (e.g. {paramRms: 'tensors', gradRms: 'log'}). */
  provenance?: Record<string, string>;
}

/** Histogram of Adam's normalized update u for one layer at one step (where tensors exist). */
export interface UpdateDistribution {
  layer: string;
  step: number;
  /** Bin edges (length counts.length + 1) over u (signed). */
  edges: number[];
  counts: number[];
}
