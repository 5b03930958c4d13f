import { basename } from 'node:path';
import { stepFromFilePath, stepFromName } from '../run/stepNames';
import { DisallowedGlobalError, ReaderError } from '../errors';
import type { Dtype } from '../io/tensorBytes';
import {
  emptyRunData,
  type OptimizerHyper,
  type ParamGroupHyper,
  type ReadIssue,
  type RunData,
  type TensorRef,
  type TensorRole,
  type TensorSnapshot,
} from '../run/types';
import type { ReadOptions, Reader } from './reader';
import { FileBytes, withFile } from '../io/fileBytes';
import {
  PyDict,
  TORCH_DTYPE_BYTES,
  TorchTensor,
  summarize,
  torchPersistentLoad,
  unpickle,
  type PickleValue,
  type TorchDtype,
} from './pickle';
import { openZipFile, readZipEntryFrom, type ZipArchive, type ZipEntry } from '../io/zip';

// torch.save zip checkpoints (.pt .pth .bin .ckpt): the pickle is interpreted by the allow-list
// unpickler (pickle.ts), tensors become TensorRefs into the stored `<prefix>/data/<key>` members
// (read later by offset, never copied here), and the structures torch, Lightning and Hugging Face
// write are recognised: model state dicts, optimizer state dicts (state ids mapped to parameter
// names), combined dicts and Lightning checkpoints.

export const TORCH_FORMAT = 'torch';

export const LEGACY_MESSAGE = 'legacy (pre-1.6, non-zip) torch.save format is not supported; re-save with torch ≥ 1.6';

/** Options of the checkpoint readers beyond the common ReadOptions. */
export interface TorchReadOptions extends ReadOptions {
  /**
   * Multi-group optimizer state without `param_names`: the ids that shapes alone cannot determine are
   * mapped by assuming each param group lists its parameters in named_parameters() order (true of
   * groups built by filtering named_parameters(), as Hugging Face Trainer, timm and most code do; false
   * of groups built from name-sorted lists), and only when that assumption yields exactly one
   * assignment. A warning lists every id mapped this way. Default true; false maps only what is
   * certain (param_names, the single-group positional mapping, shapes that occur once) and names the
   * rest in the warning.
   */
  assumeGroupOrder?: boolean;
}

// ---- Loading the pickle --------------------------------------------------------------------------

/** A torch.save archive with its pickle interpreted (tensors described, not read). */
export interface LoadedTorchFile {
  path: string;
  archive: ZipArchive;
  /** Top-level folder of the members, with the trailing slash (e.g. `archive/`). */
  prefix: string;
  root: PickleValue;
  /** Entries by name. */
  entries: Map<string, ZipEntry>;
}

const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];
/** 0x1950a86a20f9469cfc6c, the legacy format's first pickle (LONG1 of 10 bytes, little-endian). */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const MAX_PICKLE_BYTES = 256 * 1024 * 1024;

function startsWith(head: Uint8Array, magic: number[]): boolean {
  return magic.every((b, i) => head[i] === b);
}

/** Open a torch.save file and interpret its pickle with the allow-list. */
export async function loadTorchFile(path: string): Promise<LoadedTorchFile> {
  return withFile(path, async (file) => {
    const head = await file.readUpTo(0, 64);
    if (!startsWith(head, ZIP_MAGIC)) await refuseNonZip(file, head);
    const archive = await openZipFile(file);
    const entries = new Map(archive.entries.map((e) => [e.name, e] as const));
    const pkls = archive.entries.filter((e) => /^[^/]+\/data\.pkl$/.test(e.name));
    if (pkls.length === 0) {
      const names = archive.entries.slice(0, 5).map((e) => e.name);
      throw new ReaderError(
        path,
        `zip archive without '<folder>/data.pkl': not a torch.save checkpoint (members: ${names.join(', ')}${archive.entries.length > 5 ? ', …' : ''})`,
        { offset: 0 },
      );
    }
    if (pkls.length > 1)
      throw new ReaderError(path, `several data.pkl members (${pkls.map((e) => e.name).join(', ')}): not a single torch.save checkpoint`, {
        offset: pkls[1].localHeaderOffset,
      });
    const pkl = pkls[0];
    const prefix = pkl.name.slice(0, -'data.pkl'.length);
    const byteorder = entries.get(`${prefix}byteorder`);
    if (byteorder) {
      const text = new TextDecoder().decode(await readZipEntryFrom(file, byteorder, 16)).trim();
      if (text !== 'little') {
        throw new ReaderError(
          path,
          `checkpoint saved with byteorder '${text.slice(0, 16)}': only little-endian checkpoints are supported`,
          { offset: byteorder.dataOffset },
        );
      }
    }
    if (pkl.uncompressedSize > MAX_PICKLE_BYTES) {
      throw new ReaderError(path, `data.pkl of ${pkl.uncompressedSize} bytes is too large`, { offset: pkl.localHeaderOffset });
    }
    const bytes = await readZipEntryFrom(file, pkl);
    const root = unpickle(bytes, {
      path,
      member: pkl.name,
      baseOffset: pkl.method === 0 ? pkl.dataOffset : undefined,
      persistentLoad: torchPersistentLoad,
    });
    return { path, archive, prefix, root, entries };
  });
}

