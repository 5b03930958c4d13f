// bitsandbytes' blockwise 8-bit optimizer state: each element's value is qmap[code]·absmax[i / B], i the flat
// row-major index and B the block size (256 from bitsandbytes 0.44, 2048 before; inferred from the number of absmax
// entries). qmap is the 256-entry dynamic quantization map the state was written with (signed for state1, unsigned
// for state2). Which role a state holds depends on the optimizer: Adam's state1 is m and state2 v, Lion's state1 m.

import type { OptimizerKind } from '../../../shared/optimizers';

/** The role bitsandbytes' state1 / state2 hold for an optimizer kind (null: not an 8-bit layout we rebuild). */
export function bitsandbytesRoles(kind: OptimizerKind): { state1: string; state2: string | null } | null {
  switch (kind) {
    case 'adam':
    case 'adamw':
    case 'lamb':
      return { state1: 'exp_avg', state2: 'exp_avg_sq' };
    case 'lion':
      return { state1: 'exp_avg', state2: null };
    case 'sgd':
    case 'lars':
      return { state1: 'momentum_buffer', state2: null };
    case 'rmsprop':
      return { state1: 'square_avg', state2: null };
    case 'adagrad':
      return { state1: 'sum', state2: null };
    default:
      return null;
  }
}

/** The block size B with ceil(numel/B) = blocks (powers of two from 64), or null. */
export function inferBlockSize(numel: number, blocks: number): number | null {
  if (blocks < 1) return null;
  if (blocks === 1) return Math.max(1, numel);
  for (let b = 64; b <= 1 << 24; b *= 2) if (Math.ceil(numel / b) === blocks) return b;
  return null;
}

/** Dequantize a chunk of codes (widened to floats) starting at element `offset`. */
export function dequantize(
  codes: ArrayLike<number>,
  n: number,
  offset: number,
  qmap: Float64Array,
  absmax: Float64Array,
  block: number,
  out: Float64Array,
): Float64Array {
  for (let i = 0; i < n; i++) out[i] = qmap[codes[i] | 0] * absmax[Math.floor((offset + i) / block)];
  return out.subarray(0, n);
}
