import type { Reader, RunData } from '../types';
import { csvReader } from './csv';
import { jsonlReader } from './jsonl';
import { npzReader } from './npz';

// Every format reader, behind one interface. Detection by name and magic bytes (first 64 bytes).
export const READERS: Reader[] = [npzReader, jsonlReader, csvReader];

/** Folder-level readers (HF checkpoint-N/ folders, model+optimizer file pairs) register here. */
export interface FolderReaders {
  readHfCheckpointFolder?: (dir: string) => Promise<RunData>;
  readCheckpointPair?: (modelPath: string, optimizerPath: string) => Promise<RunData>;
}
export const FOLDER_READERS: FolderReaders = {};
