// Scalar and histogram tag → meaning, for every log format (JSONL keys, CSV columns, TensorBoard tags).
//
// Norms stay norms: `param_norm/<L>` is `paramNorm`, never converted here. The engine turns a norm into an
// RMS only where it knows the layer's numel (from `layerShapes` of any input); a reader passes norms through.
//
// Conventions recognised (see README "Logs"):
//   ours / fixtures   <metric>/<layer>, optionally behind a prefix (train/, optim/, diagnostics/, …);
//                     snake_case (param_rms, rel_step, adam_u_rms, pred_rel_step, …) and camelCase
//   Composer          l2_norm/{param,grad,update}/<L>          (moment: no figure; `global`: whole model)
//   OLMo              [optim/]{param,grad}/<n>.norm             (exp_avg(_sq) norms, .min/.max/.avg: no figure)
//   Levanter          {params,grad,updates}/norm/<p>            (`total`: whole model)
//   Lightning         grad_2.0_norm/<n>, grad_2.0_norm_total, lr-<Opt>[-k][/pgN]
//   Megatron          grad-norm, params-norm, learning-rate, lm loss, loss-scale (`… vs samples`: other x-axis)
//   HF / W&B          train/loss, train/learning_rate, train/grad_norm, learning_rate, grad_norm, …
//   histograms        gradients/<n>, parameters/<n> (W&B watch), params/<L>, grads/<L>, <L>/grad, <L>.grad,
//                     adam_u/<L>, momentum/<L>, exp_avg/<L>, exp_avg_sq/<L>, updates/<L>;
//                     Keras dense/kernel_0, dense/kernel_0/histogram, dense/kernel/histogram

import type { FigureName, TensorRole } from './types';

export type TagMeaning =
  | { kind: 'layer'; layer: string; figure: FigureName }
  | {
      kind: 'global';
      /** Normalized key: loss, lr, gradNorm, paramNorm, updateNorm, relStep, lossScale, evalLoss, evalAcc, batchAcc, epoch. */
      key: string;
      /** Parameter group index when the tag names one (Lightning `lr-Adam/pg1`, OLMo `LR (group 1)`). */
      paramGroup?: number;
    }
  | { kind: 'histogram'; layer: string; role: TensorRole | null; quantity: string }
  | null;

/** Per-layer metric names (the part before `/<layer>`) → figure. Names not listed here are not figures. */
export const LAYER_METRICS: Readonly<Record<string, FigureName>> = Object.freeze({
  // snake_case, as the fixtures and our logging snippet write them
  param_rms: 'paramRms',
  grad_rms: 'gradRms',
  update_rms: 'updateRms',
  rel_step: 'relStep',
  adam_u_rms: 'adamUpdateRms',
  adam_update_rms: 'adamUpdateRms',
  param_norm: 'paramNorm',
  grad_norm: 'gradNorm',
  update_norm: 'updateNorm',
  eps_dominated_frac: 'epsDominatedFraction',
  eps_dominated_fraction: 'epsDominatedFraction',
  sqrt_v_hat_rms: 'sqrtVHatRms',
  exp_avg_rms: 'exp_avgRms',
  momentum_buffer_rms: 'momentumBufferRms',
  decay_rms: 'decayRms',
  pred_rel_step: 'relStepPredicted',
  rel_step_predicted: 'relStepPredicted',
  lr: 'lr',
  direction_rms: 'directionRms',
  effective_lr: 'effectiveLr',
  zero_second_moment_frac: 'zeroSecondMomentFraction',
  trust_ratio: 'trustRatio',
  // camelCase (also every LayerFigures name itself)
  paramRms: 'paramRms',
  gradRms: 'gradRms',
  updateRms: 'updateRms',
  relStep: 'relStep',
  adamUpdateRms: 'adamUpdateRms',
  adamURms: 'adamUpdateRms',
  paramNorm: 'paramNorm',
  gradNorm: 'gradNorm',
  updateNorm: 'updateNorm',
  epsDominatedFraction: 'epsDominatedFraction',
  epsDominatedFrac: 'epsDominatedFraction',
  sqrtVHatRms: 'sqrtVHatRms',
  exp_avgRms: 'exp_avgRms',
  expAvgRms: 'exp_avgRms',
  momentumBufferRms: 'momentumBufferRms',
  decayRms: 'decayRms',
  relStepPredicted: 'relStepPredicted',
  predRelStep: 'relStepPredicted',
  directionRms: 'directionRms',
  effectiveLr: 'effectiveLr',
  zeroSecondMomentFraction: 'zeroSecondMomentFraction',
  trustRatio: 'trustRatio',
});

