import { openSync, readSync, closeSync, statSync } from 'node:fs';
import { walkFiles } from '../io/walk';
import { basename, dirname, join, normalize, relative } from 'node:path';
import { mergeRunData } from '../run/merge';
import { FOLDER_READERS, READERS } from './index';
import { issueFromError, ReaderError } from '../errors';
import { emptyRunData, type RunData, type SkippedInput } from '../run/types';
import type { Reader } from './reader';
import { sniffFormat } from './sniff';

// Finds what can be read in files and run folders, groups it into runs, reads each with its reader, and
// merges the files of one run. A file named on the command line that cannot be read is an error (exit 2);
// inside a folder, an unreadable file becomes an issue and the rest is still read, and a file no reader
// recognises (by name, then by content: sniff.ts) is listed as skipped with the reason.
//
// Runs: the files named on the command line are one run; inside a folder, the files of one folder are
// one run, and a folder that is part of a run joins its parent: `checkpoint-N/` (an HF series),
// `checkpoints/`, `ckpt/`, Keras' `train/` + `validation/` and CatBoost's `learn/` + `test/` pairs, a W&B
// run's `files/`. Anything else (two TensorBoard runs, Lightning `version_0/` and `version_11/`, HF
// `runs/<date>_<host>/`) is a run of its own, never merged with another.

const SKIP_DIRS = new Set(['node_modules', '.git', '__pycache__', '.ipynb_checkpoints', 'wandb-metadata']);
const MAX_DEPTH = 8;
const MAX_FILES = 20000;

function head(path: string, bytes = 64): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const buf = new Uint8Array(bytes);
    const n = readSync(fd, buf, 0, bytes, 0);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** The reader of a file: by name and first bytes, else by content; or why none reads it. */
export function detectFormat(path: string): { reader: Reader } | { reason: string } {
  let h: Uint8Array;
  try {
    h = head(path);
  } catch (e) {
    return { reason: `cannot be opened (${(e as NodeJS.ErrnoException).code ?? String(e)})` };
  }
  const byName = READERS.find((r) => r.detect(path, h));
  if (byName) return { reader: byName };
  return sniffFormat(path, h, (n) => {
    try {
      return head(path, n);
    } catch {
      return h;
    }
  });
}

export function detectReader(path: string): Reader | undefined {
  const f = detectFormat(path);
  return 'reader' in f ? f.reader : undefined;
}

/** At most this many skipped files are listed (a folder of images would list thousands). */
const MAX_SKIPPED_LISTED = 100;

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
  /** The run the job's files belong to (see the grouping rules above). */
  runDir: string;
  /** The format it reads (for telling sibling runs from parts of one run). */
  format: string;
}

/** The files named on the command line are one run: this is its runDir. */
const EXPLICIT_RUN = '';

const PART_OF_RUN = /^(checkpoint-\d+|checkpoints?|ckpts?)$/;
const PAIRED_PARTS: readonly (readonly string[])[] = [
  ['train', 'validation'],
  ['learn', 'test'],
];
const WANDB_RUN_DIR = /^(offline-)?run-\d{8}_\d{6}-[A-Za-z0-9]+$/;

/**
 * The folder of the run `dir` belongs to: climbs from a part of a run (checkpoint-N/, checkpoints/, a
 * train/ beside a validation/, …) to its parent, never above `root` (the folder the user named).
 */
