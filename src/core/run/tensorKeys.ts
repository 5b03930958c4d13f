import type { TensorRole } from './types';

// Tensor roles are recognised by key (README "Readers"): `param/`, `params/`, `param_before/`,
// `param_after/`, `weight/`, `grad/`, `grads/`, `exp_avg/`, `exp_avg_sq/` (and momentum_buffer/,
// max_exp_avg_sq/) prefixes; `<layer>.grad`, `<layer>.exp_avg`, ... suffixes; plain `<layer>` keys
// are parameters.

const PREFIX_ROLES: [string, TensorRole][] = [
  ['param_before/', 'param_before'],
  ['param_after/', 'param_after'],
  ['params/', 'param'],
  ['param/', 'param'],
  ['parameters/', 'param'],
  ['weight/', 'param'],
  ['weights/', 'param'],
  ['grads/', 'grad'],
  ['grad/', 'grad'],
  ['gradients/', 'grad'],
  ['exp_avg_sq/', 'exp_avg_sq'],
  ['exp_avg/', 'exp_avg'],
  ['max_exp_avg_sq/', 'max_exp_avg_sq'],
  ['momentum_buffer/', 'momentum_buffer'],
];

const SUFFIX_ROLES: [string, TensorRole][] = [
  ['.grad', 'grad'],
  ['.exp_avg_sq', 'exp_avg_sq'],
  ['.exp_avg', 'exp_avg'],
  ['.max_exp_avg_sq', 'max_exp_avg_sq'],
  ['.momentum_buffer', 'momentum_buffer'],
];

/** Split a stored tensor key into (layer, role). */
export function classifyTensorKey(key: string): { layer: string; role: TensorRole } {
  for (const [prefix, role] of PREFIX_ROLES) {
    if (key.startsWith(prefix) && key.length > prefix.length) return { layer: key.slice(prefix.length), role };
  }
  for (const [suffix, role] of SUFFIX_ROLES) {
    if (key.endsWith(suffix) && key.length > suffix.length) return { layer: key.slice(0, -suffix.length), role };
  }
  return { layer: key, role: 'param' };
}

/** Keys that are metadata scalars, not tensors of a layer (npz `step`, `lr`). */
export const SNAPSHOT_SCALAR_KEYS = new Set(['step', 'lr', 'global_step', 'epoch']);
