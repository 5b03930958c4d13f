import { ReaderError, echo } from '../../errors';
import { PyDict, PyObject, TorchTensor, summarize, type PickleValue } from '../pickle/values';
import type { LoadedTorchFile } from './torchFile';

// Recognising what torch.save stored: a model state dict, an optimizer state dict, a combined
// {'model', 'optimizer', 'step'} dict, a Lightning checkpoint (its `model.` prefix removed, its
// lr_schedulers and numeric hyper_parameters read), and the side files of a Hugging Face checkpoint that
// hold no tensors to analyze — the LR scheduler's state (scheduler.pt), the RNG states (rng_state.pth),
// the pickled TrainingArguments (training_args.bin) — read for what they say, never an error.

export interface ModelTensor {
  /** Layer name (prefixes like Lightning's `model.` or DDP's `module.` removed). */
  name: string;
  /** Key as stored. */
  key: string;
  tensor: TorchTensor;
}

export interface ModelPart {
  tensors: ModelTensor[];
  /** Where in the checkpoint (e.g. `state_dict`, `model`, or '' for the root). */
  where: string;
  /** Prefix removed from every key, if any. */
  strippedPrefix: string | null;
  /** Non-tensor entries skipped (count). */
  skipped: number;
}

/** An LR scheduler's state_dict(): the lr per param group after `lastEpoch` scheduler steps. */
export interface ScheduleState {
  /** Where it was found (`''` for scheduler.pt, `lr_schedulers[0]` in a Lightning checkpoint). */
  where: string;
  /** scheduler.step() calls so far (HF: the global step). */
  lastEpoch: number | null;
  /** The lr each group started from (the peak before a decay, the target of a warmup). */
  baseLrs: number[];
  /** The lr per group the next optimizer step uses. */
  lastLr: number[];
}

/** Hyper-parameters a pickled Hugging Face TrainingArguments states (its fields are read as data). */
export interface TrainingArgsState {
  /** The class as the pickle names it (e.g. transformers.training_args.TrainingArguments). */
  type: string;
  lr: number | null;
  weightDecay: number | null;
  betas: [number, number] | null;
  eps: number | null;
  /** `optim` (adamw_torch, adafactor, …), as written. */
  optim: string | null;
  maxSteps: number | null;
}

export interface CheckpointParts {
  kind: 'model' | 'optimizer' | 'combined' | 'lightning' | 'scheduler' | 'rng-state' | 'training-args';
  model?: ModelPart;
  optimizer?: PyDict;
  optimizerWhere?: string;
  /** Number of optimizers in the checkpoint (Lightning `optimizer_states`); only the first is used. */
  optimizerCount: number;
  /** Step stated by the checkpoint dict (`step`, `global_step`, …). */
  statedStep: number | null;
  scalars: Record<string, number>;
  schedule?: ScheduleState;
  trainingArgs?: TrainingArgsState;
}

const MODEL_KEYS = ['model', 'model_state_dict', 'state_dict', 'model_state', 'module', 'net', 'network', 'weights'];
const OPTIMIZER_KEYS = ['optimizer', 'optimizer_state_dict', 'optimizer_state', 'optim', 'opt', 'optim_state_dict'];
const STEP_KEYS = ['global_step', 'step', 'iteration', 'iter', 'num_steps', 'steps'];

function isOptimizerDict(v: PickleValue | undefined): v is PyDict {
  return v instanceof PyDict && v.has('state') && v.has('param_groups');
}

function tensorEntries(d: PyDict): number {
  let n = 0;
  for (const v of d.map.values()) if (v instanceof TorchTensor) n++;
  return n;
}

function isModelDict(v: PickleValue | undefined): boolean {
  if (!(v instanceof PyDict) || v.size === 0) return false;
  const t = tensorEntries(v);
  return t > 0 && t >= v.size / 2;
}

export function asNumber(v: PickleValue | undefined): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER)) return Number(v);
  if (typeof v === 'boolean') return null;
  return null;
}

