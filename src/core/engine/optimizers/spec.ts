import type { MuonScaling, OptimizerKind } from '../../../shared/optimizers';

// What the tensor pass needs to rebuild one layer's normalized direction d at one step: the update rule (kind and
// the variant flags that change its arithmetic) and its numbers. Plain data: it crosses to the worker threads.
//
// The lens form every rule is written in (per element, p = the parameter step t consumed):
//   p_after = p − α·d̃ − β·p        d = s·d̃ (s folded into α at the end), α = lr·s, β = the decoupled decay
// so the predicted update's RMS follows from three sums, Σd̃², Σd̃·p and Σp², whatever the rule.

/** How weight decay enters the step. */
export type DecayMode =
  /** Added to the gradient (torch Adam, NAdam, RAdam, Adamax, Adagrad, RMSprop, SGD, LARS): part of d. */
  | 'coupled'
  /** p ← p·(1 − lr·wd) before the step (AdamW, Lion, Muon, torch.optim.Adafactor). */
  | 'decoupled'
  /** p ← (p − lr·d)·(1 − lr·wd) after the step (bitsandbytes' CUDA kernels, transformers' AdamW). */
  | 'after';

export interface AdafactorSpec {
  /** `hf`: transformers.optimization.Adafactor; `torch`: torch.optim.Adafactor (row_var/col_var naming). */
  flavor: 'hf' | 'torch';
  /** ε1 (added to g² before averaging in HF; the floor of V̂ in torch, null = float32's machine ε there). */
  eps1: number | null;
  /** ε2: the floor of RMS(w) in the relative step size. */
  eps2: number;
  /** The clipping threshold of RMS(U) (HF clip_threshold, torch d). */
  clipThreshold: number;
  /** HF beta1 (null: no first moment, the default). */
  beta1: number | null;
  scaleParameter: boolean;
  relativeStep: boolean;
  warmupInit: boolean;
  /** HF state `RMS`: RMS of the parameter the step consumed (null when not saved). */
  stateRms: number | null;
}

export interface MuonSpec {
  scaling: MuonScaling;
  /** True when the input states the convention (torch adjust_lr_fn, Moonlight's layout) or the user set it. */
  scalingStated: boolean;
  momentum: number;
  nesterov: boolean;
  /** `ema`: buf = β·buf + (1−β)·g (Keller Jordan, torch); `sum`: buf = μ·buf + g (Moonlight). */
  bufferForm: 'ema' | 'sum';
  nsSteps: number;
  nsCoefficients: [number, number, number];
  /** Keller: X/(‖X‖ + ε); torch: X/max(‖X‖, ε). */
  nsEps: number;
  nsEpsMode: 'add' | 'clamp';
}

export interface DirectionSpec {
  /** The update rule applied. */
  kind: OptimizerKind;
  /** Human wording of the rule as applied (provenance): 'AdamW', 'Adam (AMSGrad: max_exp_avg_sq)', … */
  label: string;
  lr: number | null;
  /** The step count t the rule uses (the parameter's own step where saved, else the snapshot's). */
  t: number | null;
  beta1: number | null;
  beta2: number | null;
  eps: number | null;
  weightDecay: number | null;
  decay: DecayMode;
  maximize: boolean;
  /** Adam/AdamW: the second moment is max_exp_avg_sq (AMSGrad), as torch uses it. */
  amsgrad: boolean;
  /** ε added to the raw √v (RAdam, transformers' AdamW, Moonlight's AdamW), not to the bias-corrected √v̂. */
  epsOnRaw: boolean;
  /** Bias corrections off (transformers AdamW correct_bias=False, LAMB bias_correction=False). */
  noBiasCorrection: boolean;
  /** The state is bitsandbytes' state1/state2 (8-bit codes with absmax/qmap, or float32). */
  bitsandbytes: boolean;
  // NAdam
  momentumDecay?: number;
  muProduct?: number | null;
  /** torch < 2.0 single-tensor NAdam: the exp_avg coefficient is μ_{t+1}/(1 − Π·μ_t·μ_{t+1}). */
  nadamLegacy?: boolean;
  // RAdam: torch 1.13's foreach path adds no ε.
  radamNoEps?: boolean;
  // Adagrad
  lrDecay?: number;
  // RMSprop (alpha), SGD / LARS (momentum, dampening, nesterov)
  alpha?: number;
  /** The momentum factor where stated (SGD's μ, RMSprop's, LARS'); null: not stated. */
  momentum?: number | null;
  /** The step uses a momentum buffer (momentum ≠ 0, or a saved buffer where the factor is not stated). */
  momentumActive?: boolean;
  centered?: boolean;
  dampening?: number;
  nesterov?: boolean;
  // LAMB / LARS
  trustCoeff?: number;
  trustClip?: boolean;
  alwaysAdapt?: boolean;
  adafactor?: AdafactorSpec;
  muon?: MuonSpec;
}

/** What the rule needs from a layer's tensors (the resolver checks them against what the input has). */
export interface DirectionNeeds {
  /** The parameter the step consumed (trust ratio, coupled decay on a rebuilt gradient, Adafactor's scale). */
  paramBefore: boolean;
  grad: boolean;
  state: string[];
}

/** Torch's Adam / AdamW rule with the given numbers (tests, benches, callers that know the optimizer). */
export function adamDirectionSpec(h: {
  lr: number | null;
  beta1: number;
  beta2: number;
  eps: number;
  t: number;
  weightDecay?: number;
  decoupled?: boolean;
  amsgrad?: boolean;
}): DirectionSpec {
  return {
    kind: h.decoupled ? 'adamw' : 'adam',
    label: h.decoupled ? 'AdamW' : 'Adam',
    lr: h.lr,
    t: h.t,
    beta1: h.beta1,
    beta2: h.beta2,
    eps: h.eps,
    weightDecay: h.weightDecay ?? 0,
    decay: h.decoupled ? 'decoupled' : 'coupled',
    maximize: false,
    amsgrad: h.amsgrad ?? false,
    epsOnRaw: false,
    noBiasCorrection: false,
    bitsandbytes: false,
  };
}
