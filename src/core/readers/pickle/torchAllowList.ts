import { appendAll } from '../../arrays';
import {
  PyBytes,
  PyClassRef,
  PyDict,
  PyGlobal,
  PySet,
  TorchTensor,
  describe,
  dictKey,
  isTuple,
  summarize,
  type CallContext,
  type GlobalSpec,
  type PickleValue,
  type TorchDtype,
  type TorchStorage,
} from './values';

// What a pickle's globals may mean. Nothing here imports or calls Python code; a security review of the
// checkpoint readers is a review of this file and of the interpreter (machine.ts), which resolves every
// GLOBAL / STACK_GLOBAL / INST name through `classifyGlobal` below and nothing else.
//
// 1. ALLOWED_GLOBALS: data constructors implemented here in TypeScript (a tensor descriptor, an ordered
//    dict, a set, bytes, storage and dtype tags), the names torch.load(weights_only=True) accepts. Only
//    these build tensors.
// 2. REFUSED: names whose only use in a pickle is running code (eval, exec, os.system, subprocess, import
//    machinery, torch.load, …). A file naming one is hostile: it is refused by name with its offset
//    (DisallowedGlobalError), in every mode.
// 3. Anything else: in 'refuse' mode (the default) refused by name like (2); in 'placeholder' mode (the
//    checkpoint readers) an inert PyClassRef — instantiating it gives a PyObject that records the class
//    name and its data (a loss module or an sklearn encoder in Lightning's hyper_parameters, numpy arrays
//    in an RNG state). In that mode `getattr(<placeholder class>, '<name>')`, Python's pickle of an enum
//    member by name, is read as that member (ENUM_MEMBER) and nothing else. Refusal in (2) is a signal,
//    not the protection: no mode ever calls a class or function the file names.

