import type { AnalyzeOptions } from '../../analysis';
import type { OptimizerHyper, OptimizerOptionValue, ParamGroupHyper, RunData } from '../../run/types';
import { isMuonScaling, OPTIMIZER_LABELS, type OptimizerKind } from '../../../shared/optimizers';
import type { DecayMode, DirectionSpec } from './spec';

// The update rule of one layer at one step, from what the inputs state: the options (CLI flags, settings) first,
// then the snapshot's parameter group, the run's groups, the run-level hyper-parameters. The kind comes from the
// options, the layer's group (Muon's AdamW groups), or the run; where no input names it, the state's layout decides
// and the assumption is said. Every assumption comes back as a sentence the tensor phase turns into one issue.

export interface SpecInput {
  data: RunData;
  hyper: OptimizerHyper;
  options: AnalyzeOptions;
  layer: string;
  step: number | null;
  snapshotLr?: number;
  snapshotGroups?: ParamGroupHyper[];
  layerState?: Record<string, number>;
  /** Optimizer-state roles (and 'grad') the input has for this layer. */
  roles: ReadonlySet<string>;
}

export interface ResolvedSpec {
  spec: DirectionSpec | null;
  assumptions: string[];
}

const num = (v: OptimizerOptionValue | undefined): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const bool = (v: OptimizerOptionValue | undefined): boolean | null => (typeof v === 'boolean' ? v : typeof v === 'number' ? v !== 0 : null);

