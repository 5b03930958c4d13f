import type { DirectionSpec } from './spec';
import type { DirectionKernel, UnknownDirection } from './kernel';
import { adamKernel } from './adam';
import { nadamKernel } from './nadam';
import { radamKernel } from './radam';
import { adamaxKernel } from './adamax';
import { adagradKernel } from './adagrad';
import { rmspropKernel } from './rmsprop';
import { sgdKernel } from './sgd';
import { lionKernel } from './lion';
import { lambKernel } from './lamb';
import { adafactorKernel } from './adafactor';
import { muonKernel, muonNeedsGrad } from './muon';

// One update rule per optimizer kind (engine/optimizers/<kind>.ts); this picks it. Rules that need whole tensors
// before the pass (Adafactor's factored rows and columns, Muon's matrix) say which.

export interface KernelContext {
  shape: number[];
  hasGrad: boolean;
  whole: Record<string, Float64Array | undefined>;
  dtypeEps: number;
}

/** Tensors the rule reads whole before the streaming pass. */
export function wholeRoles(spec: DirectionSpec, shape: number[], hasGrad: boolean): string[] {
  if (spec.kind === 'adafactor' && shape.length >= 2 && !(spec.adafactor?.flavor === 'hf' && spec.adafactor.beta1 !== null)) {
    return ['exp_avg_sq_row', 'exp_avg_sq_col'];
  }
  if (spec.kind === 'muon') return muonNeedsGrad(spec) && hasGrad ? ['momentum_buffer', 'grad'] : ['momentum_buffer'];
  return [];
}

export function makeKernel(spec: DirectionSpec, ctx: KernelContext): DirectionKernel | UnknownDirection {
  switch (spec.kind) {
    case 'adam':
    case 'adamw':
      return adamKernel(spec);
    case 'nadam':
      return nadamKernel(spec);
    case 'radam':
      return radamKernel(spec);
    case 'adamax':
      return adamaxKernel(spec);
    case 'adagrad':
      return adagradKernel(spec);
    case 'rmsprop':
      return rmspropKernel(spec);
    case 'sgd':
    case 'lars':
      return sgdKernel(spec);
    case 'lion':
      return lionKernel(spec, ctx.hasGrad);
    case 'lamb':
      return lambKernel(spec);
    case 'adafactor':
      return adafactorKernel(spec, ctx);
    case 'muon':
      return muonKernel(spec, ctx);
  }
}
