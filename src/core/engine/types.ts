// What the engine computes from a run: figures per layer at a step, and the u distributions.

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