function modelPart(d: PyDict, where: string, stripLightningPrefix: boolean): ModelPart {
  const tensors: ModelTensor[] = [];
  let skipped = 0;
  for (const [k, v] of d.map) {
    if (v instanceof TorchTensor && typeof k === 'string') tensors.push({ name: k, key: k, tensor: v });
    else skipped++;
  }
  let strippedPrefix: string | null = null;
  const allShare = (p: string) => tensors.length > 0 && tensors.every((t) => t.name.startsWith(p) && t.name.length > p.length);
  // DDP's `module.`; in a Lightning checkpoint the LightningModule attribute `model.` — only that one: a
  // module whose own layers sit at the top (`linear.weight`) keeps its names.
  if (allShare('module.')) strippedPrefix = 'module.';
  else if (stripLightningPrefix && allShare('model.')) strippedPrefix = 'model.';
  if (strippedPrefix) for (const t of tensors) t.name = t.name.slice(strippedPrefix.length);
  return { tensors, where, strippedPrefix, skipped };
}

/** The dict a value stands for: a dict, or the items of a dict subclass kept as a placeholder (AttributeDict). */
export function asDict(v: PickleValue | undefined): PyDict | null {
  if (v instanceof PyDict) return v;
  if (v instanceof PyObject) {
    if (v.dictItems && v.dictItems.size > 0) return v.dictItems;
    if (v.state instanceof PyDict) return v.state;
  }
  return null;
}

function numbers(v: PickleValue | undefined): number[] {
  if (!Array.isArray(v)) return [];
  const out: number[] = [];
  for (const x of v) {
    const n = asNumber(x);
    if (n !== null) out.push(n);
  }
  return out;
}

function isScheduleDict(d: PyDict): boolean {
  return d.has('base_lrs') && d.has('last_epoch');
}

function scheduleState(d: PyDict, where: string): ScheduleState {
  const lastEpoch = asNumber(d.get('last_epoch'));
  return {
    where,
    lastEpoch: lastEpoch !== null && Number.isInteger(lastEpoch) ? lastEpoch : null,
    baseLrs: numbers(d.get('base_lrs')),
    lastLr: numbers(d.get('_last_lr')),
  };
}

const RNG_KEYS = new Set(['python', 'numpy', 'cpu', 'cuda', 'xla', 'mps', 'npu', 'hpu', 'mlu', 'musa', 'xpu']);

function isRngState(d: PyDict): boolean {
  if (d.size === 0 || !(d.has('python') || d.has('numpy'))) return false;
  for (const k of d.map.keys()) if (typeof k !== 'string' || !RNG_KEYS.has(k)) return false;
  return true;
}

/** A pickled TrainingArguments (or a subclass: Seq2SeqTrainingArguments, trl's SFTConfig): its fields. */
function trainingArgs(root: PickleValue): TrainingArgsState | null {
  if (!(root instanceof PyObject)) return null;
  const f = asDict(root.state);
  if (!f || !f.has('learning_rate') || !f.has('output_dir')) return null;
  const num = (k: string) => asNumber(f.get(k));
  const b1 = num('adam_beta1');
  const b2 = num('adam_beta2');
  const optim = f.get('optim');
  // `optim` is an OptimizerNames enum member (a placeholder built from its value) or a plain string.
  const optimName =
    typeof optim === 'string' ? optim : optim instanceof PyObject && typeof optim.args[0] === 'string' ? optim.args[0] : null;
  const maxSteps = num('max_steps');
  return {
    type: root.type,
    lr: num('learning_rate'),
    weightDecay: num('weight_decay'),
    betas: b1 !== null && b2 !== null ? [b1, b2] : null,
    eps: num('adam_epsilon'),
    optim: optimName,
    maxSteps: maxSteps !== null && maxSteps > 0 ? maxSteps : null,
  };
}

function topKeys(d: PyDict): string {
  const keys: string[] = [];
  for (const k of d.map.keys()) {
    if (keys.length === 12) break;
    keys.push(echo(String(k), 40));
  }
  return `${keys.join(', ')}${d.size > 12 ? ', …' : ''}`;
}