export function resolveDirectionSpec(inp: SpecInput): ResolvedSpec {
  const { data, hyper, options, layer, roles } = inp;
  const assumptions: string[] = [];
  const group = inp.snapshotGroups?.find((g) => g.layers.includes(layer)) ?? data.paramGroups?.find((g) => g.layers.includes(layer));
  // A parameter the stated groups do not list and that has no state is not trained by this optimizer (frozen).
  const stateRoles = [...roles].filter((r) => r !== 'grad');
  if (!group && stateRoles.length === 0 && (inp.snapshotGroups?.length || data.paramGroups?.length)) return { spec: null, assumptions };
  const opts: Record<string, OptimizerOptionValue> = { ...(data.hyper.options ?? {}), ...(group?.options ?? {}) };
  const has = (k: string): boolean => k in opts;
  let kind: OptimizerKind | null = options.optimizer ?? group?.kind ?? hyper.type ?? null;
  const bnb = roles.has('state1');
  if (kind === null) {
    if ((roles.has('exp_avg') && roles.has('exp_avg_sq')) || (bnb && roles.has('state2'))) {
      kind = 'adam';
      assumptions.push(
        'the optimizer is not stated: exp_avg and exp_avg_sq are read as torch.optim.Adam’s (pass --optimizer to say which)',
      );
    } else return { spec: null, assumptions };
  }
  const lr = options.lr ?? inp.snapshotLr ?? group?.lr ?? hyper.lr ?? null;
  const betas = options.betas ?? group?.betas ?? hyper.betas ?? null;
  const eps = options.eps ?? group?.eps ?? hyper.eps ?? null;
  const weightDecay = options.weightDecay ?? group?.weightDecay ?? hyper.weightDecay ?? null;
  const t = inp.layerState?.step ?? (kind === 'lamb' ? num(opts.step) : null) ?? inp.step;
  const decoupledFlag = bool(opts.decoupled_weight_decay);
  // torch ≥ 2.0 added maximize/capturable/differentiable to every optimizer's groups: their absence in a group that
  // states its keys is torch 1.x.
  const statesKeys = Object.keys(opts).length > 0;
  const torch1 = statesKeys && !has('maximize') && !has('capturable') && !has('differentiable') && !has('decoupled_weight_decay');
  const base = {
    lr,
    t,
    beta1: betas ? betas[0] : null,
    beta2: betas ? betas[1] : null,
    eps,
    weightDecay,
    maximize: bool(opts.maximize) === true,
    amsgrad: false,
    epsOnRaw: false,
    noBiasCorrection: false,
    bitsandbytes: bnb,
  };
  const label = OPTIMIZER_LABELS[kind];
  const make = (decay: DecayMode, extra: Partial<DirectionSpec> & { label?: string } = {}): ResolvedSpec => ({
    spec: { kind: kind!, label, decay, ...base, ...extra },
    assumptions,
  });

  switch (kind) {
    case 'adam':
    case 'adamw': {
      const amsgrad = bool(opts.amsgrad) === true || roles.has('max_exp_avg_sq');
      if (bnb) {
        // bitsandbytes' Adam and AdamW are one kernel: decoupled decay, applied after the step on CUDA.
        return make('after', {
          amsgrad: false,
          label: `${label} 8-bit (bitsandbytes: state dequantized; decay after the step, as its CUDA kernel applies it)`,
        });
      }
      if (has('correct_bias')) {
        // transformers.AdamW (adamw_hf): ε on the raw √v, decay p −= lr·wd·p after the Adam step.
        return make('after', {
          amsgrad,
          epsOnRaw: true,
          noBiasCorrection: bool(opts.correct_bias) === false,
          label: `${label} (transformers: ε on the raw √v, decay after the step)`,
        });
      }
      const decay: DecayMode = kind === 'adamw' || decoupledFlag === true ? 'decoupled' : 'coupled';
      return make(decay, { amsgrad, label: amsgrad ? `${label} (AMSGrad: max_exp_avg_sq)` : label });
    }
    case 'nadam': {
      const legacy = torch1 && bool(opts.foreach) !== true;
      let momentumDecay = num(opts.momentum_decay);
      if (momentumDecay === null) {
        momentumDecay = 4e-3;
        assumptions.push('NAdam’s momentum_decay is not stated: torch’s default 0.004 assumed');
      }
      return make(decoupledFlag === true ? 'decoupled' : 'coupled', {
        momentumDecay,
        muProduct: inp.layerState?.mu_product ?? null,
        nadamLegacy: legacy,
        label: legacy ? `${label} (torch 1.x single-tensor arithmetic: the param groups have no maximize/capturable key)` : label,
      });
    }
    case 'radam': {
      const noEps = torch1 && bool(opts.foreach) === true;
      return make(decoupledFlag === true ? 'decoupled' : 'coupled', {
        epsOnRaw: true,
        radamNoEps: noEps,
        label: noEps ? `${label} (torch 1.x foreach: no ε)` : label,
      });
    }
    case 'adamax':
      return make('coupled');
    case 'adagrad': {
      let lrDecay = num(opts.lr_decay);
      if (lrDecay === null) {
        lrDecay = 0;
        assumptions.push('Adagrad’s lr_decay is not stated: 0 (torch’s default) assumed');
      }
      return make('coupled', { lrDecay });
    }
    case 'rmsprop': {
      const momentum = num(opts.momentum);
      return make('coupled', {
        alpha: num(opts.alpha) ?? undefined,
        momentum,
        momentumActive: momentum !== null ? momentum > 0 : roles.has('momentum_buffer'),
        centered: bool(opts.centered) === true || roles.has('grad_avg'),
      });
    }
    case 'sgd':
    case 'lars': {
      const momentum = num(opts.momentum);
      return make('coupled', {
        momentum,
        momentumActive: momentum !== null ? momentum !== 0 : roles.has('momentum_buffer'),
        nesterov: bool(opts.nesterov) === true,
        dampening: num(opts.dampening) ?? 0,
        trustCoeff: num(opts.trust_coeff) ?? undefined,
        trustClip: bool(opts.trust_clip) === true,
        alwaysAdapt: bool(opts.always_adapt) === true,
      });
    }
    case 'lion': {
      if ((weightDecay ?? 0) > 0) {
        assumptions.push(
          'Lion’s decay is taken as p·(1 − lr·wd): lion-pytorch’s decoupled_weight_decay=True (wd ÷ the initial lr) is not saved in the state dict',
        );
      }
      return make('decoupled', bnb ? { label: `${label} 8-bit (bitsandbytes, state dequantized)` } : {});
    }
    case 'lamb': {
      if (bool(opts.caution) === true)
        return { spec: null, assumptions: [...assumptions, 'cautious LAMB masks the update by sign(g): not rebuilt'] };
      if (bool(opts.corrected_weight_decay) === true) {
        return {
          spec: null,
          assumptions: [
            ...assumptions,
            'LAMB’s corrected_weight_decay scales the decay by the constructor’s lr, which the state dict does not save: not rebuilt',
          ],
        };
      }
      return make(bool(opts.decoupled_decay) === true ? 'decoupled' : 'coupled', {
        noBiasCorrection: bool(opts.bias_correction) === false,
        trustClip: bool(opts.trust_clip) === true,
        alwaysAdapt: bool(opts.always_adapt) === true,
      });
    }
    case 'adafactor': {
      const torchFlavor = has('beta2_decay') || has('d');
      const epsPair = Array.isArray(opts.eps) ? opts.eps : null;
      if (!epsPair)
        assumptions.push(
          `Adafactor’s eps pair is not stated: ${torchFlavor ? 'torch’s (None, 1e-3)' : 'transformers’ (1e-30, 1e-3)'} assumed`,
        );
      const flag = (k: string, dflt: boolean): boolean => {
        const v = bool(opts[k]);
        if (v === null && !torchFlavor)
          assumptions.push(`Adafactor’s ${k} is not stated: transformers’ default ${dflt ? 'True' : 'False'} assumed`);
        return v ?? dflt;
      };
      return make('decoupled', {
        label: torchFlavor ? `${label} (torch.optim)` : `${label} (transformers)`,
        adafactor: {
          flavor: torchFlavor ? 'torch' : 'hf',
          eps1: epsPair ? (epsPair[0] ?? null) : torchFlavor ? null : 1e-30,
          eps2: (epsPair ? epsPair[1] : null) ?? 1e-3,
          clipThreshold: num(torchFlavor ? opts.d : opts.clip_threshold) ?? 1,
          beta1: torchFlavor ? null : num(opts.beta1),
          scaleParameter: torchFlavor ? true : flag('scale_parameter', true),
          relativeStep: torchFlavor ? false : flag('relative_step', true),
          warmupInit: torchFlavor ? false : flag('warmup_init', false),
          stateRms: inp.layerState?.RMS ?? null,
        },
      });
    }
    case 'muon': {
      const moonlight = has('adamw_betas');
      const torchMuon = has('ns_coefficients') || has('adjust_lr_fn');
      const stated = opts.adjust_lr_fn;
      let scaling = options.muonScaling ?? null;
      const scalingSet = scaling !== null;
      let scalingStated = scalingSet;
      if (scaling === null && torchMuon) {
        scaling = isMuonScaling(stated) ? stated : 'original';
        scalingStated = true;
      } else if (scaling === null && moonlight) {
        scaling = 'match_rms_adamw';
        scalingStated = true;
      } else if (scaling === null && has('use_muon')) {
        // Keller Jordan's MuonWithAuxAdam layout (use_muon per group): his code scales by √max(1, rows/cols).
        scaling = 'original';
        scalingStated = true;
      }
      if (scaling === null) {
        scaling = 'original';
        assumptions.push(
          'Muon’s shape scaling is not stated: √max(1, rows/cols) (Keller Jordan’s and torch’s default) assumed; pass --muon-scaling match_rms_adamw for 0.2·√max(rows, cols)',
        );
      }
      const coeffs = Array.isArray(opts.ns_coefficients) && opts.ns_coefficients.length === 3 ? (opts.ns_coefficients as number[]) : null;
      const momentum = num(opts.momentum);
      if (momentum === null) return { spec: null, assumptions: [...assumptions, 'Muon’s momentum is not stated'] };
      return make('decoupled', {
        label: `${label} (${scaling === 'original' ? '√max(1, rows/cols)' : '0.2·√max(rows, cols)'}${scalingSet ? ', as set' : scalingStated ? '' : ', assumed'})`,
        muon: {
          scaling,
          scalingStated,
          momentum,
          nesterov: bool(opts.nesterov) ?? true,
          bufferForm: moonlight ? 'sum' : 'ema',
          nsSteps: num(opts.ns_steps) ?? 5,
          nsCoefficients: coeffs ? [coeffs[0], coeffs[1], coeffs[2]] : [3.4445, -4.775, 2.0315],
          nsEps: torchMuon ? (num(opts.eps) ?? 1e-7) : 1e-7,
          nsEpsMode: torchMuon ? 'clamp' : 'add',
        },
      });
    }
  }
}
