import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { DTYPE_BYTES } from '../io/tensorData';
import type { DirectionSpec } from './optimizers/spec';
import type { StatsRequest, StatsResponse } from './statsWorker';
import { jobErrorOf, type JobError } from './jobError';
import {
  CHUNK_ELEMENTS,
  combineTensorParts,
  computeTensorFigures,
  computeTensorPart,
  type ChunkPartials,
  type LayerTensorSet,
  type TensorFigures,
} from './tensorStats';

// Runs the fused tensor pass for many layers on one lane per core (at most 4): the calling thread is one lane,
// worker threads the others. Every lane takes the next job, largest first, from one shared counter (Atomics), so no
// lane waits for another to hand it work. Each lane reads its own bounded chunks: memory stays one chunk per tensor
// per lane. Small inputs stay on the calling thread, where starting a worker would cost more than it saves.
// The calling thread computes too (on the 1 GiB bench snapshot, 2 cores: two workers with an idle calling thread cost
// one more thread start, ~60 ms of CPU, and left a core idle while it booted); callers that must keep their event
// loop free run this in a process or worker of their own (the extension's analysis process, cancelled by a kill).
// One job's failure is that job's result: the other layers are still analyzed.

const PARALLEL_MIN_BYTES = 64 * 1024 * 1024;

export interface TensorJob {
  set: LayerTensorSet;
  spec: DirectionSpec | null;
}

/** A job's figures, or why the job failed as a whole. */
export type TensorJobResult = { figures: TensorFigures; error?: undefined } | { figures?: undefined; error: JobError };

function jobBytes(j: TensorJob): number {
  const s = j.set;
  let n = 0;
  for (const r of [s.paramBefore, s.paramAfter, s.paramSaved, s.paramEarlier, s.grad, ...Object.values(s.state ?? {})]) {
    if (r) n += r.numel * DTYPE_BYTES[r.dtype];
  }
  return n;
}

function workerFile(): string | null {
  for (const f of [join(__dirname, 'statsWorker.js'), join(__dirname, 'statsWorker.ts')]) if (existsSync(f)) return f;
  return null;
}

async function runJob(j: TensorJob): Promise<TensorJobResult> {
  try {
    return { figures: await computeTensorFigures(j.set, j.spec) };
  } catch (e) {
    return { error: jobErrorOf(e) };
  }
}

/**
 * A unit of a lane's work: a whole job, or elements [from, to) of a large one (`parts` > 1), so the lanes finish
 * together however the layers' sizes fall (the calling lane starts one worker start earlier than the others).
 */
export interface WorkUnit {
  job: number;
  part: number;
  parts: number;
  from: number;
  to: number;
}

/**
 * What a lane gives for a unit: a whole job's result; a part's partials; `skip` (a part of a layer that cannot be
 * split: its first part ran the layer whole); `failed` (a part whose tensor failed: the layer is run again whole).
 */
export type UnitResult =
  { kind: 'job'; result: TensorJobResult } | { kind: 'part'; partials: ChunkPartials } | { kind: 'skip' } | { kind: 'failed' };

/**
 * Layers of at least this many elements are split into parts of this many (64 chunks: 64 MiB of an Adam layer's 4
 * float32 streams, ~20 ms of a core), on chunk boundaries.
 */
const PART_ELEMENTS = 64 * CHUNK_ELEMENTS;

function numelOf(j: TensorJob): number {
  const s = j.set;
  return (s.paramBefore ?? s.paramSaved ?? s.grad ?? Object.values(s.state ?? {})[0])?.numel ?? 0;
}

/** The units of the jobs, largest job first, a split job's parts in order; parts are whole chunks of the pass. */
function workUnits(jobs: TensorJob[], partElements: number): WorkUnit[] {
  const size = Math.max(1, Math.ceil(partElements / CHUNK_ELEMENTS)) * CHUNK_ELEMENTS;
  const order = jobs.map((_, i) => i).sort((a, b) => jobBytes(jobs[b]) - jobBytes(jobs[a]));
  const units: WorkUnit[] = [];
  for (const job of order) {
    const n = numelOf(jobs[job]);
    const parts = n >= 2 * size ? Math.ceil(n / size) : 1;
    for (let part = 0; part < parts; part++)
      units.push({ job, part, parts, from: part * size, to: parts === 1 ? n : Math.min(n, (part + 1) * size) });
  }
  return units;
}

export async function runUnit(jobs: TensorJob[], u: WorkUnit): Promise<UnitResult> {
  const j = jobs[u.job];
  if (u.parts === 1) return { kind: 'job', result: await runJob(j) };
  const r = await computeTensorPart(j.set, j.spec, { from: u.from, to: u.to });
  if ('partials' in r) return { kind: 'part', partials: r.partials };
  if ('failed' in r) return { kind: 'failed' };
  return u.part === 0 ? { kind: 'job', result: await runJob(j) } : { kind: 'skip' };
}

