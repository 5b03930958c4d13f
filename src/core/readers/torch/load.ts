import { ReaderError, echo } from '../../errors';
import { FileBytes, withFile } from '../../io/fileBytes';
import { openZipFile, readZipEntryFrom } from '../../io/zip';

import { torchPersistentLoad } from '../pickle/torchAllowList';
import { PickleEndError, unpickle } from '../pickle/machine';
import { loadLegacyTorchFile } from './legacy';
import { MAX_PICKLE_BYTES, type LoadedTorchFile, type StorageBytes } from './torchFile';
import type { PickleValue } from '../pickle/values';

/** The first window of data.pkl the interpreter runs on; most state dicts' pickles fit in it. */
const FIRST_PICKLE_WINDOW = 1 << 20;

// Loading a torch.save file: the zip container (torch ≥ 1.6: `<prefix>/data.pkl`, `<prefix>/data/<key>`)
// or the legacy stream (legacy.ts), and the pickle interpreted by the allow-list unpickler. Tensors stay
// descriptions of storages inside the file; nothing is read here beyond the pickle. Python objects of
// classes outside the allow-list (a loss module in Lightning's hyper_parameters, numpy arrays in an RNG
// state) become inert placeholders, counted by class name.

export const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];

export function startsWith(head: Uint8Array, magic: number[]): boolean {
  return magic.every((b, i) => head[i] === b);
}

/** True for the first bytes of a pickle (PROTO 2–5), as a legacy torch.save stream starts. */
export function hasPickleHead(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x80 && head[1] >= 2 && head[1] <= 5;
}

/** Open a torch.save file and interpret its pickle with the allow-list. */
export async function loadTorchFile(path: string): Promise<LoadedTorchFile> {
  return withFile(path, async (file) => {
    const head = await file.readUpTo(0, 64);
    if (startsWith(head, ZIP_MAGIC)) return loadZip(file);
    if (hasPickleHead(head)) return loadLegacyTorchFile(file);
    const shown = [...head.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new ReaderError(
      path,
      `not a torch.save checkpoint: neither a zip archive (50 4b 03 04) nor a pickle stream (80 02…) but ${shown || 'an empty file'}`,
      { offset: 0 },
    );
  });
}

async function loadZip(file: FileBytes): Promise<LoadedTorchFile> {
  const path = file.path;
  const archive = await openZipFile(file);
  const entries = new Map(archive.entries.map((e) => [e.name, e] as const));
  const pkls = archive.entries.filter((e) => /^[^/]+\/data\.pkl$/.test(e.name));
  if (pkls.length === 0) {
    const names = archive.entries.slice(0, 5).map((e) => echo(e.name, 60));
    throw new ReaderError(
      path,
      `zip archive without '<folder>/data.pkl': not a torch.save checkpoint (members: ${names.join(', ')}${archive.entries.length > 5 ? ', …' : ''})`,
      { offset: 0 },
    );
  }
  if (pkls.length > 1)
    throw new ReaderError(
      path,
      `several data.pkl members (${pkls
        .slice(0, 4)
        .map((e) => echo(e.name, 60))
        .join(', ')}): not a single torch.save checkpoint`,
      { offset: pkls[1].localHeaderOffset },
    );
  const pkl = pkls[0];
  const prefix = pkl.name.slice(0, -'data.pkl'.length);
  const byteorder = entries.get(`${prefix}byteorder`);
  if (byteorder) {
    const text = new TextDecoder().decode(await readZipEntryFrom(file, byteorder, 16)).trim();
    if (text !== 'little') {
      throw new ReaderError(path, `checkpoint saved with byteorder '${echo(text, 16)}': only little-endian checkpoints are supported`, {
        offset: byteorder.dataOffset,
      });
    }
  }
  if (pkl.uncompressedSize > MAX_PICKLE_BYTES) {
    throw new ReaderError(path, `data.pkl of ${pkl.uncompressedSize} bytes is larger than the ${MAX_PICKLE_BYTES}-byte limit`, {
      offset: pkl.localHeaderOffset,
    });
  }
  // The pickle is read in windows from its start that grow 4× until it fits: a pickle that crosses a
  // budget in its first megabyte (a 195 KB file of 200M DUP opcodes) is refused without inflating the rest.
  let window = Math.min(pkl.uncompressedSize, FIRST_PICKLE_WINDOW);
  let placeholders: Map<string, number>;
  let root: PickleValue;
  for (;;) {
    const bytes = await readZipEntryFrom(file, pkl, window);
    placeholders = new Map<string, number>();
    try {
      root = unpickle(bytes, {
        path,
        member: pkl.name,
        baseOffset: pkl.method === 0 ? pkl.dataOffset : undefined,
        persistentLoad: torchPersistentLoad,
        unknownGlobals: 'placeholder',
        placeholders,
      });
      break;
    } catch (e) {
      if (!(e instanceof PickleEndError) || window >= pkl.uncompressedSize) throw e;
      window = Math.min(pkl.uncompressedSize, window * 4);
    }
  }
  if (window < pkl.uncompressedSize) await readZipEntryFrom(file, pkl); // the whole member once: its CRC-32
  const storages = new Map<string, StorageBytes>();
  const dataPrefix = `${prefix}data/`;
  for (const e of archive.entries) {
    if (!e.name.startsWith(dataPrefix)) continue;
    const method = e.method === 0 ? 'none' : e.method === 8 ? 'deflate' : null;
    storages.set(e.name.slice(dataPrefix.length), {
      offset: e.dataOffset,
      length: e.uncompressedSize,
      compression: method ?? 'none',
      storedLength: e.compressedSize,
      ...(method === null ? { problem: `stored with zip method ${e.method}` } : {}),
      ...((e.flags & 1) !== 0 ? { problem: 'encrypted' } : {}),
      ...(method === 'none' && e.compressedSize !== e.uncompressedSize
        ? { problem: `stored member sizes disagree (${e.compressedSize} vs ${e.uncompressedSize})` }
        : {}),
    });
  }
  return {
    path,
    container: 'zip',
    root,
    pickleOffset: pkl.dataOffset,
    pickleBase: pkl.method === 0 ? pkl.dataOffset : null,
    storages,
    placeholders,
  };
}
