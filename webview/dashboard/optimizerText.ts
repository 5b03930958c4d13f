// What the dashboard says about the optimizer, in the words of the optimizer the run uses: Adam's RMS(u)
// only for the Adam family, the normalized direction d for the others, the one sentence of what its lr
// means (src/shared/optimizers.ts lrMeaning), never "under Adam" for an SGD, Lion or LAMB run.

import { lrMeaning, type UpdateNormalization } from '../../src/shared/optimizers';
import type { OptimizerView } from './model';

export const NORMALIZATION_TEXT: Readonly<Record<UpdateNormalization, string>> = {
  'second-moment': 'update normalized by √v̂ (Adam family)',
  sign: 'sign update (|d| = 1 per element)',
  'trust-ratio': 'trust ratio: the update scaled to ‖w‖ per layer',
  orthogonalized: 'orthogonalized update (RMS set by the shape)',
  factored: 'factored second moment, update clipped by its RMS',
  none: 'no normalization: the step is lr × gradient',
};

/** The column of the optimizer's normalized direction: Adam's RMS(u), or RMS(d) for the others. */
export function directionColumn(o: OptimizerView): { field: 'adamUpdateRms' | 'directionRms'; label: string; title: string } {
  if (o.adamLike) {
    const who = o.kind ? `${o.label}'s` : "Adam's";
    return { field: 'adamUpdateRms', label: 'RMS(u)', title: `RMS of ${who} normalized update u = m̂/(√v̂+ε)` };
  }
  return {
    field: 'directionRms',
    label: 'RMS(d)',
    title: `RMS of ${o.label ?? 'the optimizer'}'s normalized direction d (the update ÷ lr, decoupled decay excluded)`,
  };
}

export function predictedTitle(o: OptimizerView): string {
  return o.adamLike
    ? 'Relative step predicted from optimizer state: RMS(lr·u [+ decay])/RMS(p)'
    : 'Relative step predicted from optimizer state: RMS(lr·d [+ decay])/RMS(p)';
}

export function epsTitle(o: OptimizerView): string {
  return o.adamLike ? 'Fraction of elements with √v̂ < ε (there the update is m̂/ε, not ≈ lr)' : 'Fraction of elements with √v̂ < ε';
}

/** The sentence of what the run's lr means (the optimizer not stated: the Adam reading, said as assumed). */
export function lrMeaningText(o: OptimizerView): string {
  return lrMeaning(o.kind);
}

/** How (lr, scale, ε) trade against each other under this optimizer (the equivalence view's sentence). */
export function equivalenceRule(o: OptimizerView): string {
  switch (o.normalization) {
    case 'none':
      return `${o.label ?? 'SGD'}: lr scales with k² (its step is lr × gradient, and the gradient of k·p is g/k).`;
    case 'sign':
    case 'orthogonalized':
      return `${o.label}: multiply lr and scale by the same k (its update's size does not depend on the gradient's; no ε involved).`;
    case 'trust-ratio':
      return `${o.label}: the trust ratio makes lr a relative step already — the same lr for any scale (ε ÷ k inside its Adam step).`;
    case 'factored':
      return `${o.label}: whether lr is absolute or relative depends on scale_parameter, which the input does not state.`;
    default:
      return `${o.kind ? o.label : 'Adam (assumed)'}: multiply lr and scale by the same k and divide ε by it (the gradient of k·p is g/k, so √v̂ shrinks by k).`;
  }
}
