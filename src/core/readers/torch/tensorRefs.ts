import type { Dtype } from '../../io/tensorBytes';
import type { FileBytes } from '../../io/fileBytes';
import type { ReadIssue, TensorRef, TensorRole } from '../../run/types';
import { TORCH_DTYPE_BYTES, TorchTensor, type TorchDtype } from '../pickle/values';
import type { LoadedTorchFile } from './torchFile';
import type { ModelPart, ModelTensor } from './structure';

// Tensors of a loaded torch.save file as TensorRefs (file, offset, dtype, shape; no bytes read), the
// parameters of a model state dict (buffers and tied aliases removed), and 0-d scalars (Adam's step).

// ---- Tensors → TensorRefs ------------------------------------------------------------------------

export const FLOAT_DTYPES: Partial<Record<TorchDtype, Dtype>> = { float32: 'F32', float64: 'F64', float16: 'F16', bfloat16: 'BF16' };

/**
 * How a tensor's elements lie in its storage: 'C' (contiguous), a permutation of the dimensions for a
 * dense view in another order (a transposed weight: the same elements in memory order, `perm:1,0`), or
 * null for a view with gaps or repeats (a strided slice, an expanded tensor).
 */
export function tensorLayout(t: TorchTensor): string | null {
  if (t.isContiguous) return 'C';
  const dims = t.shape.map((_, d) => d).filter((d) => t.shape[d] !== 1);
  dims.sort((a, b) => t.stride[b] - t.stride[a]);
  let expected = 1;
  for (let k = dims.length - 1; k >= 0; k--) {
    if (t.stride[dims[k]] !== expected) return null;
    expected *= t.shape[dims[k]];
  }
  return `perm:${dims.join(',')}`;
}

/**
 * Describe a tensor of a loaded file as a TensorRef (no bytes read). Returns the reason when the tensor
 * cannot be used (non-float dtype, missing or short storage, a view with gaps, no elements): the caller
 * makes it an issue on that tensor and keeps the others. A dense view in another dimension order is
 * described in memory order (the engine's statistics are per element; the caller checks that every
 * tensor of the layer shares the order).
 */
export function tensorRef(file: LoadedTorchFile, t: TorchTensor, layer: string, role: TensorRole, key: string): TensorRef | string {
  // bitsandbytes' 8-bit optimizer state is uint8 codes; every other tensor the engine reads is float.
  const dtype =
    FLOAT_DTYPES[t.storage.dtype] ?? (t.storage.dtype === 'uint8' && (role === 'state1' || role === 'state2') ? 'U8' : undefined);
  if (!dtype) return `dtype ${t.storage.dtype}`;
  if (t.problem) return t.problem;
  const where = file.storages.get(t.storage.key);
  if (!where) return `storage '${t.storage.key}' missing from the ${file.container === 'zip' ? 'archive' : 'file'}`;
  if (where.problem) return `storage '${t.storage.key}': ${where.problem}`;
  const item = TORCH_DTYPE_BYTES[t.storage.dtype];
  const storageBytes = ((t.storage.elementOffset ?? 0) + t.storage.numel) * item;
  if (where.length < storageBytes) return `storage '${t.storage.key}' has ${where.length} bytes, ${storageBytes} expected`;
  const numel = t.numel;
  if (numel === 0) return `no elements (shape [${t.shape}])`;
  const layout = tensorLayout(t);
  if (layout === null) {
    return `not contiguous (shape [${t.shape}], strides [${t.stride}]): a view with gaps or repeated elements; save it with .contiguous()`;
  }
  // First element in memory order: for a dense permuted view, the lowest index it touches is its offset.
  const first = ((t.storage.elementOffset ?? 0) + t.storageOffset) * item;
  return {
    layer,
    role,
    key,
    dtype,
    shape: [...t.shape],
    numel,
    source:
      where.compression === 'none'
        ? { path: file.path, offset: where.offset + first, storedLength: numel * item, compression: 'none' }
        : {
            path: file.path,
            offset: where.offset,
            storedLength: where.storedLength,
            compression: 'deflate',
            skipInflated: first,
            inflatedLength: where.length,
          },
  };
}

/** Read a 0-d (or one-element) tensor's value: float32/64, float16/bfloat16 or int64/32 (e.g. Adam's `step`). */
export async function readScalarTensor(file: LoadedTorchFile, fh: FileBytes, t: TorchTensor): Promise<number | null> {
  if (t.numel !== 1 || t.problem) return null;
  const where = file.storages.get(t.storage.key);
  if (!where || where.problem || where.compression !== 'none') return null;
  const item = TORCH_DTYPE_BYTES[t.storage.dtype];
  const at = ((t.storage.elementOffset ?? 0) + t.storageOffset) * item;
  if (at + item > where.length) return null;
  const b = await fh.read(where.offset + at, item);
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
