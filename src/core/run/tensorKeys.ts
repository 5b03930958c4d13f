import { OPTIMIZER_STATE_ROLES, type TensorRole } from './types';

// Tensor roles are recognised by key (README "Readers"): `param/`, `params/`, `param_before/`,
// `param_after/`, `weight/`, `grad/`, `grads/` prefixes and one `<state>/` prefix per optimizer-state role
// (`exp_avg/`, `exp_avg_sq/`, `max_exp_avg_sq/`, `momentum_buffer/`, `exp_inf/`, `sum/`, `square_avg/`,
// `grad_avg/`, `exp_avg_sq_row/`, `exp_avg_sq_col/`, `state1/`, `state2/`, `absmax1/`, `absmax2/`, `qmap1/`,
// `qmap2/`); `<layer>.grad`, `<layer>.<state>` suffixes; plain `<layer>` keys are parameters.

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
  ...OPTIMIZER_STATE_ROLES.map((r): [string, TensorRole] => [`${r}/`, r]),
];

const SUFFIX_ROLES: [string, TensorRole][] = [['.grad', 'grad'], ...OPTIMIZER_STATE_ROLES.map((r): [string, TensorRole] => [`.${r}`, r])];

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
