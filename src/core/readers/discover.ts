import { openSync, readSync, closeSync, statSync } from 'node:fs';
import { walkFiles } from '../io/walk';
import { basename, dirname, join } from 'node:path';
import { mergeRunData } from '../run/merge';
import { FOLDER_READERS, READERS } from './index';
import { issueFromError, ReaderError } from '../errors';
import { emptyRunData, type RunData } from '../run/types';
import type { Reader } from './reader';

// Finds what can be read in files and run folders, reads each with its reader, and merges the results.
// A file named on the command line that cannot be read is an error (exit 2); inside a folder, an
// unreadable file becomes an issue and the rest is still read.

const SKIP_DIRS = new Set(['node_modules', '.git', '__pycache__', '.ipynb_checkpoints', 'wandb-metadata']);
const MAX_DEPTH = 8;
const MAX_FILES = 20000;

function head(path: string): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const buf = new Uint8Array(64);
    const n = readSync(fd, buf, 0, 64, 0);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

export function detectReader(path: string): Reader | undefined {
  let h: Uint8Array;
  try {
    h = head(path);
  } catch {
    return undefined;
  }
  return READERS.find((r) => r.detect(path, h));
}

/** What reading a set of inputs takes: cancellation and progress (the pipeline's options are a superset). */
export interface ReadInputsOptions {
  signal?: AbortSignal;
  onProgress?: (fraction: number, message: string) => void;
}

interface Job {
  label: string;
  paths: string[];
  explicit: boolean;
  run: (options: ReadInputsOptions) => Promise<RunData>;
  rank: number;
}

const isHfCheckpointDir = (files: Set<string>): boolean =>
  files.has('trainer_state.json') && (files.has('optimizer.pt') || files.has('pytorch_model.bin') || files.has('model.safetensors'));

const MODEL_RE = /^(?:model|pytorch_model)[_-]?(?:step)?[_-]?(\d+)\.(?:pt|pth|bin)$/;
const OPTIM_RE = /^(?:optim|optimizer)[_-]?(?:step)?[_-]?(\d+)\.(?:pt|pth|bin)$/;

/** model_stepN.pt + optim_stepN.pt (same folder, same step) pairs. */
function pairCheckpoints(files: string[]): [string, string][] {
  const models = new Map<string, string>();
  for (const f of files) {
    const m = MODEL_RE.exec(basename(f));
    if (m) models.set(`${dirname(f)}\0${Number(m[1])}`, f);
  }
  const pairs: [string, string][] = [];
  for (const f of files) {
    const m = OPTIM_RE.exec(basename(f));
    const model = m ? models.get(`${dirname(f)}\0${Number(m[1])}`) : undefined;
    if (model) pairs.push([model, f]);
  }
  return pairs;
}

/** Plan the reads for explicit paths (files or folders). */
export function planInputs(paths: string[]): { jobs: Job[]; unreadable: string[] } {
  const jobs: Job[] = [];
  const unreadable: string[] = [];
  // Explicit model + optimizer files of the same step are read as one checkpoint.
  const explicitFiles = paths.filter((p) => {
    try {
      return statSync(p).isFile();
    } catch {
      return false;
    }
  });
  const paired = new Set<string>();
  if (FOLDER_READERS.readCheckpointPair) {
    const read = FOLDER_READERS.readCheckpointPair;
    for (const [model, optimizer] of pairCheckpoints(explicitFiles)) {
      paired.add(model);
      paired.add(optimizer);
      jobs.push({
        label: `${model} + ${basename(optimizer)}`,
        paths: [model, optimizer],
        explicit: true,
        run: () => read(model, optimizer),
        rank: 0,
      });
    }
  }
  for (const input of paths) {
    if (paired.has(input)) continue;
    let st;
    try {
      st = statSync(input);
    } catch {
      throw new ReaderError(input, 'no such file or folder');
    }
    if (st.isFile()) {
      const reader = detectReader(input);
      if (!reader)
        throw new ReaderError(
          input,
          'not a format Optimizer Lens reads (JSONL/CSV logs, trainer_state.json, safetensors, npy/npz, PyTorch checkpoints, TensorBoard event files)',
        );
      jobs.push({
        label: input,
        paths: [input],
        explicit: true,
        run: (o) => reader.read(input, readOptions(o)),
        rank: rankOf(reader.format),
      });
      continue;
    }
    const { files } = walkFiles(input, { maxDepth: MAX_DEPTH, maxFiles: MAX_FILES, skipDirs: SKIP_DIRS });
    const byDir = new Map<string, string[]>();
    for (const f of files) {
      const d = dirname(f);
      let l = byDir.get(d);
      if (!l) byDir.set(d, (l = []));
      l.push(f);
    }
    for (const [dir, list] of byDir) {
      const names = new Set(list.map((f) => basename(f)));
      const taken = new Set<string>();
      if (isHfCheckpointDir(names) && FOLDER_READERS.readHfCheckpointFolder) {
        const read = FOLDER_READERS.readHfCheckpointFolder;
        for (const n of [
          'trainer_state.json',
          'optimizer.pt',
          'pytorch_model.bin',
          'model.safetensors',
          'scheduler.pt',
          'rng_state.pth',
          'training_args.bin',
        ])
          taken.add(join(dir, n));
        jobs.push({ label: dir, paths: [dir], explicit: false, run: () => read(dir), rank: 0 });
      }
      if (FOLDER_READERS.readCheckpointPair) {
        const read = FOLDER_READERS.readCheckpointPair;
        for (const [model, optimizer] of pairCheckpoints(list.filter((f) => !taken.has(f)))) {
          taken.add(model);
          taken.add(optimizer);
          jobs.push({
            label: `${model} + ${basename(optimizer)}`,
            paths: [model, optimizer],
            explicit: false,
            run: () => read(model, optimizer),
            rank: 0,
          });
        }
      }
      for (const f of list) {
        if (taken.has(f)) continue;
        const reader = detectReader(f);
        if (!reader) continue;
        jobs.push({ label: f, paths: [f], explicit: false, run: (o) => reader.read(f, readOptions(o)), rank: rankOf(reader.format) });
      }
    }
    if (!jobs.length) unreadable.push(input);
  }
  jobs.sort((a, b) => a.rank - b.rank);
  return { jobs, unreadable };
}

function readOptions(o: ReadInputsOptions): { signal?: AbortSignal } {
  return o.signal ? { signal: o.signal } : {};
}

/** Checkpoints first: their layer order is model.named_parameters() order. */
function rankOf(format: string): number {
  if (format === 'torch' || format === 'lightning' || format === 'hf-checkpoint') return 0;
  if (format === 'npz' || format === 'npy' || format === 'safetensors') return 1;
  if (format === 'jsonl' || format === 'csv') return 2;
  return 3;
}

export async function readInputs(paths: string[], options: ReadInputsOptions = {}): Promise<RunData> {
  const { jobs, unreadable } = planInputs(paths);
  if (unreadable.length) {
    throw new ReaderError(unreadable[0], 'no readable logs, tensors, checkpoints or event files in this folder');
  }
  const parts: RunData[] = [];
  for (let i = 0; i < jobs.length; i++) {
    options.signal?.throwIfAborted();
    const job = jobs[i];
    options.onProgress?.(i / jobs.length, `reading ${job.label}`);
    try {
      parts.push(await job.run(options));
    } catch (e) {
      if (job.explicit || !(e instanceof ReaderError)) throw e;
      parts.push({ ...emptyRunData(), issues: [issueFromError(e)] });
    }
  }
  return mergeRunData(parts);
}