function intArg(v: PickleValue | undefined, what: string, ctx: CallContext): number {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  if (typeof v === 'bigint' && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
  ctx.fail(`${what} must be an integer, got ${describe(v)}`);
}

function intTuple(v: PickleValue | undefined, what: string, ctx: CallContext): number[] {
  if (!Array.isArray(v)) ctx.fail(`${what} must be a tuple of integers, got ${describe(v)}`);
  return v.map((x, i) => intArg(x, `${what}[${i}]`, ctx));
}

function isStorage(v: PickleValue | undefined): v is TorchStorage {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && (v as { kind?: string }).kind === 'storage';
}

function rebuildTensorV2(args: PickleValue[], ctx: CallContext): PickleValue {
  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
  if (args.length < 4) ctx.fail(`_rebuild_tensor_v2 needs at least 4 arguments, got ${args.length}`);
  const storage = args[0];
  if (!isStorage(storage)) ctx.fail(`_rebuild_tensor_v2: first argument is not a storage (${describe(storage)})`);
  const offset = intArg(args[1], 'storage_offset', ctx);
  const shape = intTuple(args[2], 'size', ctx);
  const stride = intTuple(args[3], 'stride', ctx);
  if (shape.length !== stride.length) ctx.fail(`_rebuild_tensor_v2: size has ${shape.length} dims but stride ${stride.length}`);
  if (shape.length > 64) ctx.fail(`_rebuild_tensor_v2: ${shape.length} dimensions`);
  const requiresGrad = args[4] === true;
  // A view the storage cannot hold is one unreadable tensor (an issue on it), not an unreadable file.
  let problem: string | undefined;
  if (offset < 0 || shape.some((s) => s < 0) || stride.some((s) => s < 0)) {
    problem = `negative offset, size or stride (offset ${offset}, size [${shape}], stride [${stride}])`;
  } else {
    // The largest element index the view touches must lie inside the storage.
    let numel = 1;
    let last = offset;
    for (let d = 0; d < shape.length; d++) {
      numel *= shape[d];
      last += (shape[d] - 1) * stride[d];
    }
    if (!Number.isSafeInteger(numel) || !Number.isSafeInteger(last)) problem = `size [${shape}] overflows`;
    else if (numel > 0 && last >= storage.numel) {
      problem = `view (offset ${offset}, size [${shape}], stride [${stride}]) reaches element ${last} of storage '${storage.key}' which has ${storage.numel}`;
    }
  }
  return new TorchTensor(storage, offset, shape, stride, requiresGrad, ctx.offset, problem);
}

function rebuildParameter(args: PickleValue[], ctx: CallContext): PickleValue {
  // _rebuild_parameter(data, requires_grad, backward_hooks) / _rebuild_parameter_with_state(..., state)
  const data = args[0];
  if (!(data instanceof TorchTensor)) ctx.fail(`_rebuild_parameter: first argument is not a tensor (${describe(data)})`);
  return data;
}

/** Nested constructor calls: torch nests one (`_rebuild_from_type_v2` → `_rebuild_tensor_v2`). */
const MAX_CALL_DEPTH = 4;

function rebuildFromTypeV2(args: PickleValue[], ctx: CallContext): PickleValue {
  // torch._tensor._rebuild_from_type_v2(func, new_type, args, state): allowed only when func is an
  // allowed tensor-rebuild function and new_type is torch.Tensor / torch.nn.Parameter (as weights_only
  // does). func may not be _rebuild_from_type_v2 itself, and args must be a tuple: a list can contain
  // itself, and a self-referencing call would recurse without end.
  const [func, newType, fargs] = args;
  if (!(func instanceof PyGlobal) || !REBUILD_FUNCTIONS.has(func.qualified) || !func.spec.call) {
    ctx.fail(`_rebuild_from_type_v2: function ${describe(func)} is not an allowed tensor-rebuild function`);
  }
  if (!(newType instanceof PyGlobal) || !TENSOR_TYPES.has(newType.qualified)) {
    ctx.fail(`_rebuild_from_type_v2: type ${describe(newType)} is not torch.Tensor or torch.nn.Parameter`);
  }
  if (!isTuple(fargs)) ctx.fail(`_rebuild_from_type_v2: arguments are ${describe(fargs)}, not a tuple`);
  if (ctx.depth >= MAX_CALL_DEPTH) ctx.fail(`_rebuild_from_type_v2: constructor calls nested more than ${MAX_CALL_DEPTH} deep`);
  ctx.depth++;
  try {
    return func.spec.call(fargs as PickleValue[], ctx);
  } finally {
    ctx.depth--;
  }
}

const REBUILD_FUNCTIONS = new Set([
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
]);

const TENSOR_TYPES = new Set(['torch.Tensor', 'torch.nn.parameter.Parameter']);

function ordered(args: PickleValue[], ctx: CallContext): PickleValue {
  const d = new PyDict(true);
  if (args.length === 0) return d;
  // OrderedDict(iterable of pairs)
  const src = args[0];
  if (src instanceof PyDict) {
    ctx.chargeItems(src.size);
    for (const [k, v] of src.map) d.map.set(k, v);
    return d;
  }
  if (!Array.isArray(src)) ctx.fail(`OrderedDict argument is not a list of pairs`);
  ctx.chargeItems(src.length);
  for (const pair of src) {
    if (!Array.isArray(pair) || pair.length !== 2) ctx.fail(`OrderedDict argument is not a list of pairs`);
    d.map.set(dictKey(pair[0]), pair[1]);
  }
  return d;
}

function makeSet(frozen: boolean) {
  return (args: PickleValue[], ctx: CallContext): PickleValue => {
    const s = new PySet(frozen);
    if (args.length === 0) return s;
    const src = args[0];
    if (!Array.isArray(src)) return ctx.fail(`${frozen ? 'frozenset' : 'set'} argument is not a list`);
    ctx.chargeItems(src.length);
    appendAll(s.items, src);
    return s;
  };
}

const STORAGE_TYPES: Record<string, TorchDtype> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
  ComplexFloatStorage: 'complex64',
  ComplexDoubleStorage: 'complex128',
};

