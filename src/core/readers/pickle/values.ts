// The values the allow-list unpickler builds: plain JS data (dicts, sets, bytes, tuples as frozen
// arrays) and descriptions of torch tensors and storages. Nothing here refers to Python code.

/** A Python dict / OrderedDict. Keys are kept as JS primitives (str, int, float, bool, None). */
export class PyDict {
  readonly map = new Map<PickleKey, PickleValue>();
  /** Attributes set by BUILD (e.g. a state dict's `_metadata`). */
  attrs: PickleValue = null;
  constructor(readonly ordered = false) {}
  get(key: PickleKey): PickleValue | undefined {
    return this.map.get(key);
  }
  has(key: PickleKey): boolean {
    return this.map.has(key);
  }
  keys(): PickleKey[] {
    return [...this.map.keys()];
  }
  get size(): number {
    return this.map.size;
  }
}

/** A Python set / frozenset (items kept in insertion order, no hashing semantics beyond primitives). */
export class PySet {
  readonly items: PickleValue[] = [];
  constructor(readonly frozen = false) {}
}

/** A Python bytes object. */
export class PyBytes {
  constructor(readonly bytes: Uint8Array) {}
}

/** An allowed global (a class or function from ALLOWED_GLOBALS), as an object on the stack. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
    readonly spec: GlobalSpec,
  ) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

/** torch storage dtypes (from `torch.FloatStorage`, …, or a `torch.float32` dtype object). */
export type TorchDtype =
  'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool' | 'complex64' | 'complex128';

export const TORCH_DTYPE_BYTES: Record<TorchDtype, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
  complex64: 8,
  complex128: 16,
};

/** What a persistent id resolved to (torch: a storage inside the zip archive). */
export interface TorchStorage {
  kind: 'storage';
  dtype: TorchDtype;
  /** The member name under `<prefix>/data/`. */
  key: string;
  location: string;
  /** Number of elements in the storage. */
  numel: number;
}

/** A tensor as `_rebuild_tensor_v2` describes it: a view into a storage. Nothing is read. */
export class TorchTensor {
  constructor(
    readonly storage: TorchStorage,
    /** In elements. */
    readonly storageOffset: number,
    readonly shape: number[],
    /** In elements. */
    readonly stride: number[],
    readonly requiresGrad: boolean,
    /** Byte offset of the REDUCE that built it, in the pickle (for messages). */
    readonly pickleOffset: number,
  ) {}
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  get isContiguous(): boolean {
    let expected = 1;
    for (let d = this.shape.length - 1; d >= 0; d--) {
      if (this.shape[d] !== 1 && this.stride[d] !== expected) return false;
      expected *= this.shape[d];
    }
    return true;
  }
}

export type PickleKey = string | number | bigint | boolean | null;

/** Lists are plain arrays; tuples are frozen arrays. */
export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | PyBytes
  | PickleValue[]
  | PyDict
  | PySet
  | PyGlobal
  | TorchTensor
  | TorchStorage
  | { kind: 'dtype'; dtype: TorchDtype }
  | { kind: 'object'; type: string; args: PickleValue[]; state: PickleValue };

export function isTuple(v: PickleValue | undefined): boolean {
  return Array.isArray(v) && Object.isFrozen(v);
}

export interface CallContext {
  fail(message: string): never;
  offset: number;
}

export interface GlobalSpec {
  /** REDUCE: `callable(*args)`. Absent: the global is a tag (storage type, dtype) and cannot be called. */
  call?: (args: PickleValue[], ctx: CallContext) => PickleValue;
  /** NEWOBJ: `cls.__new__(cls, *args)`. */
  newobj?: (args: PickleValue[], ctx: CallContext) => PickleValue;
  /** What the global itself stands for on the stack when it is a tag. */
  storageDtype?: TorchDtype;
  dtype?: TorchDtype;
}

export function describe(v: PickleValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'None';
  if (typeof v === 'string') return v.length > 40 ? `str '${v.slice(0, 40)}…'` : `str '${v}'`;
  if (typeof v === 'number' || typeof v === 'bigint') return `number ${v}`;
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (Array.isArray(v)) return isTuple(v) ? `tuple of ${v.length}` : `list of ${v.length}`;
  if (v instanceof PyDict) return `dict of ${v.size}`;
  if (v instanceof PySet) return 'set';
  if (v instanceof PyBytes) return `bytes of ${v.bytes.length}`;
  if (v instanceof PyGlobal) return `global ${v.qualified}`;
  if (v instanceof TorchTensor) return `tensor [${v.shape}]`;
  return (v as { kind: string }).kind;
}

export function dictKey(k: PickleValue, ctx: { fail(m: string): never }): PickleKey {
  if (k === null || typeof k === 'string' || typeof k === 'number' || typeof k === 'bigint' || typeof k === 'boolean') return k;
  if (Array.isArray(k) && isTuple(k) && k.every((x) => typeof x === 'string' || typeof x === 'number')) {
    return `(${k.map((x) => JSON.stringify(x)).join(', ')})`;
  }
  ctx.fail(`unsupported dict key (${describe(k)})`);
}

/** A printable summary of a value (for messages and debugging); bounded in depth and size. */
export function summarize(v: PickleValue, depth = 2): string {
  if (depth <= 0) return describe(v);
  if (v instanceof PyDict) {
    const keys = v
      .keys()
      .slice(0, 8)
      .map((k) => `${String(k)}: ${summarize(v.get(k)!, depth - 1)}`);
    return `{${keys.join(', ')}${v.size > 8 ? ', …' : ''}}`;
  }
  if (Array.isArray(v)) {
    const items = v.slice(0, 8).map((x) => summarize(x, depth - 1));
    return isTuple(v) ? `(${items.join(', ')})` : `[${items.join(', ')}${v.length > 8 ? ', …' : ''}]`;
  }
  return describe(v);
}
