import type { RunData } from '../run/types';

/** A reader turns one file (or folder) into RunData. Detection by magic bytes / name. */
export interface Reader {
  /** Short format id used in `inputs[].format` (e.g. 'safetensors', 'npz', 'jsonl', 'tfevents'). */
  readonly format: string;
  /** Cheap check: name and the first bytes (up to 64) of the file. */
  detect(path: string, head: Uint8Array): boolean;
  /** Read the file; throw ReaderError when nothing is usable, else record problems in `issues`. */
  read(path: string, options?: ReadOptions): Promise<RunData>;
}

export interface ReadOptions {
  signal?: AbortSignal;
  onProgress?: (fraction: number) => void;
}
