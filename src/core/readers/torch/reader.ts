import { basename } from 'node:path';
import { stepFromName } from '../../run/stepNames';
import { ReaderError } from '../../errors';
import type { ReadIssue, RunData } from '../../run/types';
import type { ReadOptions, Reader } from '../reader';
import { ZIP_MAGIC, hasPickleHead, loadTorchFile, startsWith } from './load';
import { sideFileRun } from './sideFiles';
import { findCheckpointParts } from './structure';
import { buildRunData } from './build';
import type { TorchReadOptions } from './optimizerIds';

// torch.save checkpoints (.pt .pth .bin .ckpt; zip or legacy stream): the pickle is interpreted by the
// allow-list unpickler (pickle/), tensors become TensorRefs into the stored storages (read later by
// offset, never copied here), and the structures torch, Lightning and Hugging Face write are recognised:
// model state dicts, optimizer state dicts (state ids mapped to parameter names), combined dicts,
// Lightning checkpoints, and the side files of an HF checkpoint (scheduler, RNG state, training args).

export const TORCH_FORMAT = 'torch';

// ---- Public entry points -------------------------------------------------------------------------

/** Read one torch.save checkpoint file (model, optimizer, combined or Lightning). */
export async function readTorchCheckpoint(path: string, options: TorchReadOptions = {}): Promise<RunData> {
  options.signal?.throwIfAborted();
  const file = await loadTorchFile(path);
  options.signal?.throwIfAborted();
  const parts = findCheckpointParts(file);
  const side = sideFileRun(path, TORCH_FORMAT, parts);
  if (side) {
    options.onProgress?.(1);
    return side;
  }
  const withOptimizer = parts.optimizer !== undefined;
  return buildRunData({
    models: parts.model ? [{ file, part: parts.model }] : [],
    optimizer: parts.optimizer
      ? { file, osd: parts.optimizer, where: parts.optimizerWhere ?? '', optimizerCount: parts.optimizerCount }
      : undefined,
    statedStep: parts.statedStep,
    namePath: path,
    scalars: parts.scalars,
    schedule: parts.schedule,
    modelRole: withOptimizer ? 'param_after' : 'param',
    format: TORCH_FORMAT,
    inputs: [{ path, format: TORCH_FORMAT }],
    options,
  }).then((run) => {
    options.onProgress?.(1);
    return run;
  });
}

/** A model file and an optimizer file saved at the same step (e.g. model_step000120.pt + optim_step000120.pt). */
export async function readCheckpointPair(modelPath: string, optimizerPath: string, options: TorchReadOptions = {}): Promise<RunData> {
  const mfile = await loadTorchFile(modelPath);
  const ofile = await loadTorchFile(optimizerPath);
  const mparts = findCheckpointParts(mfile);
  const oparts = findCheckpointParts(ofile);
  if (!mparts.model) throw new ReaderError(modelPath, 'no model state dict in the model file', { offset: mfile.pickleOffset });
  if (!oparts.optimizer) {
    throw new ReaderError(optimizerPath, 'no optimizer state dict in the optimizer file', { offset: ofile.pickleOffset });
  }
  const issues: ReadIssue[] = [];
  const ms = stepFromName(modelPath);
  const os = stepFromName(optimizerPath);
  if (ms !== null && os !== null && ms !== os) {
    issues.push({ severity: 'warning', path: optimizerPath, message: `model file name says step ${ms}, optimizer file name says ${os}` });
  }
  const run = await buildRunData({
    models: [{ file: mfile, part: mparts.model }],
    optimizer: { file: ofile, osd: oparts.optimizer, where: oparts.optimizerWhere ?? '', optimizerCount: oparts.optimizerCount },
    statedStep: oparts.statedStep ?? mparts.statedStep,
    namePath: optimizerPath,
    scalars: { ...mparts.scalars, ...oparts.scalars },
    schedule: oparts.schedule ?? mparts.schedule,
    modelRole: 'param_after',
    format: TORCH_FORMAT,
    inputs: [
      { path: modelPath, format: TORCH_FORMAT },
      { path: optimizerPath, format: TORCH_FORMAT },
    ],
    options,
  });
  run.issues.unshift(...issues);
  return run;
}

export function isTorchCheckpointName(path: string): boolean {
  return /\.(pt|pth|bin|ckpt|tar)$/i.test(basename(path));
}

/** Extensions only torch.save writes: such a file is read (and a wrong first byte reported at its offset) whatever it starts with. */
const TORCH_ONLY_NAME = /\.(pt|pth|ckpt)$/i;

export const torchReader: Reader = {
  format: TORCH_FORMAT,
  detect(path: string, head: Uint8Array): boolean {
    if (TORCH_ONLY_NAME.test(path)) return true;
    // .bin and .tar are also other tools' formats: only with a zip or pickle start.
    if (!isTorchCheckpointName(path)) return false;
    return startsWith(head, ZIP_MAGIC) || hasPickleHead(head);
  },
  read(path: string, options?: ReadOptions): Promise<RunData> {
    return readTorchCheckpoint(path, options);
  },
};
