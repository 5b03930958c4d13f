import { promises as fsp } from 'node:fs';
import { basename, join } from 'node:path';
import { stepFromName } from '../run/stepNames';
import { issueFromError, ReaderError } from '../errors';
import type { ReadIssue, RunData, TensorRef } from '../run/types';
import { readTrainerState } from './hfTrainerState';
import { readSafetensors, readSafetensorsIndex } from './safetensors';
import { TORCH_FORMAT } from './torch/reader';
import { buildRunData, type ModelSource, type OptimizerSource } from './torch/build';
import { findCheckpointParts } from './torch/structure';
import { loadTorchFile } from './torch/load';
import type { TorchReadOptions } from './torch/optimizerIds';
import { appendAll } from '../arrays';

// A Hugging Face Trainer `checkpoint-N/` folder: the model (pytorch_model.bin, model.safetensors, or
// their sharded forms with an *.index.json), optimizer.pt, and trainer_state.json, merged into one
// TensorSnapshot (model parameters as param_after of step N, Adam state by parameter name) plus the
// trainer's logged globals (loss, learning rate, grad norm per logging step).

export const HF_CHECKPOINT_FORMAT = 'hf-checkpoint';

const HF_DECOUPLED_HINT = "Hugging Face Trainer's default optimizer is AdamW";

/** True for a folder that looks like a Trainer checkpoint (has optimizer.pt or trainer_state.json next to a model). */
export async function isHfCheckpointFolder(dir: string): Promise<boolean> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return false;
  }
  const hasModel = names.some((n) =>
    /^(pytorch_model|model)(-\d+-of-\d+)?\.(bin|safetensors)$|^(pytorch_model\.bin|model\.safetensors)\.index\.json$/.test(n),
  );
  return hasModel && (names.includes('optimizer.pt') || names.includes('trainer_state.json'));
}

export async function readHfCheckpointFolder(dir: string, options: TorchReadOptions = {}): Promise<RunData> {
  let names: string[];
  try {
    const st = await fsp.stat(dir);
    if (!st.isDirectory()) throw new ReaderError(dir, 'not a folder');
    names = (await fsp.readdir(dir)).sort();
  } catch (err) {
    if (err instanceof ReaderError) throw err;
    throw new ReaderError(dir, `cannot read folder (${(err as Error).message})`);
  }
  const has = (n: string) => names.includes(n);
  const issues: ReadIssue[] = [];
  const inputs: { path: string; format: string }[] = [];
  options.signal?.throwIfAborted();

  // Model: torch .bin (parameter order kept) or safetensors (sorted by name: order unknown).
  const models: ModelSource[] = [];
  let externalModel: { refs: TensorRef[]; ordered: boolean } | undefined;
  const torchShards: string[] = [];
  const safetensorsShards: string[] = [];
  if (has('pytorch_model.bin')) torchShards.push(join(dir, 'pytorch_model.bin'));
  else if (has('model.safetensors')) safetensorsShards.push(join(dir, 'model.safetensors'));
  else if (has('pytorch_model.bin.index.json')) {
    const index = await readSafetensorsIndex(join(dir, 'pytorch_model.bin.index.json'));
    issues.push(...index.issues);
    torchShards.push(...index.shards);
  } else if (has('model.safetensors.index.json')) {
    const index = await readSafetensorsIndex(join(dir, 'model.safetensors.index.json'));
    issues.push(...index.issues);
    safetensorsShards.push(...index.shards);
  }
  for (const path of torchShards) {
    const file = await loadTorchFile(path);
    const parts = findCheckpointParts(file.root, path);
    if (!parts.model) throw new ReaderError(path, 'no model state dict in the model file');
    models.push({ file, part: parts.model });
    inputs.push({ path, format: TORCH_FORMAT });
  }
  if (safetensorsShards.length > 0) {
    const refs: TensorRef[] = [];
    for (const path of safetensorsShards) {
      const data = await readSafetensors(path, { signal: options.signal });
      issues.push(...data.issues);
      inputs.push(...data.inputs);
      for (const s of data.snapshots) refs.push(...s.tensors.filter((t) => t.role === 'param'));
    }
    externalModel = { refs, ordered: false };
  }
  if (models.length === 0 && !externalModel) {
    issues.push({
      severity: 'warning',
      path: dir,
      message: 'no model weights (pytorch_model.bin or model.safetensors) in the checkpoint folder',
    });
  }

  // Optimizer state.
  let optimizer: OptimizerSource | undefined;
  let statedStep: number | null = null;
  if (has('optimizer.pt')) {
    const path = join(dir, 'optimizer.pt');
    const file = await loadTorchFile(path);
    const parts = findCheckpointParts(file.root, path);
    if (parts.optimizer) {
      optimizer = { file, osd: parts.optimizer, where: parts.optimizerWhere ?? '', optimizerCount: parts.optimizerCount };
      statedStep = parts.statedStep;
    } else {
      issues.push({ severity: 'warning', path, message: 'optimizer.pt holds no optimizer state dict' });
    }
    inputs.push({ path, format: TORCH_FORMAT });
  } else {
    const deepspeed = names.find((n) => /^global_step\d+$/.test(n));
    issues.push({
      severity: 'warning',
      path: dir,
      message: deepspeed
        ? `optimizer state is in DeepSpeed shards (${deepspeed}/), which are not read; parameters only`
        : 'no optimizer.pt in the checkpoint folder; parameters only',
    });
  }

  // trainer_state.json: the step the checkpoint was saved at, and the logged globals.
  let trainer: Awaited<ReturnType<typeof readTrainerState>> | undefined;
  if (has('trainer_state.json')) {
    const path = join(dir, 'trainer_state.json');
    try {
      trainer = await readTrainerState(path, { signal: options.signal });
      inputs.push(...trainer.data.inputs);
    } catch (err) {
      if (!(err instanceof ReaderError)) throw err;
      issues.push(issueFromError(err, 'warning'));
    }
  }
  const folderStep = stepFromName(basename(dir));
  const trainerStep = trainer?.globalStep ?? null;
  if (trainerStep !== null && folderStep !== null && trainerStep !== folderStep) {
    issues.push({
      severity: 'warning',
      path: dir,
      message: `folder name says step ${folderStep} but trainer_state.json global_step is ${trainerStep}`,
    });
  }

  const run = await buildRunData({
    models,
    externalModel,
    optimizer,
    statedStep: statedStep ?? trainerStep,
    namePath: dir,
    modelRole: optimizer ? 'param_after' : 'param',
    format: HF_CHECKPOINT_FORMAT,
    inputs,
    decoupledHint: HF_DECOUPLED_HINT,
    options,
  });
  run.issues.unshift(...issues);
  if (trainer) {
    appendAll(run.globals, trainer.data.globals);
    appendAll(run.observations, trainer.data.observations);
    appendAll(run.nonFinite, trainer.data.nonFinite);
    appendAll(run.issues, trainer.data.issues);
    // A lr from the log at this step, when the optimizer state did not give one.
    if (run.hyper.lr === undefined || run.hyper.lr === null) {
      const step = run.snapshots[0]?.step;
      const g = trainer.data.globals.find((x) => x.step === step && typeof x.values.lr === 'number');
      if (g) {
        run.hyper.lr = g.values.lr;
        run.hyper.source = 'log';
      }
    }
  }
  options.onProgress?.(1);
  return run;
}
