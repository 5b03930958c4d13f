import type { TensorRole } from '../../run/types';

// Per-parameter optimizer-state keys (`optimizer.state_dict()['state'][id][key]`) and the tensor role
// each one is read as. Keys not listed are not read (their names still help recognise the optimizer).

export const STATE_ROLES: [string, TensorRole][] = [
  ['exp_avg', 'exp_avg'],
  ['exp_avg_sq', 'exp_avg_sq'],
  ['max_exp_avg_sq', 'max_exp_avg_sq'],
  ['momentum_buffer', 'momentum_buffer'],
];
