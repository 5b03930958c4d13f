import type { Dtype } from '../../io/tensorBytes';
import type { FileBytes } from '../../io/fileBytes';
import type { ReadIssue, TensorRef, TensorRole } from '../../run/types';
import { TORCH_DTYPE_BYTES, TorchTensor, type TorchDtype } from '../pickle/values';
import type { LoadedTorchFile } from './load';
import type { ModelPart, ModelTensor } from './structure';

// Tensors of a loaded torch.save file as TensorRefs (file, offset, dtype, shape; no bytes read), the
// parameters of a model state dict (buffers and tied aliases removed), and 0-d scalars (Adam's step).

// ---- Tensors → TensorRefs ------------------------------------------------------------------------

export const FLOAT_DTYPES: Partial<Record<TorchDtype, Dtype>> = { float32: 'F32', float64: 'F64', float16: 'F16', bfloat16: 'BF16' };

/**
 * Describe a tensor of a loaded file as a TensorRef (no bytes read). Returns a reason string when the
 * tensor cannot be used (non-float dtype, missing storage).
 */
export function tensorRef(file: LoadedTorchFile, t: TorchTensor, layer: string, role: TensorRole, key: string): TensorRef | string {
  // bitsandbytes' 8-bit optimizer state is uint8 codes; every other tensor the engine reads is float.
  const dtype =
    FLOAT_DTYPES[t.storage.dtype] ?? (t.storage.dtype === 'uint8' && (role === 'state1' || role === 'state2') ? 'U8' : undefined);
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
export async function readScalarTensor(file: LoadedTorchFile, fh: FileBytes, t: TorchTensor): Promise<number | null> {
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

const BUFFER_SUFFIXES = ['running_mean', 'running_var', 'num_batches_tracked'];

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
