import { promises as fsp } from 'node:fs';
import { basename, join } from 'node:path';
import { stepFromName } from '../run/stepNames';
import { issueFromError, ReaderError } from '../errors';
import type { OptimizerHyper, ReadIssue, RunData, TensorRef } from '../run/types';
import { readTrainerState } from './hfTrainerState';
import { readSafetensors, readSafetensorsIndex } from './safetensors';
import { TORCH_FORMAT } from './torch/reader';
import { buildRunData, type ModelSource, type OptimizerSource } from './torch/build';
import { findCheckpointParts, type ScheduleState } from './torch/structure';
import { loadTorchFile } from './torch/load';
import type { TorchReadOptions } from './torch/optimizerIds';
import { compareParameterNames, isAdapterKey } from './torch/moduleOrder';
import { trainingArgsHyper } from './torch/sideFiles';
import { appendAll } from '../arrays';

// A Hugging Face Trainer `checkpoint-N/` folder: the model (pytorch_model.bin, model.safetensors, their
// sharded forms with an *.index.json, or a PEFT adapter_model.safetensors / adapter_model.bin),
// optimizer.pt, scheduler.pt (the lr schedule), training_args.bin (the configured hyper-parameters) and
// trainer_state.json, merged into one TensorSnapshot (model parameters as param_after of step N, Adam
// state by parameter name) plus the trainer's logged globals (loss, learning rate, grad norm per logging
// step). rng_state.pth holds nothing to analyze. A file that cannot be read is an issue (a warning for the
// side files, which never make the input unreadable); the rest is read.

export const HF_CHECKPOINT_FORMAT = 'hf-checkpoint';

const HF_DECOUPLED_HINT = "Hugging Face Trainer's default optimizer is AdamW";

const MODEL_FILE =
  /^(pytorch_model|model|adapter_model)(-\d+-of-\d+)?\.(bin|safetensors)$|^(pytorch_model\.bin|model\.safetensors)\.index\.json$/;

