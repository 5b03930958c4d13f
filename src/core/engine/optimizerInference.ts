import type { RunData } from '../run/types';
import type { OptimizerKind } from '../../shared/optimizers';

// Which optimizer a run used when no input names it, from what its state shows: a momentum buffer and no
// second moment is SGD with momentum (an `optimizer.state_dict()` of SGD, a tensor dump with
// `momentum_buffer/…`, a log with `momentum_buffer_rms`). Only what the data shows; otherwise null.

export interface InferredOptimizer {
  type: OptimizerKind;
  /** What the inference rests on, for the header ("assumed from momentum_buffer state"). */
  from: string;
}

export function inferOptimizer(data: RunData): InferredOptimizer | null {
  let momentum = false;
  let secondMoment = false;
  for (const s of data.snapshots) {
    for (const t of s.tensors) {
      if (t.role === 'momentum_buffer') momentum = true;
      // Any other optimizer state (Adam's moments, RMSprop's square_avg, Adagrad's sum, 8-bit state, …) is not SGD's.
      else if (t.role !== 'param' && t.role !== 'param_before' && t.role !== 'param_after' && t.role !== 'grad') secondMoment = true;
    }
  }
  const logged = data.scalars;
  let loggedMomentum = logged.hasFigure('momentumBufferRms');
  let loggedAdam = logged.hasFigure('adamUpdateRms') || logged.hasFigure('sqrtVHatRms') || logged.hasFigure('epsDominatedFraction');
  for (const h of data.histograms) {
    if (h.role === 'momentum_buffer') loggedMomentum = true;
    if (h.quantity === 'adam_u') loggedAdam = true;
  }
  if (momentum && !secondMoment) return { type: 'sgd', from: 'momentum_buffer state without Adam moments' };
  if (!momentum && !secondMoment && loggedMomentum && !loggedAdam)
    return { type: 'sgd', from: 'logged momentum buffer without Adam figures' };
  return null;
}