/** Not a zip: a legacy torch.save stream or a bare pickle. Interpreted with the allow-list only to name what it is. */
async function refuseNonZip(file: FileBytes, head: Uint8Array): Promise<never> {
  const path = file.path;
  if (head.length >= 2 && head[0] === 0x80 && head[1] <= 5) {
    // The legacy format starts with a pickle of the magic number; a bare pickle calls whatever it likes.
    // Either way the first pickle goes through the allow-list interpreter, which refuses any global by name.
    const bytes = await file.readUpTo(0, 1 << 20);
    let first: PickleValue;
    try {
      first = unpickle(bytes, { path });
    } catch (e) {
      if (e instanceof DisallowedGlobalError) {
        throw new ReaderError(path, `${e.reason}; the file is also not a torch.save zip archive (bare pickle)`, { offset: e.offset });
      }
      throw new ReaderError(
        path,
        `not a torch.save zip archive; ${LEGACY_MESSAGE} (the leading pickle is unreadable: ${e instanceof ReaderError ? e.reason : String(e)})`,
        { offset: 0 },
      );
    }
    if (first === LEGACY_MAGIC || (typeof first === 'bigint' && first === LEGACY_MAGIC)) {
      throw new ReaderError(path, LEGACY_MESSAGE, { offset: 0 });
    }
    throw new ReaderError(
      path,
      `bare pickle without a zip archive (${summarize(first, 1)}): not a torch.save checkpoint; ${LEGACY_MESSAGE}`,
      { offset: 0 },
    );
  }
  throw new ReaderError(path, 'not a torch.save checkpoint: neither a zip archive nor a pickle', { offset: 0 });
}

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

