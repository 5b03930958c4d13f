import { ReaderError } from '../../errors';
import { PyDict, TorchTensor, summarize, type PickleValue } from '../pickle/values';

// Recognising what torch.save stored: a model state dict, an optimizer state dict, a combined
// {'model', 'optimizer', 'step'} dict, a Lightning checkpoint; prefixes (DDP `module.`, Lightning's
// module attribute) removed from layer names.

// ---- Recognising structures ----------------------------------------------------------------------

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

export interface CheckpointParts {
  kind: 'model' | 'optimizer' | 'combined' | 'lightning';
  model?: ModelPart;
  optimizer?: PyDict;
  optimizerWhere?: string;
  /** Number of optimizers in the checkpoint (Lightning `optimizer_states`); only the first is used. */
  optimizerCount: number;
  /** Step stated by the checkpoint dict (`step`, `global_step`, …). */
  statedStep: number | null;
  scalars: Record<string, number>;
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
  if (allShare('module.')) strippedPrefix = 'module.';
  else if (stripLightningPrefix && tensors.length > 0) {
    const first = tensors[0].name.split('.')[0] + '.';
    if (first.length > 1 && allShare(first)) strippedPrefix = first;
  }
  if (strippedPrefix) for (const t of tensors) t.name = t.name.slice(strippedPrefix.length);
  return { tensors, where, strippedPrefix, skipped };
}

/** Find the model state dict, optimizer state dict and step in whatever torch.save stored. */
export function findCheckpointParts(root: PickleValue, path: string): CheckpointParts {
  const parts: CheckpointParts = { kind: 'model', optimizerCount: 0, statedStep: null, scalars: {} };
  if (isOptimizerDict(root)) {
    return { ...parts, kind: 'optimizer', optimizer: root, optimizerWhere: '', optimizerCount: 1 };
  }
  if (!(root instanceof PyDict)) {
    throw new ReaderError(path, `checkpoint holds ${summarize(root, 1)}, not a state dict`);
  }
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
    const hp = root.get('hyper_parameters');
    if (hp instanceof PyDict) {
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
    const keys = (root as PyDict).keys().slice(0, 12).map(String);
    throw new ReaderError(
      path,
      `no model state dict or optimizer state dict found (top-level keys: ${keys.join(', ')}${root.size > 12 ? ', …' : ''})`,
    );
  }
  return parts;
}
