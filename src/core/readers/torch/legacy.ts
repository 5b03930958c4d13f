import { ReaderError, echo } from '../../errors';
import { FileBytes, dataView, readU64 } from '../../io/fileBytes';
import { PyDict, TORCH_DTYPE_BYTES, summarize, type PickleValue, type TorchDtype } from '../pickle/values';
import { torchPersistentLoad } from '../pickle/torchAllowList';
import { PickleEndError, unpickleAt, type UnpickleOptions } from '../pickle/machine';
import { MAX_PICKLE_BYTES, bareOrLegacyError, type LoadedTorchFile, type StorageBytes } from './torchFile';

// The legacy torch.save stream (torch < 1.6, or `_use_new_zipfile_serialization=False`), read the way
// torch.load(weights_only=True) reads it (torch/serialization.py `_legacy_save` / `_legacy_load`):
// five consecutive pickles — the magic number 0x1950a86a20f9469cfc6c, the protocol version 1001, a
// sys-info dict (`little_endian`, `type_sizes`), the object (tensors as persistent ids `('storage',
// <StorageType>, key, location, numel, view_metadata)`), the list of storage keys — then, per key in that
// order, an int64 LE element count and the storage's raw bytes. Each pickle goes through the same
// allow-list interpreter as a zip checkpoint's data.pkl.

/** 0x1950a86a20f9469cfc6c: the value of the first pickle of a legacy stream. */
export const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const PROTOCOL_VERSION = 1001;
/** The pickles are read from a window of the file that doubles until they fit. */
const FIRST_WINDOW = 1 << 20;

export async function loadLegacyTorchFile(file: FileBytes): Promise<LoadedTorchFile> {
  const path = file.path;
  let window = Math.min(file.size, FIRST_WINDOW);
  for (;;) {
    const bytes = await file.read(0, window);
    try {
      return await parseStream(file, bytes);
    } catch (e) {
      // A pickle that runs past the window may fit in a larger one; past the file's end it is cut short.
      if (!(e instanceof PickleEndError) || window >= file.size || window >= MAX_PICKLE_BYTES) {
        if (e instanceof PickleEndError && window >= MAX_PICKLE_BYTES && window < file.size) {
          throw new ReaderError(path, `legacy torch.save pickles are larger than the ${MAX_PICKLE_BYTES}-byte limit`, { offset: 0 });
        }
        throw e;
      }
      window = Math.min(file.size, window * 2, MAX_PICKLE_BYTES);
    }
  }
}

async function parseStream(file: FileBytes, bytes: Uint8Array): Promise<LoadedTorchFile> {
  const path = file.path;
  const strict = (start: number): UnpickleOptions => ({ path, baseOffset: 0, start });

  // 1. The magic number. Anything else is a bare pickle: refused (it names whatever it likes).
  let first: { value: PickleValue; end: number };
  try {
    first = unpickleAt(bytes, strict(0));
  } catch (e) {
    if (e instanceof PickleEndError) throw e;
    throw bareOrLegacyError(path, e);
  }
  if (first.value !== LEGACY_MAGIC) {
    throw new ReaderError(
      path,
      `a bare pickle (${summarize(first.value, 1)}), not a torch.save checkpoint: neither a zip archive nor a legacy stream (whose first pickle is the magic number 0x1950a86a20f9469cfc6c)`,
      { offset: 0 },
    );
  }
  // 2. The protocol version; 3. sys info.
  const version = unpickleAt(bytes, strict(first.end));
  if (version.value !== PROTOCOL_VERSION) {
    throw new ReaderError(path, `legacy torch.save protocol version ${summarize(version.value, 0)}, expected ${PROTOCOL_VERSION}`, {
      offset: first.end,
    });
  }
  const info = unpickleAt(bytes, strict(version.end));
  if (info.value instanceof PyDict && info.value.get('little_endian') === false) {
    throw new ReaderError(path, 'checkpoint saved on a big-endian machine: only little-endian checkpoints are supported', {
      offset: version.end,
    });
  }
  // 4. The object; each storage's element type is taken from the persistent ids that name it.
  const dtypes = new Map<string, TorchDtype>();
  const placeholders = new Map<string, number>();
  const obj = unpickleAt(bytes, {
    path,
    baseOffset: 0,
    start: info.end,
    unknownGlobals: 'placeholder',
    placeholders,
    persistentLoad: (pid, fail) => {
      if (Array.isArray(pid) && pid[0] === 'module') {
        // ('module', <class>, source_file, source): an nn.Module class saved with torch.save(model); inert.
        return null;
      }
      let s = torchPersistentLoad(pid, fail);
      const view = (pid as PickleValue[])[5];
      if (Array.isArray(view) && view.length === 3) {
        // (view_key, offset, size): a view of the root storage `key`, offset and size in elements (torch < 1.0).
        const [, offset, size] = view;
        if (typeof offset !== 'number' || typeof size !== 'number' || offset < 0 || size < 0)
          fail('storage view metadata is not (key, offset, size)');
        s = { ...s, elementOffset: offset as number, numel: size as number };
      }
      const known = dtypes.get(s.key);
      if (known && known !== s.dtype) fail(`storage '${echo(s.key, 40)}' is named as ${known} and as ${s.dtype}`);
      dtypes.set(s.key, s.dtype);
      return s;
    },
  });
  // 5. The storage keys, in the order their bytes follow.
  const keysPickle = unpickleAt(bytes, strict(obj.end));
  const keys = keysPickle.value;
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) {
    throw new ReaderError(path, `legacy torch.save storage-key list is ${summarize(keys, 1)}, not a list of strings`, {
      offset: obj.end,
    });
  }
  const storages = new Map<string, StorageBytes>();
  let pos = keysPickle.end;
  let cut: string | null = null;
  for (const key of keys as string[]) {
    if (cut !== null) {
      storages.set(key, { offset: pos, length: 0, compression: 'none', storedLength: 0, problem: cut });
      continue;
    }
    const dtype = dtypes.get(key);
    if (pos + 8 > file.size) {
      cut = `the file ends at byte ${file.size}, before storage '${echo(key, 40)}'`;
      storages.set(key, { offset: pos, length: 0, compression: 'none', storedLength: 0, problem: cut });
      continue;
    }
    const count = readU64(dataView(await file.read(pos, 8)), 0);
    const item = dtype ? TORCH_DTYPE_BYTES[dtype] : 1;
    const length = count * item;
    const start = pos + 8;
    if (!Number.isSafeInteger(length) || start + length > file.size) {
      cut = `storage '${echo(key, 40)}' of ${count} elements at byte ${start} runs past the end of the file (${file.size} bytes)`;
      storages.set(key, { offset: start, length: 0, compression: 'none', storedLength: 0, problem: cut });
      continue;
    }
    storages.set(key, {
      offset: start,
      length,
      compression: 'none',
      storedLength: length,
      ...(dtype ? {} : { problem: 'no tensor names its element type' }),
    });
    pos = start + length;
  }
  return { path, container: 'legacy', root: obj.value, pickleOffset: info.end, pickleBase: 0, storages, placeholders };
}
