import { DisallowedGlobalError, ReaderError } from '../../errors';
import { FileBytes, withFile } from '../../io/fileBytes';
import { openZipFile, readZipEntryFrom, type ZipArchive, type ZipEntry } from '../../io/zip';
import { summarize, type PickleValue } from '../pickle/values';
import { torchPersistentLoad } from '../pickle/torchAllowList';
import { unpickle } from '../pickle/machine';

// Loading a torch.save file: the zip container (`<prefix>/data.pkl`, `<prefix>/data/<key>`), its
// byte order, and the pickle interpreted by the allow-list unpickler. Tensors stay descriptions of
// storages inside the archive; nothing is read here beyond the pickle.

export const LEGACY_MESSAGE = 'legacy (pre-1.6, non-zip) torch.save format is not supported; re-save with torch ≥ 1.6';

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

export const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];
/** 0x1950a86a20f9469cfc6c, the legacy format's first pickle (LONG1 of 10 bytes, little-endian). */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const MAX_PICKLE_BYTES = 256 * 1024 * 1024;

export function startsWith(head: Uint8Array, magic: number[]): boolean {
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