/** Whole-model scalar names → normalized global key. */
const GLOBAL_KEYS: Readonly<Record<string, string>> = Object.freeze({
  loss: 'loss',
  train_loss: 'loss',
  total_loss: 'loss', // detectron2 metrics.json: the sum of its loss terms, the loss it steps on
  'lm loss': 'loss',
  lr: 'lr',
  learning_rate: 'lr',
  learningRate: 'lr',
  'learning-rate': 'lr',
  grad_norm: 'gradNorm',
  grad_norm_total: 'gradNorm',
  total_grad_norm: 'gradNorm',
  global_grad_norm: 'gradNorm',
  gradNorm: 'gradNorm',
  'grad-norm': 'gradNorm',
  'grad_2.0_norm_total': 'gradNorm',
  param_norm: 'paramNorm',
  param_norm_total: 'paramNorm',
  params_norm: 'paramNorm',
  paramNorm: 'paramNorm',
  'params-norm': 'paramNorm',
  update_norm: 'updateNorm',
  update_norm_total: 'updateNorm',
  updateNorm: 'updateNorm',
  rel_step_total: 'relStep',
  loss_scale: 'lossScale',
  lossScale: 'lossScale',
  'loss-scale': 'lossScale',
  batch_acc: 'batchAcc',
  acc: 'acc',
  accuracy: 'acc',
  epoch: 'epoch',
  eval_loss: 'evalLoss',
  val_loss: 'evalLoss',
  'lm loss validation': 'evalLoss',
  eval_acc: 'evalAcc',
  val_acc: 'evalAcc',
});

/** Prefixes that only say "this is a training scalar"; stripped before matching a global name. */
const TRAIN_PREFIXES = ['train/', 'training/', 'train_', 'optim/', 'optimizer/', 'trainer/'];
/** Prefixes allowed in front of `<metric>/<layer>`. */
const LAYER_PREFIXES = new Set([
  'train',
  'training',
  'optim',
  'optimizer',
  'opt',
  'diag',
  'diagnostics',
  'optimizer_lens',
  'optimizer-lens',
  'stats',
  'layers',
  'layer',
  'per_layer',
]);
/** Layer-name placeholders that mean "the whole model". */
const WHOLE_MODEL = new Set(['global', 'total', 'all', '_total']);