/** True for a folder that looks like a Trainer checkpoint (has optimizer.pt or trainer_state.json next to a model). */
export async function isHfCheckpointFolder(dir: string): Promise<boolean> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return false;
  }
  return names.some((n) => MODEL_FILE.test(n)) && (names.includes('optimizer.pt') || names.includes('trainer_state.json'));
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
  const present = new Set(names);
  const has = (n: string) => present.has(n);
  const issues: ReadIssue[] = [];
  const inputs: { path: string; format: string }[] = [];
  options.signal?.throwIfAborted();
  /** Read one file of the folder; a ReaderError becomes an issue and the rest of the folder is still read. */
  const attempt = async <T>(fn: () => Promise<T>, severity: 'error' | 'warning' = 'error'): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof ReaderError)) throw err;
      issues.push(issueFromError(err, severity));
      return undefined;
    }
  };

  // Model: torch .bin (parameter order kept) or safetensors (sorted by name: order unknown; for a PEFT
  // adapter inferred from the names).
  const models: ModelSource[] = [];
  let externalModel: { refs: TensorRef[]; ordered: boolean | 'inferred' } | undefined;
  const torchShards: string[] = [];
  const safetensorsShards: string[] = [];
  let adapter = false;
  if (has('pytorch_model.bin')) torchShards.push(join(dir, 'pytorch_model.bin'));
  else if (has('model.safetensors')) safetensorsShards.push(join(dir, 'model.safetensors'));
  else if (has('pytorch_model.bin.index.json') || has('model.safetensors.index.json')) {
    const torchIndex = has('pytorch_model.bin.index.json');
    const index = await attempt(() =>
      readSafetensorsIndex(join(dir, torchIndex ? 'pytorch_model.bin.index.json' : 'model.safetensors.index.json')),
    );
    if (index) {
      appendAll(issues, index.issues);
      appendAll(torchIndex ? torchShards : safetensorsShards, index.shards);
    }
  } else if (has('adapter_model.safetensors')) {
    safetensorsShards.push(join(dir, 'adapter_model.safetensors'));
    adapter = true;
  } else if (has('adapter_model.bin')) {
    torchShards.push(join(dir, 'adapter_model.bin'));
    adapter = true;
  }
  for (const path of torchShards) {
    await attempt(async () => {
      const file = await loadTorchFile(path);
      const parts = findCheckpointParts(file);
      if (!parts.model) throw new ReaderError(path, 'no model state dict in the model file', { offset: file.pickleOffset });
      models.push({ file, part: parts.model });
      inputs.push({ path, format: TORCH_FORMAT });
    });
  }
  if (safetensorsShards.length > 0) {
    const refs: TensorRef[] = [];
    for (const path of safetensorsShards) {
      const data = await attempt(() => readSafetensors(path, { signal: options.signal }));
      if (!data) continue;
      appendAll(issues, data.issues);
      appendAll(inputs, data.inputs);
      for (const s of data.snapshots) for (const t of s.tensors) if (t.role === 'param') refs.push(t);
    }
    if (adapter && refs.length > 0 && refs.every((r) => isAdapterKey(r.layer))) {
      refs.sort((a, b) => compareParameterNames(a.layer, b.layer));
      externalModel = { refs, ordered: 'inferred' };
    } else externalModel = { refs, ordered: false };
  }
  if (models.length === 0 && (externalModel?.refs.length ?? 0) === 0) {
    issues.push({
      severity: 'warning',
      path: dir,
      message: 'no model weights (pytorch_model.bin, model.safetensors or a PEFT adapter_model.safetensors) in the checkpoint folder',
    });
  }

  // Optimizer state.
  let optimizer: OptimizerSource | undefined;
  let statedStep: number | null = null;
  if (has('optimizer.pt')) {
    const path = join(dir, 'optimizer.pt');
    await attempt(async () => {
      const file = await loadTorchFile(path);
      const parts = findCheckpointParts(file);
      if (parts.optimizer) {
        optimizer = { file, osd: parts.optimizer, where: parts.optimizerWhere ?? '', optimizerCount: parts.optimizerCount };
        statedStep = parts.statedStep;
      } else {
        issues.push({ severity: 'warning', path, message: 'optimizer.pt holds no optimizer state dict' });
      }
      inputs.push({ path, format: TORCH_FORMAT });
    });
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

  // scheduler.pt: the lr schedule; training_args.bin: the configured hyper-parameters (fields read as data).
  let schedule: ScheduleState | undefined;
  if (has('scheduler.pt')) {
    const path = join(dir, 'scheduler.pt');
    await attempt(async () => {
      const parts = findCheckpointParts(await loadTorchFile(path));
      if (parts.schedule) {
        schedule = parts.schedule;
        inputs.push({ path, format: TORCH_FORMAT });
      } else
        issues.push({ severity: 'warning', path, message: 'scheduler.pt holds no LR scheduler state (base_lrs, last_epoch); ignored' });
    });
  }
  let argsHyper: Partial<OptimizerHyper> | undefined;
  if (has('training_args.bin')) {
    const path = join(dir, 'training_args.bin');
    await attempt(async () => {
      const parts = findCheckpointParts(await loadTorchFile(path));
      if (parts.trainingArgs) {
        argsHyper = trainingArgsHyper(parts.trainingArgs);
        inputs.push({ path, format: TORCH_FORMAT });
      }
    }, 'warning');
  }

  // trainer_state.json: the step the checkpoint was saved at, and the logged globals.
  let trainer: Awaited<ReturnType<typeof readTrainerState>> | undefined;
  if (has('trainer_state.json')) {
    const path = join(dir, 'trainer_state.json');
    try {
      trainer = await readTrainerState(path, { signal: options.signal });
      appendAll(inputs, trainer.data.inputs);
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
    statedStep: statedStep ?? trainerStep ?? schedule?.lastEpoch ?? null,
    namePath: dir,
    schedule,
    modelRole: optimizer ? 'param_after' : 'param',
    format: HF_CHECKPOINT_FORMAT,
    inputs,
    decoupledHint: HF_DECOUPLED_HINT,
    statedType: argsHyper?.type === 'adam' || argsHyper?.type === 'adamw' ? argsHyper.type : undefined,
    options,
  });
  run.issues.unshift(...issues);
  // The optimizer's groups state the hyper-parameters as used (a null there means the groups differ);
  // without an optimizer.pt, the training arguments say what was configured.
  if (argsHyper && !optimizer) run.hyper = { ...argsHyper };
  if (trainer) {
    run.scalars.append(trainer.data.scalars);
    appendAll(run.nonFinite, trainer.data.nonFinite);
    appendAll(run.issues, trainer.data.issues);
    // A lr from the log at this step, when the optimizer state did not give one.
    if (run.hyper.lr === undefined || run.hyper.lr === null) {
      const step = run.snapshots[0]?.step;
      const lr = step === undefined || step === null ? null : trainer.data.scalars.globalAt('lr', step);
      if (lr !== null) {
        run.hyper.lr = lr;
        run.hyper.source = 'log';
      }
    }
  }
  options.onProgress?.(1);
  return run;
}