export function runFolderOf(dir: string, root: string, dirs: ReadonlySet<string>): string {
  let d = dir;
  while (d !== root && d.length > root.length) {
    const name = basename(d);
    const parent = dirname(d);
    const pair = PAIRED_PARTS.find((p) => p.includes(name));
    const joins =
      PART_OF_RUN.test(name) ||
      (pair !== undefined && pair.some((other) => other !== name && dirs.has(join(parent, other)))) ||
      (name === 'files' && WANDB_RUN_DIR.test(basename(parent)));
    if (!joins) break;
    d = parent;
  }
  return d;
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

/** Formats that hold a training series: two sibling folders with the same one are two runs. */
const SERIES_FORMATS = new Set(['tfevents', 'csv', 'jsonl', 'hf-trainer-state', 'hf-checkpoint', 'wandb-summary']);

/**
 * Decide which folders under `root` are runs. Bottom-up, a folder's sub-folders join it (tb/, ckpt/,
 * tensors/ beside a log are parts of one run), except sub-folders that hold a series of the same format as
 * a sibling or as the folder's own files: those are separate runs (TensorBoard's rule: one folder per run).
 * Rewrites each job's runDir to its run's folder.
 */
function settleRuns(jobs: Job[], root: string): void {
  const own = new Map<string, Set<string>>();
  for (const j of jobs) {
    let f = own.get(j.runDir);
    if (!f) own.set(j.runDir, (f = new Set()));
    if (SERIES_FORMATS.has(j.format)) f.add(j.format);
  }
  // Every folder from a job's folder up to the root, with its sub-folders.
  const children = new Map<string, Set<string>>();
  const nodes = new Set<string>([root]);
  for (const d of own.keys()) {
    for (let c = d; c !== root && c.length > root.length; c = dirname(c)) {
      nodes.add(c);
      const p = dirname(c);
      let k = children.get(p);
      if (!k) children.set(p, (k = new Set()));
      k.add(c);
    }
  }
  const formats = new Map<string, Set<string>>();
  const separate = new Set<string>();
  for (const n of [...nodes].sort((a, b) => b.length - a.length)) {
    const mine = new Set(own.get(n) ?? []);
    const kids = [...(children.get(n) ?? [])];
    const clash = (k: string): boolean => {
      const fk = formats.get(k)!;
      if ([...fk].some((f) => mine.has(f))) return true;
      return kids.some((o) => o !== k && [...formats.get(o)!].some((f) => fk.has(f)));
    };
    const apart = kids.filter(clash);
    for (const k of apart) separate.add(k);
    for (const k of kids) if (!apart.includes(k)) for (const f of formats.get(k)!) mine.add(f);
    formats.set(n, mine);
  }
  const runOf = (d: string): string => {
    let c = d;
    while (c !== root && c.length > root.length && !separate.has(c)) c = dirname(c);
    return c.length < root.length ? root : c;
  };
  for (const j of jobs) j.runDir = runOf(j.runDir);
}

/** Plan the reads for explicit paths (files or folders). */
export function planInputs(paths: string[]): { jobs: Job[]; unreadable: string[]; skipped: SkippedInput[]; skippedCount: number } {
  const jobs: Job[] = [];
  const unreadable: string[] = [];
  const skipped: SkippedInput[] = [];
  let skippedCount = 0;
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
        runDir: EXPLICIT_RUN,
        format: 'torch',
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
      const found = detectFormat(input);
      if (!('reader' in found))
        throw new ReaderError(
          input,
          `not a format Optimizer Lens reads (JSONL/CSV logs, trainer_state.json, safetensors, npy/npz, PyTorch checkpoints, TensorBoard event files): ${found.reason}`,
        );
      jobs.push(fileJob(input, found.reader, true, EXPLICIT_RUN));
      continue;
    }
    const jobsBefore = jobs.length;
    // The files' folders come from join(input, …), which normalizes: so must the root.
    const root = normalize(input).replace(/(.)\/+$/, '$1');
    const { files } = walkFiles(input, { maxDepth: MAX_DEPTH, maxFiles: MAX_FILES, skipDirs: SKIP_DIRS });
    const byDir = new Map<string, string[]>();
    for (const f of files) {
      const d = dirname(f);
      let l = byDir.get(d);
      if (!l) byDir.set(d, (l = []));
      l.push(f);
    }
    const dirs = new Set(byDir.keys());
    for (const [dir, list] of byDir) {
      const runDir = runFolderOf(dir, root, dirs);
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
        jobs.push({ label: dir, paths: [dir], explicit: false, run: () => read(dir), rank: 0, runDir, format: 'hf-checkpoint' });
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
            runDir,
            format: 'torch',
          });
        }
      }
      for (const f of list) {
        if (taken.has(f)) continue;
        const found = detectFormat(f);
        if (!('reader' in found)) {
          if (skippedCount++ < MAX_SKIPPED_LISTED) skipped.push({ path: f, reason: found.reason });
          continue;
        }
        jobs.push(fileJob(f, found.reader, false, runDir));
      }
    }
    if (jobs.length === jobsBefore) unreadable.push(input);
    settleRuns(jobs.slice(jobsBefore), root);
  }
  jobs.sort((a, b) => a.rank - b.rank);
  return { jobs, unreadable, skipped, skippedCount };
}

