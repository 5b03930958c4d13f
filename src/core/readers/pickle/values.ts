import { echo } from '../../errors';

// The values the allow-list unpickler builds: plain JS data (dicts, sets, bytes, tuples as frozen
// arrays), descriptions of torch tensors and storages, and inert placeholders for Python objects of
// classes outside the allow-list (a name and the data the pickle gave it). Nothing here refers to
// Python code. Values may be shared and even cyclic (pickles can be): walk them with a depth bound.

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

/**
 * A global outside the allow-list, named but never imported: instantiating it (REDUCE, NEWOBJ, INST,
 * OBJ) gives a PyObject that only records its class name and data.
 */
export class PyClassRef {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

/**
 * An inert placeholder for a Python object whose class is not on the allow-list (a loss module, an
 * sklearn encoder, a user class in Lightning's hyper_parameters; numpy arrays in an RNG state). It
 * keeps the constructor arguments, the BUILD state and any dict/list items the pickle added, as data.
 */
export class PyObject {
  state: PickleValue = null;
  /** Items added by SETITEM(S) (dict subclasses: Lightning's AttributeDict, defaultdict, …). */
  dictItems: PyDict | null = null;
  /** Items added by APPEND(S) (list subclasses). */
  listItems: PickleValue[] | null = null;
  constructor(
    /** `module.name` of the class (or function) the pickle named. */
    readonly type: string,
    readonly args: PickleValue[],
  ) {}
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
  /** A view of the stored storage `key` starting at this element (legacy streams of torch < 1.0). */
  elementOffset?: number;
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
    /** Why the view cannot be read (it reaches outside its storage, …); the tensor gets an issue. */
    readonly problem?: string,
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
  | PyClassRef
  | PyObject
  | TorchTensor
  | TorchStorage
  | { kind: 'dtype'; dtype: TorchDtype };

export function isTuple(v: PickleValue | undefined): boolean {
  return Array.isArray(v) && Object.isFrozen(v);
}

/** What an allowed constructor may use: fail at the opcode's offset, and charge items to the budgets. */
export interface CallContext {
  fail(message: string): never;
  /** Byte offset of the REDUCE/NEWOBJ being run. */
  offset: number;
  /** Charge `n` container items to the machine's budget (copies made by OrderedDict(pairs), set(list)). */
  chargeItems(n: number): void;
  /** Nested constructor calls (`_rebuild_from_type_v2` calling a rebuild function). */
  depth: number;
  /** An inert placeholder object of class `type` (counted like the machine's own). */
  placeholder(type: string, args: PickleValue[]): PyObject;
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
  if (typeof v === 'string') return `str '${echo(v, 40)}'`;
  if (typeof v === 'number' || typeof v === 'bigint') return `number ${echo(String(v), 40)}`;
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (Array.isArray(v)) return isTuple(v) ? `tuple of ${v.length}` : `list of ${v.length}`;
  if (v instanceof PyDict) return `dict of ${v.size}`;
  if (v instanceof PySet) return 'set';
  if (v instanceof PyBytes) return `bytes of ${v.bytes.length}`;
  if (v instanceof PyGlobal) return `global ${v.qualified}`;
  if (v instanceof PyClassRef) return `global ${echo(v.qualified)}`;
  if (v instanceof PyObject) return `object ${echo(v.type)}`;
  if (v instanceof TorchTensor) return `tensor [${v.shape}]`;
  return (v as { kind: string }).kind;
}

/** Longest text a tuple key becomes (longer tuple keys get a placeholder key). */
const MAX_TUPLE_KEY = 1024;
let placeholderKeys = 0;

/**
 * A Python dict key as a JS map key: primitives as they are, a short tuple of strings/numbers as its
 * text, anything else (an object, a long tuple) as a unique placeholder string naming what it was —
 * such keys are never looked up, and a file cannot make a key of unbounded length.
 */
export function dictKey(k: PickleValue): PickleKey {
  if (k === null || typeof k === 'string' || typeof k === 'number' || typeof k === 'bigint' || typeof k === 'boolean') return k;
  if (Array.isArray(k) && isTuple(k) && k.length <= 64 && k.every((x) => typeof x === 'string' || typeof x === 'number')) {
    let len = 0;
    for (const x of k) len += typeof x === 'string' ? x.length + 4 : 24;
    if (len <= MAX_TUPLE_KEY) return `(${k.map((x) => JSON.stringify(x)).join(', ')})`;
  }
  return `<key ${describe(k)} #${++placeholderKeys}>`;
}

/** A printable summary of a value (for messages and debugging); bounded in depth and size, cycle-safe. */
export function summarize(v: PickleValue, depth = 2): string {
  if (depth <= 0) return describe(v);
  if (v instanceof PyDict) {
    const keys: string[] = [];
    for (const [k, x] of v.map) {
      if (keys.length === 8) break;
      keys.push(`${echo(String(k), 40)}: ${summarize(x, depth - 1)}`);
    }
    return `{${keys.join(', ')}${v.size > 8 ? ', …' : ''}}`;
  }
  if (Array.isArray(v)) {
    const items = v.slice(0, 8).map((x) => summarize(x, depth - 1));
    return isTuple(v) ? `(${items.join(', ')}${v.length > 8 ? ', …' : ''})` : `[${items.join(', ')}${v.length > 8 ? ', …' : ''}]`;
  }
  return describe(v);
}