const DTYPE_NAMES: Record<string, TorchDtype> = {
  float32: 'float32',
  float: 'float32',
  float64: 'float64',
  double: 'float64',
  float16: 'float16',
  half: 'float16',
  bfloat16: 'bfloat16',
  int64: 'int64',
  long: 'int64',
  int32: 'int32',
  int: 'int32',
  int16: 'int16',
  short: 'int16',
  int8: 'int8',
  uint8: 'uint8',
  bool: 'bool',
  complex64: 'complex64',
  complex128: 'complex128',
};

/** Every global the unpickler accepts: `module.name` → what it means here. Nothing else resolves. */
export const ALLOWED_GLOBALS: ReadonlyMap<string, GlobalSpec> = (() => {
  const m = new Map<string, GlobalSpec>();
  m.set('torch._utils._rebuild_tensor_v2', { call: rebuildTensorV2 });
  m.set('torch._utils._rebuild_parameter', { call: rebuildParameter });
  m.set('torch._utils._rebuild_parameter_with_state', { call: rebuildParameter });
  m.set('torch._tensor._rebuild_from_type_v2', { call: rebuildFromTypeV2 });
  m.set('torch.Tensor', {});
  m.set('torch.nn.parameter.Parameter', {});
  for (const [name, dtype] of Object.entries(STORAGE_TYPES)) m.set(`torch.${name}`, { storageDtype: dtype });
  for (const [name, dtype] of Object.entries(DTYPE_NAMES)) m.set(`torch.${name}`, { dtype });
  m.set('collections.OrderedDict', { call: ordered, newobj: ordered });
  m.set('torch.Size', { call: (args, ctx) => Object.freeze(intTuple(args[0] ?? [], 'torch.Size', ctx)) as PickleValue[] });
  m.set('builtins.set', { call: makeSet(false), newobj: makeSet(false) });
  m.set('builtins.frozenset', { call: makeSet(true), newobj: makeSet(true) });
  // Protocol 2 pickles bytes as _codecs.encode(str, 'latin1') (torch's weights_only allows it too).
  m.set('_codecs.encode', {
    call: (args, ctx) => {
      const [text, enc] = args;
      if (typeof text !== 'string' || (enc !== 'latin1' && enc !== 'latin-1'))
        ctx.fail(`_codecs.encode: only (str, 'latin1') is supported`);
      const out = new Uint8Array((text as string).length);
      for (let i = 0; i < out.length; i++) {
        const c = (text as string).charCodeAt(i);
        if (c > 255) ctx.fail(`_codecs.encode: character outside latin-1`);
        out[i] = c;
      }
      return new PyBytes(out);
    },
  });
  // Protocol-2 pickles of sets/bytes written by Python 2 compatible code use __builtin__.
  m.set('__builtin__.set', { call: makeSet(false) });
  m.set('__builtin__.frozenset', { call: makeSet(true) });
  return m;
})();

/** The notice every refusal carries. */
export const NEVER_EXECUTES = 'Optimizer Lens never executes code from a checkpoint';

/** Modules whose every name is refused: process, file system, network, import and code machinery. */
const REFUSED_MODULES = [
  'os',
  'posix',
  'nt',
  'subprocess',
  'sys',
  'importlib',
  'imp',
  'runpy',
  'pickle',
  '_pickle',
  'cPickle',
  'marshal',
  'shelve',
  'dill',
  'shutil',
  'socket',
  'ctypes',
  'pty',
  'code',
  'codeop',
  'webbrowser',
  'commands',
  'multiprocessing',
  'signal',
  'pdb',
  'timeit',
  'torch.hub',
  'torch.jit',
  'torch.ops',
  'torch._C',
  'torch.package',
  'torch.serialization',
  'torch._dynamo',
  'numpy.testing',
];

