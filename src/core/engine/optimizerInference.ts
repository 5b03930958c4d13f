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
      else if (t.role === 'exp_avg_sq' || t.role === 'max_exp_avg_sq' || t.role === 'exp_avg') secondMoment = true;
    }
  }
  let loggedMomentum = false;
  let loggedAdam = false;
  for (const o of data.observations) {
    const f = o.figures;
    if (f.momentumBufferRms != null) loggedMomentum = true;
    if (f.adamUpdateRms != null || f.sqrtVHatRms != null || f.epsDominatedFraction != null) loggedAdam = true;
    if (loggedMomentum && loggedAdam) break;
  }
  for (const h of data.histograms) {
    if (h.role === 'momentum_buffer') loggedMomentum = true;
    if (h.quantity === 'adam_u') loggedAdam = true;
  }
  if (momentum && !secondMoment) return { type: 'sgd', from: 'momentum_buffer state without Adam moments' };
  if (!momentum && !secondMoment && loggedMomentum && !loggedAdam)
    return { type: 'sgd', from: 'logged momentum buffer without Adam figures' };
  return null;
}