function fileJob(path: string, reader: Reader, explicit: boolean, runDir: string): Job {
  return {
    label: path,
    paths: [path],
    explicit,
    run: (o) => reader.read(path, readOptions(o)),
    rank: rankOf(reader.format),
    runDir,
    format: reader.format,
  };
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

/** One run found in the inputs: its folder (null for the files named on the command line) and its data. */
export interface RunInput {
  /** Folder of the run, or null for the files named on the command line. */
  dir: string | null;
  /** Short name: the folder relative to the folder named, or the file(s) named. */
  label: string;
  data: RunData;
}

/**
 * Read the inputs as runs: the files of each run merged, different runs kept apart (in the order of
 * their folders' names). Throws ReaderError when an input has nothing readable.
 */
export async function readRuns(paths: string[], options: ReadInputsOptions = {}): Promise<RunInput[]> {
  const { jobs, unreadable, skipped, skippedCount } = planInputs(paths);
  if (unreadable.length) {
    const why = skipped.find((s) => s.path.startsWith(unreadable[0]));
    throw new ReaderError(
      unreadable[0],
      `no readable logs, tensors, checkpoints or event files in this folder${why ? ` (e.g. ${basename(why.path)}: ${why.reason})` : ''}`,
    );
  }
  const byRun = new Map<string, RunData[]>();
  for (const j of jobs) if (!byRun.has(j.runDir)) byRun.set(j.runDir, []);
  const order = [...byRun.keys()].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  for (let i = 0; i < jobs.length; i++) {
    options.signal?.throwIfAborted();
    const job = jobs[i];
    options.onProgress?.(i / jobs.length, `reading ${job.label}`);
    let part: RunData;
    try {
      part = await job.run(options);
    } catch (e) {
      if (job.explicit || !(e instanceof ReaderError)) throw e;
      part = { ...emptyRunData(), issues: [issueFromError(e)] };
    }
    byRun.get(job.runDir)!.push(part);
  }
  const runs = order.map((dir): RunInput => {
    const data = mergeRunData(byRun.get(dir)!);
    return { dir: dir === EXPLICIT_RUN ? null : dir, label: runLabel(dir, paths), data };
  });
  // Skipped files go with the run of their folder (else the first run): they say what was not read there.
  for (const s of skipped) {
    const d = dirname(s.path);
    const owners = runs.filter((x) => x.dir !== null && (d === x.dir || d.startsWith(`${x.dir}/`)));
    const r = owners.sort((a, b) => b.dir!.length - a.dir!.length)[0] ?? runs[0];
    if (r) (r.data.skipped ??= []).push(s);
  }
  if (skippedCount > skipped.length && runs[0]) {
    (runs[0].data.skipped ??= []).push({ path: paths[0], reason: `and ${skippedCount - skipped.length} more files not read` });
  }
  return runs;
}

function runLabel(dir: string, paths: string[]): string {
  if (dir === EXPLICIT_RUN) return paths.length === 1 ? paths[0] : `${paths[0]} + ${paths.length - 1} more`;
  const roots = paths.map((p) => normalize(p).replace(/(.)\/+$/, '$1'));
  const root = roots.find((p) => dir === p || dir.startsWith(p.endsWith('/') ? p : `${p}/`));
  if (!root || root === dir) return dir;
  return relative(root, dir);
}

/**
 * Read the inputs into one RunData (the extension's single-run view). Different runs are merged here, and
 * an issue says so: `readRuns` keeps them apart.
 */
export async function readInputs(paths: string[], options: ReadInputsOptions = {}): Promise<RunData> {
  const runs = await readRuns(paths, options);
  const data = mergeRunData(runs.map((r) => r.data));
  if (runs.length > 1) {
    data.runs = runs.map((r) => ({ label: r.label, dir: r.dir }));
    data.issues.unshift({
      severity: 'warning',
      path: paths[0],
      message: `${runs.length} separate runs (${runs
        .slice(0, 4)
        .map((r) => r.label)
        .join(', ')}${runs.length > 4 ? ', …' : ''}) merged into one view; open one run's folder to see it alone`,
    });
  }
  return data;
}