/** Find the model state dict, optimizer state dict, step and schedule in whatever torch.save stored. */
export function findCheckpointParts(file: LoadedTorchFile): CheckpointParts {
  const { root, path } = file;
  const at = { offset: file.pickleOffset };
  const parts: CheckpointParts = { kind: 'model', optimizerCount: 0, statedStep: null, scalars: {} };
  if (isOptimizerDict(root)) {
    return { ...parts, kind: 'optimizer', optimizer: root, optimizerWhere: '', optimizerCount: 1 };
  }
  const args = trainingArgs(root);
  if (args) return { ...parts, kind: 'training-args', trainingArgs: args };
  if (!(root instanceof PyDict)) {
    const what = root instanceof PyObject ? `a pickled Python object of class ${echo(root.type)}` : summarize(root, 1);
    throw new ReaderError(
      path,
      `checkpoint holds ${what}, not a state dict${root instanceof PyObject ? ' (torch.save(model) pickles the class; save model.state_dict())' : ''}`,
      at,
    );
  }
  if (isScheduleDict(root)) {
    const schedule = scheduleState(root, '');
    return { ...parts, kind: 'scheduler', schedule, statedStep: schedule.lastEpoch };
  }
  if (isRngState(root)) return { ...parts, kind: 'rng-state' };
  const lightning =
    root.has('state_dict') &&
    (root.has('optimizer_states') || root.has('pytorch-lightning_version') || root.has('loops') || root.has('callbacks'));
  if (lightning) {
    parts.kind = 'lightning';
    const sd = root.get('state_dict');
    if (sd instanceof PyDict) parts.model = modelPart(sd, 'state_dict', true);
    const opts = root.get('optimizer_states');
    if (Array.isArray(opts)) {
      const dicts = opts.filter(isOptimizerDict);
      parts.optimizerCount = dicts.length;
      if (dicts.length > 0) {
        parts.optimizer = dicts[0];
        parts.optimizerWhere = 'optimizer_states[0]';
      }
    }
    const scheds = root.get('lr_schedulers');
    if (Array.isArray(scheds)) {
      const first = scheds.map(asDict).find((d): d is PyDict => d !== null && isScheduleDict(d));
      if (first) parts.schedule = scheduleState(first, 'lr_schedulers[0]');
    }
    // hyper_parameters may hold any object (a loss module, an encoder): only its numbers are read.
    const hp = asDict(root.get('hyper_parameters'));
    if (hp) {
      for (const [k, v] of hp.map) {
        const x = asNumber(v);
        if (typeof k === 'string' && x !== null) parts.scalars[`hyper_parameters.${k}`] = x;
      }
    }
  } else if (isModelDict(root)) {
    parts.model = modelPart(root, '', false);
    return parts;
  } else {
    parts.kind = 'combined';
    for (const k of MODEL_KEYS) {
      const v = root.get(k);
      if (isModelDict(v)) {
        parts.model = modelPart(v as PyDict, k, false);
        break;
      }
    }
  }
  if (!parts.optimizer) {
    for (const k of OPTIMIZER_KEYS) {
      const v = root.get(k);
      if (isOptimizerDict(v)) {
        parts.optimizer = v;
        parts.optimizerWhere = k;
        parts.optimizerCount = 1;
        break;
      }
      if (Array.isArray(v) && v.some(isOptimizerDict)) {
        const dicts = v.filter(isOptimizerDict);
        parts.optimizer = dicts[0];
        parts.optimizerWhere = `${k}[0]`;
        parts.optimizerCount = dicts.length;
        break;
      }
    }
  }
  if (!parts.schedule) {
    const sched = asDict(root.get('scheduler') ?? root.get('lr_scheduler') ?? root.get('scheduler_state_dict'));
    if (sched && isScheduleDict(sched)) parts.schedule = scheduleState(sched, 'scheduler');
  }
  if (parts.kind === 'combined' && parts.optimizer && !parts.model) parts.kind = 'optimizer';
  for (const k of STEP_KEYS) {
    const x = asNumber(root.get(k));
    if (x !== null && Number.isInteger(x) && x >= 0) {
      parts.statedStep = x;
      break;
    }
  }
  for (const k of ['epoch', 'global_step', 'step']) {
    const x = asNumber(root.get(k));
    if (x !== null) parts.scalars[k] = x;
  }
  if (!parts.model && !parts.optimizer) {
    throw new ReaderError(path, `no model state dict or optimizer state dict found (top-level keys: ${topKeys(root)})`, at);
  }
  return parts;
}