/** One turn of the event loop (worker results and progress are delivered between the calling lane's units). */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Reduce every job; results in job order, each its figures or its error. `onDone` is called as each job finishes
 * (progress; a worker's jobs are reported between the calling lane's units). `threads`: lanes including the calling
 * thread (default one per core, at most 4). Only cancellation (the signal's reason) is thrown.
 */
export async function computeAllTensorFigures(
  jobs: TensorJob[],
  options: {
    signal?: AbortSignal;
    onDone?: (done: number, job: TensorJob) => void;
    threads?: number;
    minBytes?: number;
    /** Elements per part of a split layer (rounded up to whole chunks; tests split small layers). */
    partElements?: number;
  } = {},
): Promise<TensorJobResult[]> {
  options.signal?.throwIfAborted();
  const total = jobs.reduce((s, j) => s + jobBytes(j), 0);
  const file = workerFile();
  const units = workUnits(jobs, options.partElements ?? PART_ELEMENTS);
  const lanes = Math.min(options.threads ?? Math.min(4, availableParallelism()), units.length);
  if (total < (options.minBytes ?? PARALLEL_MIN_BYTES) || lanes < 2 || file === null) {
    const out: TensorJobResult[] = [];
    for (const j of jobs) {
      options.signal?.throwIfAborted();
      out.push(await runJob(j));
      options.onDone?.(out.length, j);
    }
    return out;
  }
  const results: (TensorJobResult | undefined)[] = new Array(jobs.length);
  // Per job: its units' results as they come (a split job is combined when its last part is in).
  const unitResults = jobs.map(() => [] as UnitResult[]);
  const unitsLeft = jobs.map(() => 0);
  for (const u of units) unitsLeft[u.job]++;
  // [0]: the next unit; [1 + w]: the unit worker w is on (−1: none), for a worker that dies.
  const shared = new Int32Array(new SharedArrayBuffer(4 * (lanes + 1)));
  shared.fill(-1, 1);
  let done = 0;
  let settle: (() => void) | null = null;
  const allDone = new Promise<void>((resolve) => (settle = resolve));
  const finish = (i: number, r: TensorJobResult): void => {
    if (results[i]) return;
    results[i] = r;
    done++;
    options.onDone?.(done, jobs[i]);
    if (done === jobs.length) settle?.();
  };
  // Set by cancellation or a failed combination (a holder: it is assigned in callbacks).
  const failed: { reason?: unknown; set: boolean } = { set: false };
  const stop = (reason: unknown): void => {
    if (!failed.set) Object.assign(failed, { reason, set: true });
    Atomics.store(shared, 0, units.length);
    settle?.();
  };
  const take = (k: number, r: UnitResult): void => {
    const u = units[k];
    unitResults[u.job][u.part] = r;
    if (--unitsLeft[u.job] > 0) return;
    const got = unitResults[u.job];
    const whole = got.find((x) => x.kind === 'job');
    if (whole?.kind === 'job') return finish(u.job, whole.result);
    const j = jobs[u.job];
    // A part failed: the layer again, whole (its failing tensor becomes an issue, as in any pass).
    const figures = got.some((x) => x.kind !== 'part')
      ? runJob(j)
      : combineTensorParts(
          j.set,
          j.spec,
          got.map((x) => (x as { partials: ChunkPartials }).partials),
        ).then(
          (f): TensorJobResult => ({ figures: f }),
          (e): TensorJobResult => ({ error: jobErrorOf(e) }),
        );
    figures.then((r) => finish(u.job, r), stop);
  };
  const onAbort = (): void => stop(options.signal!.reason);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const workers: Worker[] = [];
  try {
    for (let w = 0; w < lanes - 1; w++) {
      // Under tsx (tests) the worker is TypeScript source: register tsx's require hook first.
      const worker = file.endsWith('.ts')
        ? new Worker(`require('tsx/cjs'); require(${JSON.stringify(file)});`, { eval: true })
        : new Worker(file);
      workers.push(worker);
      worker.on('message', (r: StatsResponse) => take(r.unit, r.result));
      // A worker that dies takes only its current unit with it; the other lanes go on with the rest.
      worker.on('error', (e) => {
        const k = Atomics.exchange(shared, 1 + w, -1);
        if (k >= 0) take(k, units[k].parts === 1 ? { kind: 'job', result: { error: jobErrorOf(e) } } : { kind: 'failed' });
      });
      worker.postMessage({ jobs, units, shared, slot: 1 + w } satisfies StatsRequest);
    }
    // The calling thread's lane.
    for (let k = Atomics.add(shared, 0, 1); k < units.length; k = Atomics.add(shared, 0, 1)) {
      take(k, await runUnit(jobs, units[k]));
      await turn();
    }
    if (done < jobs.length && !failed.set) await allDone;
    if (failed.set) throw failed.reason;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return results as TensorJobResult[];
}

/** A worker's lane: takes units from the shared counter until there are none, posting each result. */
export async function runLane(req: StatsRequest, post: (r: StatsResponse) => void): Promise<void> {
  const { jobs, units, shared, slot } = req;
  for (let k = Atomics.add(shared, 0, 1); k < units.length; k = Atomics.add(shared, 0, 1)) {
    Atomics.store(shared, slot, k);
    const result = await runUnit(jobs, units[k]);
    Atomics.store(shared, slot, -1);
    post({ unit: k, result });
  }
}
