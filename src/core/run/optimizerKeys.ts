import type { TensorRole } from './types';
import { optimizerKindFromName, type OptimizerKind } from '../../shared/optimizers';

// The naming rules of optimizer state dicts every reader shares: which tensor role a per-parameter state key holds
// (torch's and the libraries' names), and which optimizer a state dict is from its state and group keys — with
// the assumption said where two optimizers save the same layout (Adam vs AdamW vs RAdam; bitsandbytes' Adam, AdamW
// and LAMB). A stated class name (HF `optim`, a wrapper's class) decides where the input has one.

/** Per-parameter state keys → roles. torch.optim.Adafactor's row_var/col_var/variance are the factored moments. */
export const OPTIMIZER_STATE_KEYS: Readonly<Record<string, TensorRole>> = {
  exp_avg: 'exp_avg',
  exp_avg_sq: 'exp_avg_sq',
  max_exp_avg_sq: 'max_exp_avg_sq',
  momentum_buffer: 'momentum_buffer',
  exp_inf: 'exp_inf',
  sum: 'sum',
  square_avg: 'square_avg',
  grad_avg: 'grad_avg',
  exp_avg_sq_row: 'exp_avg_sq_row',
  exp_avg_sq_col: 'exp_avg_sq_col',
  row_var: 'exp_avg_sq_row',
  col_var: 'exp_avg_sq_col',
  variance: 'exp_avg_sq',
  // Moonlight's Muon keeps its AdamW moments as moment1/moment2.
  moment1: 'exp_avg',
  moment2: 'exp_avg_sq',
  state1: 'state1',
  state2: 'state2',
  absmax1: 'absmax1',
  absmax2: 'absmax2',
  qmap1: 'qmap1',
  qmap2: 'qmap2',
};

/** bitsandbytes ≥ 0.49.2 moves its quantization state into this nested dict of each parameter's state. */
export const BNB_NESTED_STATE_KEY = '__bnb_optimizer_quant_state__';

export interface OptimizerKeys {
  /** Union of the per-parameter state keys. */
  stateKeys: ReadonlySet<string>;
  /** Each group's keys (without `params`), with the values that decide: weight decay, betas, use_muon, … */
  groups: {
    keys: ReadonlySet<string>;
    weightDecay: number | null;
    betasLength: number | null;
    useMuon: boolean | null;
    decoupled: boolean | null;
  }[];
  /** A class or `optim` name the input states (HF TrainingArguments.optim, a wrapper's class). */
  className?: string | null;
}

export interface RecognizedOptimizer {
  kind: OptimizerKind | null;
  /** Per group, where it differs from `kind` (Muon's AdamW groups). */
  groupKinds: (OptimizerKind | null)[];
  /** What was assumed, in one sentence each (the reader reports them as warnings). */
  assumptions: string[];
}

/** Which optimizer a state dict is from (null: not one this list knows; the caller says so). */
export function recognizeOptimizer(k: OptimizerKeys): RecognizedOptimizer {
  const s = k.stateKeys;
  const anyGroup = (key: string): boolean => k.groups.some((g) => g.keys.has(key));
  const same = (kind: OptimizerKind | null, assumptions: string[] = []): RecognizedOptimizer => ({
    kind,
    groupKinds: k.groups.map(() => kind),
    assumptions,
  });
  const named = optimizerKindFromName(k.className ?? null);

  if (k.groups.some((g) => g.useMuon !== null)) {
    return { kind: 'muon', groupKinds: k.groups.map((g) => (g.useMuon === false ? 'adamw' : 'muon')), assumptions: [] };
  }
  if (named) return same(named);
  if (s.has('state1')) {
    if (s.has('state2') || s.has('absmax2')) {
      if (k.groups.some((g) => g.betasLength === 3)) return same(null, ['bitsandbytes’ AdEMAMix (three betas) is not rebuilt']);
      return same('adamw', [
        'bitsandbytes 2-state layout (state1, state2): its Adam, AdamW and LAMB save the same keys; read as AdamW (bitsandbytes’ Adam and AdamW are one kernel with decoupled decay)',
      ]);
    }
    return same(null, [
      'bitsandbytes 1-state layout (state1): Lion, SGD, RMSprop and Adagrad save the same keys; the optimizer is not known',
    ]);
  }
  if (s.has('mu_product')) return same('nadam');
  if (s.has('exp_inf')) return same('adamax');
  if (s.has('sum')) return same('adagrad');
  if (s.has('acc_delta')) return same(null, ['Adadelta’s state (square_avg, acc_delta) is not rebuilt']);
  if (s.has('square_avg')) return same('rmsprop');
  if (s.has('exp_avg_sq_row') || s.has('exp_avg_sq_col') || s.has('RMS') || s.has('row_var') || s.has('col_var') || s.has('variance'))
    return same('adafactor');
  if (s.has('moment1') || s.has('moment2')) return same('adamw');
  if (s.has('exp_avg') && s.has('exp_avg_sq')) {
    if (anyGroup('bias_correction') && anyGroup('grad_averaging')) return same('lamb');
    if (anyGroup('correct_bias')) return same('adamw');
    const decoupled = k.groups.map((g) => g.decoupled);
    // torch writes `foreach` into every group; of its optimizers with this state, Adam's and AdamW's groups have
    // `amsgrad` and RAdam's do not.
    if (!anyGroup('amsgrad') && anyGroup('foreach') && anyGroup('betas')) {
      return same('radam', [
        `state (exp_avg, exp_avg_sq) and torch param groups without amsgrad: read as torch.optim.RAdam${decoupled.some((d) => d === true) ? ' (decoupled decay)' : ''}, whose groups lack that key (Adam’s and AdamW’s have it)`,
      ]);
    }
    if (decoupled.some((d) => d === true)) return same('adamw');
    if (decoupled.length > 0 && decoupled.every((d) => d === false)) return same('adam');
    if (!k.groups.some((g) => (g.weightDecay ?? 0) > 0)) return same('adam');
    return same('adamw', [
      'weight_decay > 0 but the state dict cannot tell torch.optim.Adam (L2 decay added to the gradient) from AdamW (decoupled decay): assumed AdamW; set the optimizer type explicitly if the run used Adam with weight_decay',
    ]);
  }
  if (s.has('exp_avg')) {
    // One moment and no second: lion-pytorch's Lion (groups {lr, betas, weight_decay}).
    return same('lion', anyGroup('cautious_factor') ? ['cautious Lion’s mask is not rebuilt; read as Lion'] : []);
  }
  if (s.has('momentum_buffer') || anyGroup('nesterov') || anyGroup('trust_coeff')) {
    if (anyGroup('trust_coeff')) return same('lars');
    if (anyGroup('ns_coefficients') || anyGroup('adjust_lr_fn')) return same('muon');
    return same('sgd');
  }
  return same(null);
}