/** Scalar tag (TensorBoard tag, JSONL key, CSV column) → meaning; null when it is not a figure we use. */
export function classifyScalarTag(tag: string): TagMeaning {
  if (typeof tag !== 'string') return null;
  const t = tag.trim();
  if (t === '') return null;
  // Megatron writes a second series per metric against consumed samples: not optimizer steps.
  if (/ vs (samples|tokens)$/.test(t)) return null;

  // Evaluation scalars first, so that eval/loss never becomes the training loss.
  const evalMatch = /^(eval|val|validation|test)[/_](loss|acc|accuracy)$/.exec(t);
  if (evalMatch) {
    if (evalMatch[1] === 'test') return null;
    return { kind: 'global', key: evalMatch[2] === 'loss' ? 'evalLoss' : 'evalAcc' };
  }

  // Lightning LearningRateMonitor: lr-Adam, lr-AdamW-1, lr-Adam/pg1 (not lr-Adam-momentum, lr-Adam/pg1-momentum).
  const lightningLr = /^lr-([A-Za-z_][A-Za-z0-9_]*?)(?:-(\d+))?(?:\/pg(\d+))?$/.exec(t);
  if (lightningLr && !/-(momentum|weight_decay|beta\d?)$/.test(t)) {
    const m: TagMeaning = { kind: 'global', key: 'lr' };
    if (lightningLr[3] !== undefined) m.paramGroup = Number(lightningLr[3]);
    return m;
  }
  // OLMo / generic "LR (group N)".
  const groupLr = /^(?:optim\/)?(?:LR|lr|learning_rate) \(group (\d+)\)$/.exec(t);
  if (groupLr) return { kind: 'global', key: 'lr', paramGroup: Number(groupLr[1]) };

  // Lightning grad_norm(): grad_2.0_norm/<n>; other p-norms are not RMS-convertible.
  const lightningGrad = /^grad_([0-9.]+|inf)_norm\/(.+)$/.exec(t);
  if (lightningGrad) {
    if (lightningGrad[1] !== '2.0' && lightningGrad[1] !== '2') return null;
    return layerOrGlobal(lightningGrad[2], 'gradNorm');
  }
  if (/^grad_([0-9.]+|inf)_norm_total$/.test(t)) return /^grad_2(\.0)?_norm_total$/.test(t) ? { kind: 'global', key: 'gradNorm' } : null;

  // Composer: l2_norm/{param,grad,update,moment}/<L>.
  const composer = /^l2_norm\/(param|grad|update|moment)\/(.+)$/.exec(t);
  if (composer) {
    const figure = ({ param: 'paramNorm', grad: 'gradNorm', update: 'updateNorm' } as Record<string, FigureName>)[composer[1]];
    if (!figure) return null; // moment: a norm of exp_avg has no LayerFigures field
    return layerOrGlobal(composer[2], figure);
  }

  // Levanter: {grad,params,updates}/norm/<p> (also /rms/).
  const levanter = /^(grad|grads|params|updates)\/(norm|rms)\/(.+)$/.exec(t);
  if (levanter) {
    const kind = levanter[1] === 'params' ? 'param' : levanter[1] === 'updates' ? 'update' : 'grad';
    const figure = `${kind}${levanter[2] === 'norm' ? 'Norm' : 'Rms'}` as FigureName;
    return layerOrGlobal(levanter[3], figure);
  }

  // OLMo: [optim/]{param,grad,exp_avg,exp_avg_sq}/<n>.{norm,min,max,avg}.
  const olmo = /^(?:optim\/)?(param|grad|exp_avg|exp_avg_sq)\/(.+)\.(norm|min|max|avg)$/.exec(t);
  if (olmo) {
    if (olmo[3] !== 'norm') return null;
    if (olmo[1] === 'param') return layerOrGlobal(olmo[2], 'paramNorm');
    if (olmo[1] === 'grad') return layerOrGlobal(olmo[2], 'gradNorm');
    return null; // exp_avg / exp_avg_sq norms: no LayerFigures field
  }

  // Plain global names, possibly behind a training prefix.
  const global = globalKey(t);
  if (global) return { kind: 'global', key: global };

  // <metric>/<layer>, optionally behind prefix segments (train/param_rms/<L>, optim/rel_step/<L>).
  const parts = t.split('/');
  for (let i = 0; i < parts.length - 1; i++) {
    const figure = Object.prototype.hasOwnProperty.call(LAYER_METRICS, parts[i]) ? LAYER_METRICS[parts[i]] : undefined;
    if (figure) {
      const layer = parts.slice(i + 1).join('/');
      if (layer === '') return null;
      // lr/pg0 and lr/group_1 are parameter groups, not layers.
      if (figure === 'lr') {
        const pg = /^(?:pg|group_?|param_group_?)(\d+)$/.exec(layer);
        if (pg) return { kind: 'global', key: 'lr', paramGroup: Number(pg[1]) };
      }
      return layerOrGlobal(layer, figure);
    }
    if (!LAYER_PREFIXES.has(parts[i])) break;
  }
  return null;
}

