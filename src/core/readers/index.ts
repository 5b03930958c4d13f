import type { Reader, RunData } from '../types';

// Every format reader, behind one interface. Detection by name and magic bytes (first 64 bytes).
export const READERS: Reader[] = [];

/** Folder-level readers (HF checkpoint-N/ folders, model+optimizer file pairs) register here. */
export interface FolderReaders {
  readHfCheckpointFolder?: (dir: string) => Promise<RunData>;
  readCheckpointPair?: (modelPath: string, optimizerPath: string) => Promise<RunData>;
}
export const FOLDER_READERS: FolderReaders = {};
