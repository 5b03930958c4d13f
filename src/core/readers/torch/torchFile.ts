import { DisallowedGlobalError, ReaderError } from '../../errors';
import type { PickleValue } from '../pickle/values';

// What loading a torch.save file gives, whatever its container (zip or legacy stream): the pickle's
// value, where each storage's bytes are, and the classes kept as inert placeholders.

/** Where one storage's bytes are in the file. */
export interface StorageBytes {
  /** Offset of the first byte (of the compressed stream when deflated). */
  offset: number;
  /** Bytes of the storage (uncompressed). */
  length: number;
  compression: 'none' | 'deflate';
  /** Bytes stored at `offset` (the compressed size when deflated). */
  storedLength: number;
  /** Why the storage cannot be read (cut short, unsupported zip method); its tensors get an issue. */
  problem?: string;
}

/** A torch.save file with its pickle interpreted (tensors described, not read). */
export interface LoadedTorchFile {
  path: string;
  container: 'zip' | 'legacy';
  root: PickleValue;
  /** File offset of the pickle that holds `root` (for messages about what it holds). */
  pickleOffset: number;
  /** File offset of byte 0 of the bytes the interpreter ran on (null: a deflated member), for tensors' offsets. */
  pickleBase: number | null;
  /** Storage key → where its bytes are. */
  storages: Map<string, StorageBytes>;
  /** Class name → count of the Python objects kept as inert placeholders. */
  placeholders: Map<string, number>;
}

/** data.pkl (or a legacy stream's pickles) larger than this is refused before it is read (real ones are kilobytes to a few MB). */
export const MAX_PICKLE_BYTES = 256 * 1024 * 1024;

/** A refusal of the first pickle of a non-zip file, worded for what the file is. */
export function bareOrLegacyError(path: string, e: unknown): ReaderError {
  if (e instanceof DisallowedGlobalError) {
    return new DisallowedGlobalError(
      path,
      `${e.reason}; the file is also not a torch.save checkpoint (a bare pickle, neither a zip archive nor a legacy stream)`,
      { offset: e.offset },
      e.global,
    );
  }
  if (e instanceof ReaderError) return e;
  throw e;
}