/** Histogram tag → (layer, role or quantity); null when it is not a per-layer tensor histogram. */
export function classifyHistogramTag(tag: string): TagMeaning {
  if (typeof tag !== 'string') return null;
  const t = tag.trim();
  if (t === '') return null;
  const prefixes: [string, TensorRole | null, string][] = [
    ['parameters/', 'param', 'param'], // W&B watch
    ['gradients/', 'grad', 'grad'], // W&B watch
    ['params/', 'param', 'param'],
    ['param/', 'param', 'param'],
    ['weights/', 'param', 'param'],
    ['param_before/', 'param_before', 'param_before'],
    ['param_after/', 'param_after', 'param_after'],
    ['grads/', 'grad', 'grad'],
    ['grad/', 'grad', 'grad'],
    ['exp_avg_sq/', 'exp_avg_sq', 'exp_avg_sq'],
    ['exp_avg/', 'exp_avg', 'exp_avg'],
    ['max_exp_avg_sq/', 'max_exp_avg_sq', 'max_exp_avg_sq'],
    ['momentum_buffer/', 'momentum_buffer', 'momentum_buffer'],
    ['momentum/', 'momentum_buffer', 'momentum_buffer'],
    ['adam_u/', null, 'adam_u'],
    ['updates/', null, 'update'],
    ['update/', null, 'update'],
  ];
  for (const [prefix, role, quantity] of prefixes) {
    if (t.startsWith(prefix) && t.length > prefix.length) {
      const layer = t.slice(prefix.length);
      // Levanter's grad/norm/…, grad/hist/… are not layer histograms of a tensor named "norm".
      if (/^(norm|rms|hist)\//.test(layer)) return null;
      return { kind: 'histogram', layer, role, quantity };
    }
  }
  const suffixes: [string, TensorRole | null, string][] = [
    ['/grad', 'grad', 'grad'],
    ['.grad', 'grad', 'grad'],
    ['/gradient', 'grad', 'grad'],
    ['/param', 'param', 'param'],
    ['/weight_hist', 'param', 'param'],
  ];
  for (const [suffix, role, quantity] of suffixes) {
    if (t.endsWith(suffix) && t.length > suffix.length) {
      return { kind: 'histogram', layer: t.slice(0, -suffix.length), role, quantity };
    }
  }
  return kerasWeightHistogram(t);
}

// Keras' TensorBoard callback (histogram_freq > 0) names a weight's histogram after the variable:
//   TF1 / TF 2.0–2.4   `dense/kernel_0` (`:0` → `_0`), gradients `dense/kernel_0_grad` (TF1 write_grads)
//   TF ≥ 2.5           `dense/kernel_0/histogram`
//   Keras 3            `dense/kernel/histogram` (the variable's path)
// The layer is the variable's name without the output index (`dense/kernel`). Batch-norm moving
// statistics are variables no optimizer trains: not parameters.
const KERAS_WEIGHT_RE =
  /^(.+\/(?:kernel|bias|embeddings|gamma|beta|depthwise_kernel|pointwise_kernel|recurrent_kernel|alpha))(?:_0)?(_grad)?(?:\/histogram)?$/;

function kerasWeightHistogram(t: string): TagMeaning {
  const m = KERAS_WEIGHT_RE.exec(t);
  if (!m) return null;
  // The bare `dense/kernel` form (no `_0`, no `/histogram`) is too generic a name to claim.
  if (!/(_0|_0_grad|\/histogram)$/.test(t)) return null;
  return m[2]
    ? { kind: 'histogram', layer: m[1], role: 'grad', quantity: 'grad' }
    : { kind: 'histogram', layer: m[1], role: 'param', quantity: 'param' };
}

/** Whole-model key of a plain scalar name (`train/loss` → loss), or null. */
export function globalKey(tag: string): string | null {
  if (Object.prototype.hasOwnProperty.call(GLOBAL_KEYS, tag)) return GLOBAL_KEYS[tag];
  for (const prefix of TRAIN_PREFIXES) {
    if (tag.startsWith(prefix)) {
      const rest = tag.slice(prefix.length);
      if (Object.prototype.hasOwnProperty.call(GLOBAL_KEYS, rest)) return GLOBAL_KEYS[rest];
    }
  }
  return null;
}

/** Column / key names that hold the step of a record (W&B `_step`, HF `global_step`, …). */
export const STEP_KEYS: readonly string[] = ['step', '_step', 'global_step', 'trainer/global_step', 'iteration', 'iter'];

function layerOrGlobal(layer: string, figure: FigureName): TagMeaning {
  if (layer === '') return null;
  if (WHOLE_MODEL.has(layer)) {
    const key = figure === 'paramNorm' ? 'paramNorm' : figure === 'gradNorm' ? 'gradNorm' : figure === 'updateNorm' ? 'updateNorm' : null;
    return key ? { kind: 'global', key } : null;
  }
  return { kind: 'layer', layer, figure };
}