function asNumber(v: PickleValue | undefined): number | null {
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

// ---- Tensors → TensorRefs ------------------------------------------------------------------------

const FLOAT_DTYPES: Partial<Record<TorchDtype, Dtype>> = { float32: 'F32', float64: 'F64', float16: 'F16', bfloat16: 'BF16' };

/**
 * Describe a tensor of a loaded file as a TensorRef (no bytes read). Returns a reason string when the
 * tensor cannot be used (non-float dtype, missing storage).
 */
export function tensorRef(file: LoadedTorchFile, t: TorchTensor, layer: string, role: TensorRole, key: string): TensorRef | string {
  const dtype = FLOAT_DTYPES[t.storage.dtype];
  if (!dtype) return `dtype ${t.storage.dtype}`;
  const entry = file.entries.get(`${file.prefix}data/${t.storage.key}`);
  if (!entry) return `storage '${t.storage.key}' missing from the archive`;
  const item = TORCH_DTYPE_BYTES[t.storage.dtype];
  const storageBytes = t.storage.numel * item;
  if (entry.uncompressedSize < storageBytes) {
    return `storage '${t.storage.key}' has ${entry.uncompressedSize} bytes, ${storageBytes} expected`;
  }
  const numel = t.numel;
  const ref: TensorRef = {
    layer,
    role,
    key,
    dtype,
    shape: [...t.shape],
    numel,
    source:
      entry.method === 0
        ? {
            path: file.path,
            offset: entry.dataOffset + t.storageOffset * item,
            storedLength: storageBytes - t.storageOffset * item,
            compression: 'none',
          }
        : entry.method === 8
          ? {
              path: file.path,
              offset: entry.dataOffset,
              storedLength: entry.compressedSize,
              compression: 'deflate',
              skipInflated: t.storageOffset * item,
            }
          : { path: file.path, offset: entry.dataOffset, storedLength: 0, compression: 'none' },
  };
  if (entry.method !== 0 && entry.method !== 8) return `storage '${t.storage.key}' uses zip method ${entry.method}`;
  if (t.isContiguous) {
    if (entry.method === 0) ref.source.storedLength = numel * item;
  } else {
    ref.strides = [...t.stride];
  }
  return ref;
}

/** Read a 0-d (or one-element) tensor's value: float32/64, float16/bfloat16 or int64/32 (e.g. Adam's `step`). */
async function readScalarTensor(file: LoadedTorchFile, fh: FileBytes, t: TorchTensor): Promise<number | null> {
  if (t.numel !== 1) return null;
  const entry = file.entries.get(`${file.prefix}data/${t.storage.key}`);
  if (!entry || entry.method !== 0) return null;
  const item = TORCH_DTYPE_BYTES[t.storage.dtype];
  if ((t.storageOffset + 1) * item > entry.uncompressedSize) return null;
  const b = await fh.read(entry.dataOffset + t.storageOffset * item, item);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  switch (t.storage.dtype) {
    case 'float32':
      return v.getFloat32(0, true);
    case 'float64':
      return v.getFloat64(0, true);
    case 'int64': {
      const x = v.getBigInt64(0, true);
      return x <= BigInt(Number.MAX_SAFE_INTEGER) && x >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(x) : null;
    }
    case 'int32':
      return v.getInt32(0, true);
    case 'float16': {
      const h = v.getUint16(0, true);
      const e = (h >> 10) & 0x1f;
      const f = h & 0x3ff;
      const s = h & 0x8000 ? -1 : 1;
      return s * (e === 0 ? f * 2 ** -24 : e === 31 ? (f ? NaN : Infinity) : (1 + f / 1024) * 2 ** (e - 15));
    }
    case 'bfloat16': {
      const buf = new DataView(new ArrayBuffer(4));
      buf.setUint32(0, v.getUint16(0, true) << 16, true);
      return buf.getFloat32(0, true);
    }
    default:
      return null;
  }
}

// ---- Optimizer state: ids → names ----------------------------------------------------------------

export interface ParsedGroup {
  ids: number[];
  names: string[] | null;
  lr: number | null;
  betas: [number, number] | null;
  eps: number | null;
  weightDecay: number | null;
  momentum: number | null;
  raw: PyDict;
}

export interface ParsedOptimizer {
  groups: ParsedGroup[];
  /** State per id: role → tensor, plus the step value holder. */
  state: Map<number, { tensors: Map<TensorRole, TorchTensor>; step: PickleValue | undefined; keys: string[] }>;
}

const STATE_ROLES: [string, TensorRole][] = [
  ['exp_avg', 'exp_avg'],
  ['exp_avg_sq', 'exp_avg_sq'],
  ['max_exp_avg_sq', 'max_exp_avg_sq'],
  ['momentum_buffer', 'momentum_buffer'],
];

export function parseOptimizer(osd: PyDict, path: string, issues: ReadIssue[]): ParsedOptimizer {
  const groupsRaw = osd.get('param_groups');
  if (!Array.isArray(groupsRaw)) throw new ReaderError(path, `optimizer 'param_groups' is ${summarize(groupsRaw ?? null, 1)}, not a list`);
  const groups: ParsedGroup[] = [];
  groupsRaw.forEach((g, gi) => {
    if (!(g instanceof PyDict)) {
      issues.push({ severity: 'warning', path, message: `optimizer param_groups[${gi}] is not a dict; skipped` });
      return;
    }
    const paramsRaw = g.get('params');
    const ids: number[] = [];
    if (Array.isArray(paramsRaw))
      for (const p of paramsRaw) {
        const x = asNumber(p);
        if (x !== null && Number.isInteger(x)) ids.push(x);
      }
    const namesRaw = g.get('param_names');
    const names =
      Array.isArray(namesRaw) && namesRaw.length === ids.length && namesRaw.every((x) => typeof x === 'string')
        ? (namesRaw as string[])
        : null;
    const betasRaw = g.get('betas');
    let betas: [number, number] | null = null;
    if (Array.isArray(betasRaw) && betasRaw.length === 2) {
      const b1 = asNumber(betasRaw[0]);
      const b2 = asNumber(betasRaw[1]);
      if (b1 !== null && b2 !== null) betas = [b1, b2];
    }
    groups.push({
      ids,
      names,
      lr: asNumber(g.get('lr')),
      betas,
      eps: asNumber(g.get('eps')),
      weightDecay: asNumber(g.get('weight_decay')),
      momentum: asNumber(g.get('momentum')),
      raw: g,
    });
  });
  const state = new Map<number, { tensors: Map<TensorRole, TorchTensor>; step: PickleValue | undefined; keys: string[] }>();
  const stateRaw = osd.get('state');
  if (stateRaw instanceof PyDict) {
    for (const [k, v] of stateRaw.map) {
      const id = typeof k === 'string' && /^\d+$/.test(k) ? Number(k) : asNumber(k as PickleValue);
      if (id === null || !(v instanceof PyDict)) continue;
      const tensors = new Map<TensorRole, TorchTensor>();
      for (const [name, role] of STATE_ROLES) {
        const t = v.get(name);
        if (t instanceof TorchTensor) tensors.set(role, t);
      }
      state.set(id, { tensors, step: v.get('step'), keys: v.keys().map(String) });
    }
  }
  return { groups, state };
}

function shapeKey(s: number[]): string {
  return s.join('x');
}

function stateShape(opt: ParsedOptimizer, id: number): number[] | null {
  const s = opt.state.get(id);
  if (!s) return null;
  for (const t of s.tensors.values()) if (t.shape.length > 0 || t.numel > 1) return t.shape;
  // 0-d parameters have 0-d state tensors
  for (const t of s.tensors.values()) return t.shape;
  return null;
}

export interface IdMapping {
  /** id → parameter name, for what could be mapped. */
  names: Map<number, string>;
  /** How: 'param_names', 'positional', 'shape', 'group-order' per id. */
  how: Map<number, string>;
  /** Ids that could not be mapped. */
  unmapped: number[];
}

/**
 * Map optimizer state ids to parameter names. `params` is the model's parameters in named_parameters()
 * order (buffers and tied aliases removed). See TorchReadOptions.assumeGroupOrder.
 */
export function mapOptimizerIds(
  opt: ParsedOptimizer,
  params: { name: string; shape: number[] }[],
  path: string,
  issues: ReadIssue[],
  options: { assumeGroupOrder?: boolean; orderKnown?: boolean } = {},
): IdMapping {
  const orderKnown = options.orderKnown ?? true;
  const names = new Map<number, string>();
  const how = new Map<number, string>();
  const allIds = opt.groups.flatMap((g) => g.ids);
  const shapeOf = (id: number) => stateShape(opt, id);
  const same = (a: number[] | null, b: number[]) => a === null || shapeKey(a) === shapeKey(b);

  if (opt.groups.length > 0 && opt.groups.every((g) => g.names)) {
    const byName = new Map(params.map((p) => [p.name, p] as const));
    const bad: string[] = [];
    for (const g of opt.groups) {
      g.ids.forEach((id, i) => {
        const name = g.names![i];
        const p = byName.get(name);
        if (params.length > 0 && p && !same(shapeOf(id), p.shape)) bad.push(name);
        names.set(id, name);
        how.set(id, 'param_names');
      });
    }
    if (bad.length)
      issues.push({
        severity: 'warning',
        path,
        message: `optimizer state shapes differ from the model's for ${bad.join(', ')} (param_names used as stated)`,
      });
    return { names, how, unmapped: allIds.filter((id) => !names.has(id)) };
  }
  if (params.length === 0) return { names, how, unmapped: allIds };

  // 1. Positional: the k-th id over all groups ↔ the k-th named parameter, every shape checked.
  if (orderKnown && allIds.length === params.length && allIds.every((id, k) => same(shapeOf(id), params[k].shape))) {
    const known = allIds.filter((id) => shapeOf(id) !== null).length;
    const ambiguousOrder = opt.groups.length > 1;
    if (!ambiguousOrder || positionalIsForced(opt, params)) {
      allIds.forEach((id, k) => {
        names.set(id, params[k].name);
        how.set(id, 'positional');
      });
      if (known < allIds.length) {
        issues.push({
          severity: 'warning',
          path,
          message: `${allIds.length - known} optimizer ids have no state; mapped by position only`,
        });
      }
      return { names, how, unmapped: [] };
    }
  }

  // 2. Shapes that occur exactly once among the parameters and once among the state ids are certain.
  const paramsByShape = new Map<string, string[]>();
  for (const p of params) paramsByShape.set(shapeKey(p.shape), [...(paramsByShape.get(shapeKey(p.shape)) ?? []), p.name]);
  const idsByShape = new Map<string, number[]>();
  for (const id of allIds) {
    const s = shapeOf(id);
    if (s) idsByShape.set(shapeKey(s), [...(idsByShape.get(shapeKey(s)) ?? []), id]);
  }
  for (const [sk, ids] of idsByShape) {
    const ps = paramsByShape.get(sk) ?? [];
    if (ids.length === 1 && ps.length === 1) {
      names.set(ids[0], ps[0]);
      how.set(ids[0], 'shape');
    }
  }
  const unmappedBefore = allIds.filter((id) => !names.has(id) && opt.state.has(id));

  // 3. Order-preserving interleaving of the groups (each group in named_parameters() order).
  const solution: Interleaving = orderKnown && allIds.length === params.length ? solveGroupInterleaving(opt, params) : { count: 0 };
  if (unmappedBefore.length > 0 && (options.assumeGroupOrder ?? true) && solution.count === 1) {
    for (const [id, name] of solution.assignment) {
      if (!names.has(id)) {
        names.set(id, name);
        how.set(id, 'group-order');
      }
    }
    issues.push({
      severity: 'warning',
      path,
      message:
        `ambiguous optimizer-state mapping: ${opt.groups.length} param groups without param_names; ` +
        `${unmappedBefore.length} state ids mapped by assuming each group lists its parameters in named_parameters() order ` +
        `(the only assignment consistent with the shapes): ${unmappedBefore.map((id) => `${id}→${names.get(id)}`).join(', ')}. ` +
        `This is wrong if the groups were built from name-sorted lists; save param_names in the param groups to make the mapping certain.`,
    });
  } else if (unmappedBefore.length > 0) {
    const layers = [
      ...new Set(
        unmappedBefore
          .map((id) => shapeOf(id))
          .filter((s): s is number[] => s !== null)
          .flatMap((s) => paramsByShape.get(shapeKey(s)) ?? []),
      ),
    ];
    const hint =
      solution.count === 1
        ? ' (assuming each group lists its parameters in named_parameters() order would determine them uniquely; assumeGroupOrder is off)'
        : solution.count === 2
          ? ' (even assuming named_parameters() order within each group, several assignments fit)'
          : '';
    issues.push({
      severity: 'warning',
      path,
      message:
        `ambiguous optimizer-state mapping: ${allIds.length} state ids in ${opt.groups.length} param group(s), ${params.length} model parameters, no param_names; ` +
        `mapped ${names.size} by unique shape; ${unmappedBefore.length} ids (${unmappedBefore.join(', ')}) share shapes with several parameters ` +
        `(${layers.join(', ')}) and are left unmapped${hint}${orderKnown ? '' : ' (the model file does not record parameter order)'}. ` +
        `Save param_names in the param groups to make the mapping certain.`,
    });
  }
  return { names, how, unmapped: allIds.filter((id) => !names.has(id)) };
}

/** With several groups, the positional mapping is only forced if it is the only interleaving that fits. */
function positionalIsForced(opt: ParsedOptimizer, params: { name: string; shape: number[] }[]): boolean {
  const s = solveGroupInterleaving(opt, params);
  return s.count === 1;
}

type Interleaving = { count: 0 } | { count: 1; assignment: Map<number, string> } | { count: 2 };

/**
 * Count (up to 2) the ways to split the named parameters into the groups so that each group's ids
 * follow named_parameters() order and every id's state shape equals its parameter's shape.
 */
export function solveGroupInterleaving(opt: ParsedOptimizer, params: { name: string; shape: number[] }[]): Interleaving {
  const groups = opt.groups.map((g) => g.ids.map((id) => ({ id, shape: stateShape(opt, id) })));
  const n = params.length;
  if (groups.reduce((a, g) => a + g.length, 0) !== n || n > 20000) return { count: 0 };
  const pshape = params.map((p) => shapeKey(p.shape));
  const gshape = groups.map((g) => g.map((x) => (x.shape ? shapeKey(x.shape) : null)));
  const memo = new Map<string, number>();
  const budget = 500000;
  const pos = groups.map(() => 0);
  // Iterative depth-first search with memoised counts (capped at 2).
  const count = (i: number): number => {
    if (i === n) return 1;
    const key = pos.join(',');
    const m = memo.get(key);
    if (m !== undefined) return m;
    if (memo.size > budget) return 2; // too many states: treat as undetermined
    let c = 0;
    for (let g = 0; g < groups.length && c < 2; g++) {
      const p = pos[g];
      if (p >= groups[g].length) continue;
      const s = gshape[g][p];
      if (s !== null && s !== pshape[i]) continue;
      pos[g]++;
      c += count(i + 1);
      pos[g]--;
    }
    c = Math.min(c, 2);
    memo.set(key, c);
    return c;
  };
  let total: number;
  try {
    total = count(0);
  } catch {
    return { count: 2 }; // recursion too deep: undetermined
  }
  if (total === 0) return { count: 0 };
  if (total >= 2) return { count: 2 };
  // Walk the unique solution.
  const assignment = new Map<number, string>();
  pos.fill(0);
  for (let i = 0; i < n; i++) {
    for (let g = 0; g < groups.length; g++) {
      const p = pos[g];
      if (p >= groups[g].length) continue;
      const s = gshape[g][p];
      if (s !== null && s !== pshape[i]) continue;
      pos[g]++;
      if (count(i + 1) === 1) {
        assignment.set(groups[g][p].id, params[i].name);
        break;
      }
      pos[g]--;
    }
  }
  return { count: 1, assignment };
}

// ---- Building RunData ----------------------------------------------------------------------------

const BUFFER_SUFFIXES = ['running_mean', 'running_var', 'num_batches_tracked'];

export interface ModelSource {
  file: LoadedTorchFile;
  part: ModelPart;
}

export interface OptimizerSource {
  file: LoadedTorchFile;
  osd: PyDict;
  where: string;
  optimizerCount: number;
}

/** Tensors of a model state dict that are parameters (buffers and tied aliases removed), in order. */
export function modelParameters(part: ModelPart, path: string, issues: ReadIssue[]): ModelTensor[] {
  const out: ModelTensor[] = [];
  const seen = new Map<string, string>();
  const aliases: string[] = [];
  for (const t of part.tensors) {
    const last = t.name.split('.').pop() ?? '';
    if (BUFFER_SUFFIXES.includes(last)) continue;
    if (!FLOAT_DTYPES[t.tensor.storage.dtype]) continue;
    const view = `${t.tensor.storage.key}@${t.tensor.storageOffset}:${t.tensor.shape}:${t.tensor.stride}`;
    const first = seen.get(view);
    if (first !== undefined) {
      aliases.push(`${t.name} (= ${first})`);
      continue;
    }
    seen.set(view, t.name);
    out.push(t);
  }
  if (aliases.length) {
    issues.push({ severity: 'warning', path, message: `tied parameters share storage and are reported once: ${aliases.join(', ')}` });
  }
  return out;
}

export interface BuildInput {
  /** Model state dicts (one, or the shards of a sharded checkpoint in order). */
  models?: ModelSource[];
  optimizer?: OptimizerSource;
  /** Step stated by a checkpoint dict or a wrapper (Lightning `global_step`, HF trainer_state). */
  statedStep?: number | null;
  /** File or folder whose name may carry the step. */
  namePath: string;
  scalars?: Record<string, number>;
  /** Role of the model's tensors: 'param_after' when saved with optimizer state after a step. */
  modelRole: TensorRole;
  format: string;
  inputs: { path: string; format: string }[];
  /** Hint for AdamW vs Adam when no group says (e.g. HF Trainer's default optimizer). */
  decoupledHint?: string;
  /** Model parameters from another reader (HF model.safetensors); `ordered`: in named_parameters() order. */
  externalModel?: { refs: TensorRef[]; ordered: boolean };
  options?: TorchReadOptions;
}

/** Merge a model part and an optimizer part into one RunData with one TensorSnapshot. */
export async function buildRunData(input: BuildInput): Promise<RunData> {
  const run = emptyRunData();
  run.inputs = input.inputs;
  const issues = run.issues;
  const tensors: TensorRef[] = [];
  const skipped: string[] = [];
  const scalars: Record<string, number> = { ...(input.scalars ?? {}) };

  // Model parameters (several sources for sharded checkpoints, in shard order).
  const params: { name: string; shape: number[] }[] = [];
  let paramsOrdered = true;
  for (const { file, part } of input.models ?? []) {
    const ps = modelParameters(part, file.path, issues);
    for (const t of ps) {
      if (t.name in run.layerShapes) {
        issues.push({
          severity: 'warning',
          path: file.path,
          message: `parameter '${t.name}' appears in more than one model file; the first is used`,
        });
        continue;
      }
      const ref = tensorRef(file, t.tensor, t.name, input.modelRole, t.key);
      if (typeof ref === 'string') {
        skipped.push(`${t.key} (${ref})`);
        continue;
      }
      tensors.push(ref);
      run.layerOrder.push(t.name);
      run.layerShapes[t.name] = [...t.tensor.shape];
      params.push({ name: t.name, shape: t.tensor.shape });
    }
    const nonFloat = part.tensors.filter((t) => !FLOAT_DTYPES[t.tensor.storage.dtype]).map((t) => t.key);
    if (nonFloat.length) {
      issues.push({
        severity: 'warning',
        path: file.path,
        message: `skipped ${nonFloat.length} non-float tensors (buffers or integer data): ${nonFloat.slice(0, 8).join(', ')}${nonFloat.length > 8 ? ', …' : ''}`,
      });
    }
  }
  if (input.externalModel) {
    for (const ref of input.externalModel.refs) {
      if (ref.layer in run.layerShapes) continue;
      tensors.push({ ...ref, role: input.modelRole });
      run.layerOrder.push(ref.layer);
      run.layerShapes[ref.layer] = [...ref.shape];
      params.push({ name: ref.layer, shape: ref.shape });
    }
    paramsOrdered = input.externalModel.ordered;
  }

  // Optimizer state.
  let step: number | null = null;
  if (input.optimizer) {
    const { file, osd } = input.optimizer;
    const opt = parseOptimizer(osd, file.path, issues);
    if (input.optimizer.optimizerCount > 1) {
      issues.push({
        severity: 'warning',
        path: file.path,
        message: `${input.optimizer.optimizerCount} optimizers in the checkpoint; only ${input.optimizer.where} is analysed`,
      });
    }
    // Parameter order unknown (safetensors sorts by name): only param_names or unique shapes are certain.
    const mapping = mapOptimizerIds(opt, params, file.path, issues, {
      assumeGroupOrder: input.options?.assumeGroupOrder,
      orderKnown: paramsOrdered,
    });
    const haveModel = params.length > 0;
    if (!haveModel) {
      // No model: name the state by its place in the param groups.
      opt.groups.forEach((g, gi) =>
        g.ids.forEach((id, i) => {
          if (!mapping.names.has(id)) {
            mapping.names.set(id, `param_group${gi}.${i}`);
            mapping.how.set(id, 'group-position');
          }
        }),
      );
    }
    const steps = new Set<number>();
    await withFile(file.path, async (fh) => {
      for (const [id, st] of opt.state) {
        const s = st.step;
        const v = s instanceof TorchTensor ? await readScalarTensor(file, fh, s) : asNumber(s ?? null);
        if (v !== null && Number.isFinite(v)) steps.add(v);
        let layer = mapping.names.get(id);
        if (layer === undefined) {
          if (haveModel) continue; // reported by the mapping warning
          layer = `state.${id}`;
        }
        for (const [role, t] of st.tensors) {
          const key = `${input.optimizer!.where ? input.optimizer!.where + '.' : ''}state.${id}.${role}`;
          if (haveModel && run.layerShapes[layer] && shapeKey(run.layerShapes[layer]) !== shapeKey(t.shape)) {
            issues.push({
              severity: 'warning',
              path: file.path,
              message: `${key} has shape [${t.shape}] but parameter '${layer}' has [${run.layerShapes[layer]}]; skipped`,
            });
            continue;
          }
          const ref = tensorRef(file, t, layer, role, key);
          if (typeof ref === 'string') {
            skipped.push(`${key} (${ref})`);
            continue;
          }
          tensors.push(ref);
          if (!haveModel && !(layer in run.layerShapes)) {
            run.layerOrder.push(layer);
            run.layerShapes[layer] = [...t.shape];
          }
        }
      }
    });
    if (steps.size > 1) {
      issues.push({
        severity: 'warning',
        path: file.path,
        message: `optimizer state holds different step counts (${[...steps]
          .sort((a, b) => a - b)
          .slice(0, 6)
          .join(', ')}); using the largest`,
      });
    }
    if (steps.size > 0) step = Math.max(...steps);

    // Hyper-parameters.
    const { hyper, groups } = optimizerHyper(opt, mapping, file.path, issues, input.decoupledHint);
    run.hyper = hyper;
    run.paramGroups = groups;
    opt.groups.forEach((g, gi) => {
      for (const [k, v] of g.raw.map) {
        const x = asNumber(v);
        if (typeof k === 'string' && x !== null && k !== 'params') scalars[`param_groups.${gi}.${k}`] = x;
      }
    });
    if (hyper.lr !== null && hyper.lr !== undefined) scalars.lr = hyper.lr;
  }
  if (skipped.length) {
    issues.push({
      severity: 'warning',
      path: input.namePath,
      message: `skipped ${skipped.length} tensors: ${skipped.slice(0, 8).join('; ')}${skipped.length > 8 ? '; …' : ''}`,
    });
  }

  // Step: optimizer state's step count, else what the checkpoint states, else the name.
  const stated = input.statedStep ?? null;
  if (step !== null && !Number.isInteger(step)) step = Math.round(step);
  if (step !== null && stated !== null && stated !== step) {
    issues.push({
      severity: 'warning',
      path: input.namePath,
      message: `checkpoint states step ${stated} but the optimizer state has taken ${step} steps; using ${step}`,
    });
  }
  if (step === null) step = stated;
  if (step === null) step = stepFromFilePath(input.namePath);
  if (step !== null) scalars.step = step;

  const snapshot: TensorSnapshot = { step, tensors, path: input.namePath, scalars };
  run.snapshots.push(snapshot);
  return run;
}

function optimizerHyper(
  opt: ParsedOptimizer,
  mapping: IdMapping,
  path: string,
  issues: ReadIssue[],
  decoupledHint?: string,
): { hyper: Partial<OptimizerHyper>; groups: ParamGroupHyper[] } {
  const keys = new Set<string>();
  for (const s of opt.state.values()) for (const k of s.keys) keys.add(k);
  const groupKeys = new Set<string>();
  for (const g of opt.groups) for (const k of g.raw.keys()) groupKeys.add(String(k));
  let type: OptimizerHyper['type'] = null;
  const wds = opt.groups.map((g) => g.weightDecay ?? 0);
  const anyDecay = wds.some((w) => w > 0);
  if (keys.has('exp_avg_sq') || (groupKeys.has('betas') && groupKeys.has('eps') && !keys.has('momentum_buffer'))) {
    const decoupled = opt.groups.map((g) => g.raw.get('decoupled_weight_decay'));
    if (decoupled.some((d) => d === true)) type = 'adamw';
    else if (decoupled.length > 0 && decoupled.every((d) => d === false)) type = 'adam';
    else if (!anyDecay) type = 'adam';
    else {
      type = 'adamw';
      issues.push({
        severity: 'warning',
        path,
        message:
          `weight_decay > 0 but the state dict cannot tell torch.optim.Adam (L2 decay added to the gradient) from AdamW (decoupled decay): ` +
          `assumed AdamW${decoupledHint ? ` (${decoupledHint})` : ''}; set the optimizer type explicitly if the run used Adam with weight_decay`,
      });
    }
  } else if (keys.has('momentum_buffer') || (groupKeys.has('momentum') && groupKeys.has('nesterov'))) {
    type = 'sgd';
  } else if (opt.state.size > 0) {
    const ks = [...keys].filter((k) => k !== 'step');
    issues.push({
      severity: 'warning',
      path,
      message: `optimizer state keys (${ks.join(', ')}) are not Adam's or SGD's; optimizer type unknown`,
    });
  }
  const uniform = <T>(vals: (T | null)[], eq: (a: T, b: T) => boolean = (a, b) => a === b): T | null => {
    if (vals.length === 0 || vals[0] === null) return null;
    return vals.every((v) => v !== null && eq(v, vals[0] as T)) ? vals[0] : null;
  };
  const hyper: Partial<OptimizerHyper> = {
    type,
    lr: uniform(opt.groups.map((g) => g.lr)),
    betas:
      type === 'sgd'
        ? null
        : uniform(
            opt.groups.map((g) => g.betas),
            (a, b) => a[0] === b[0] && a[1] === b[1],
          ),
    eps: type === 'sgd' ? null : uniform(opt.groups.map((g) => g.eps)),
    weightDecay: uniform(opt.groups.map((g) => g.weightDecay)),
    source: 'checkpoint',
  };
  const groups: ParamGroupHyper[] = opt.groups.map((g) => ({
    layers: g.ids.map((id) => mapping.names.get(id)).filter((x): x is string => x !== undefined),
    lr: g.lr,
    betas: type === 'sgd' ? null : g.betas,
    eps: type === 'sgd' ? null : g.eps,
    weightDecay: g.weightDecay,
  }));
  if (opt.groups.length > 1 && (hyper.lr === null || hyper.weightDecay === null || hyper.eps === null)) {
    issues.push({
      severity: 'warning',
      path,
      message: `param groups differ in ${['lr', 'weightDecay', 'eps'].filter((k) => hyper[k as 'lr'] === null).join(', ')}; see paramGroups for per-group values`,
    });
  }
  return { hyper, groups };
}

// ---- Public entry points -------------------------------------------------------------------------

/** Read one torch.save checkpoint file (model, optimizer, combined or Lightning). */
export async function readTorchCheckpoint(path: string, options: TorchReadOptions = {}): Promise<RunData> {
  options.signal?.throwIfAborted();
  const file = await loadTorchFile(path);
  options.signal?.throwIfAborted();
  const parts = findCheckpointParts(file.root, path);
  const withOptimizer = parts.optimizer !== undefined;
  return buildRunData({
    models: parts.model ? [{ file, part: parts.model }] : [],
    optimizer: parts.optimizer
      ? { file, osd: parts.optimizer, where: parts.optimizerWhere ?? '', optimizerCount: parts.optimizerCount }
      : undefined,
    statedStep: parts.statedStep,
    namePath: path,
    scalars: parts.scalars,
    modelRole: withOptimizer ? 'param_after' : 'param',
    format: TORCH_FORMAT,
    inputs: [{ path, format: TORCH_FORMAT }],
    options,
  }).then((run) => {
    options.onProgress?.(1);
    return run;
  });
}

/** A model file and an optimizer file saved at the same step (e.g. model_step000120.pt + optim_step000120.pt). */
export async function readCheckpointPair(modelPath: string, optimizerPath: string, options: TorchReadOptions = {}): Promise<RunData> {
  const mfile = await loadTorchFile(modelPath);
  const ofile = await loadTorchFile(optimizerPath);
  const mparts = findCheckpointParts(mfile.root, modelPath);
  const oparts = findCheckpointParts(ofile.root, optimizerPath);
  if (!mparts.model) throw new ReaderError(modelPath, 'no model state dict in the model file');
  if (!oparts.optimizer) throw new ReaderError(optimizerPath, 'no optimizer state dict in the optimizer file');
  const issues: ReadIssue[] = [];
  const ms = stepFromName(modelPath);
  const os = stepFromName(optimizerPath);
  if (ms !== null && os !== null && ms !== os) {
    issues.push({ severity: 'warning', path: optimizerPath, message: `model file name says step ${ms}, optimizer file name says ${os}` });
  }
  const run = await buildRunData({
    models: [{ file: mfile, part: mparts.model }],
    optimizer: { file: ofile, osd: oparts.optimizer, where: oparts.optimizerWhere ?? '', optimizerCount: oparts.optimizerCount },
    statedStep: oparts.statedStep ?? mparts.statedStep,
    namePath: optimizerPath,
    scalars: { ...mparts.scalars, ...oparts.scalars },
    modelRole: 'param_after',
    format: TORCH_FORMAT,
    inputs: [
      { path: modelPath, format: TORCH_FORMAT },
      { path: optimizerPath, format: TORCH_FORMAT },
    ],
    options,
  });
  run.issues.unshift(...issues);
  return run;
}

export function isTorchCheckpointName(path: string): boolean {
  return /\.(pt|pth|bin|ckpt|tar)$/i.test(basename(path));
}

export const torchReader: Reader = {
  format: TORCH_FORMAT,
  detect(path: string, head: Uint8Array): boolean {
    if (!isTorchCheckpointName(path)) return false;
    return startsWith(head, ZIP_MAGIC) || (head.length >= 2 && head[0] === 0x80 && head[1] <= 5);
  },
  read(path: string, options?: ReadOptions): Promise<RunData> {
    return readTorchCheckpoint(path, options);
  },
};