/** Single names refused: builtins that evaluate, import, reach attributes or open files; loaders. */
const REFUSED_NAMES = new Set(
  [
    'eval',
    'exec',
    'execfile',
    'compile',
    '__import__',
    'getattr',
    'setattr',
    'delattr',
    'globals',
    'locals',
    'vars',
    'open',
    'input',
    'breakpoint',
    'apply',
    'help',
    'memoryview',
  ]
    .flatMap((n) => [`builtins.${n}`, `__builtin__.${n}`])
    .concat([
      'torch.load',
      'torch.save',
      'numpy.load',
      'numpy.lib.npyio.load',
      'operator.attrgetter',
      'operator.methodcaller',
      'operator.itemgetter',
      'functools.reduce',
      'types.FunctionType',
      'types.CodeType',
      'types.LambdaType',
      'types.MethodType',
      'types.ModuleType',
    ]),
);

/**
 * `getattr(cls, name)` as Python ≥ 3.11 pickles an enum member by name (`OptimizerNames.ADAMW_TORCH` in
 * a TrainingArguments): with a placeholder class and a string, the member as an inert placeholder of its
 * class (args: [name]); nothing is looked up. Anything else is refused — the attribute of a real object
 * is how exploit chains reach a callable.
 */
const ENUM_MEMBER: GlobalSpec = {
  call: (args, ctx) => {
    const [cls, name] = args;
    if (args.length !== 2 || !(cls instanceof PyClassRef) || typeof name !== 'string') {
      ctx.fail(`getattr is read only as an enum member (a class and a name), not on ${describe(cls)}`);
    }
    return ctx.placeholder((cls as PyClassRef).qualified, [name as string]);
  },
};

/** How the interpreter treats a global a pickle names (see the file comment). */
export type GlobalClass = { kind: 'allowed'; spec: GlobalSpec } | { kind: 'refused' } | { kind: 'unknown' };

/** `placeholders`: the machine's 'placeholder' mode, in which getattr may name an enum member. */
export function classifyGlobal(module: string, name: string, placeholders = false): GlobalClass {
  const qualified = `${module}.${name}`;
  const spec = ALLOWED_GLOBALS.get(qualified);
  if (spec) return { kind: 'allowed', spec };
  if (placeholders && (qualified === 'builtins.getattr' || qualified === '__builtin__.getattr'))
    return { kind: 'allowed', spec: ENUM_MEMBER };
  if (REFUSED_NAMES.has(qualified)) return { kind: 'refused' };
  for (const m of REFUSED_MODULES) if (module === m || module.startsWith(`${m}.`)) return { kind: 'refused' };
  return { kind: 'unknown' };
}

/** The torch persistent-id shape: ('storage', StorageType, key, location, numel) → TorchStorage. */
export function torchPersistentLoad(pid: PickleValue, fail: (message: string) => never): TorchStorage {
  if (!Array.isArray(pid) || pid.length < 5 || pid[0] !== 'storage') {
    fail(`unexpected persistent id ${summarize(pid)} (expected ('storage', type, key, location, numel))`);
  }
  const [, type, key, location, numel] = pid as PickleValue[];
  let dtype: TorchDtype | undefined;
  if (type instanceof PyGlobal) dtype = type.spec.storageDtype ?? type.spec.dtype;
  else if (typeof type === 'object' && type !== null && (type as { kind?: string }).kind === 'dtype')
    dtype = (type as { dtype: TorchDtype }).dtype;
  if (!dtype) fail(`persistent id storage type ${summarize(type as PickleValue)} is not a storage type`);
  if (typeof key !== 'string' || !/^[A-Za-z0-9_.-]{1,200}$/.test(key))
    fail(`storage key ${summarize(key as PickleValue)} is not a plain name`);
  const count = typeof numel === 'number' ? numel : typeof numel === 'bigint' ? Number(numel) : NaN;
  if (!Number.isSafeInteger(count) || count < 0) fail(`storage '${key}' has an invalid element count ${String(numel)}`);
  return {
    kind: 'storage',
    dtype: dtype!,
    key: key as string,
    location: typeof location === 'string' ? location : String(location),
    numel: count,
  };
}
