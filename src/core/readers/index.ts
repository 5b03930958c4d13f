import type { Reader } from './reader';
import type { RunData } from '../run/types';
import { csvReader } from './csv';
import { readHfCheckpointFolder } from './hfCheckpoint';
import { hfTrainerStateReader } from './hfTrainerState';
import { jsonlReader } from './jsonl';
import { npyReader } from './npy';
import { npzReader } from './npz';
import { safetensorsReader } from './safetensors';
import { tfeventsReader } from './tfevents/reader';
import { wandbSummaryReader } from './wandbSummary';
import { readCheckpointPair, torchReader } from './torch/reader';

// Every format reader, behind one interface. Detection by name and magic bytes (first 64 bytes).
export const READERS: Reader[] = [
  safetensorsReader,
  npzReader,
  npyReader,
  torchReader,
  tfeventsReader,
  hfTrainerStateReader,
  wandbSummaryReader,
  jsonlReader,
  csvReader,
];

/** Folder-level readers (HF checkpoint-N/ folders, model+optimizer file pairs) register here. */
export interface FolderReaders {
  readHfCheckpointFolder?: (dir: string) => Promise<RunData>;
  readCheckpointPair?: (modelPath: string, optimizerPath: string) => Promise<RunData>;
}
export const FOLDER_READERS: FolderReaders = {
  readHfCheckpointFolder: (dir) => readHfCheckpointFolder(dir),
  readCheckpointPair: (model, optimizer) => readCheckpointPair(model, optimizer),
};
