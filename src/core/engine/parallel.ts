import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { DTYPE_BYTES } from '../io/tensorData';
import type { DirectionSpec } from './optimizers/spec';
import type { StatsRequest, StatsResponse } from './statsWorker';
import { jobErrorOf, type JobError } from './jobError';
import { computeTensorFigures, type LayerTensorSet, type TensorFigures } from './tensorStats';

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

/** One turn of the event loop (worker results and progress are delivered between the calling lane's jobs). */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Reduce every job; results in job order, each its figures or its error. `onDone` is called as each job finishes
 * (progress; a worker's jobs are reported between the calling lane's). `threads`: lanes including the calling
 * thread (default one per core, at most 4). Only cancellation (the signal's reason) is thrown.
 */
export async function computeAllTensorFigures(
  jobs: TensorJob[],
  options: { signal?: AbortSignal; onDone?: (done: number, job: TensorJob) => void; threads?: number; minBytes?: number } = {},
): Promise<TensorJobResult[]> {
  options.signal?.throwIfAborted();
  const total = jobs.reduce((s, j) => s + jobBytes(j), 0);
  const file = workerFile();
  const lanes = Math.min(options.threads ?? Math.min(4, availableParallelism()), jobs.length);
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
  // Largest first, so the last job to finish is a small one.
  const order = jobs.map((_, i) => i).sort((a, b) => jobBytes(jobs[b]) - jobBytes(jobs[a]));
  // [0]: the next position in `order`; [1 + w]: the job worker w is on (−1: none), for a worker that dies.
  const shared = new Int32Array(new SharedArrayBuffer(4 * (lanes + 1)));
  shared.fill(-1, 1);
  let done = 0;
  let settle: (() => void) | null = null;
  const finish = (i: number, r: TensorJobResult): void => {
    if (results[i]) return;
    results[i] = r;
    done++;
    options.onDone?.(done, jobs[i]);
    if (done === jobs.length) settle?.();
  };
  const allDone = new Promise<void>((resolve) => (settle = resolve));
  const workers: Worker[] = [];
  // Set by cancellation (a holder: it is assigned in callbacks).
  const failed: { reason?: unknown; set: boolean } = { set: false };
  const stop = (reason: unknown): void => {
    if (!failed.set) Object.assign(failed, { reason, set: true });
    Atomics.store(shared, 0, order.length);
    settle?.();
  };
  const onAbort = (): void => stop(options.signal!.reason);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (let w = 0; w < lanes - 1; w++) {
      // Under tsx (tests) the worker is TypeScript source: register tsx's require hook first.
      const worker = file.endsWith('.ts')
        ? new Worker(`require('tsx/cjs'); require(${JSON.stringify(file)});`, { eval: true })
        : new Worker(file);
      workers.push(worker);
      worker.on('message', (r: StatsResponse) => {
        finish(
          r.id,
          r.ok
            ? { figures: r.figures }
            : { error: { readerError: r.readerError, message: r.message, path: r.path, line: r.line, offset: r.offset } },
        );
      });
      // A worker that dies takes only its current job with it; the other lanes go on with the rest.
      worker.on('error', (e) => {
        const i = Atomics.exchange(shared, 1 + w, -1);
        if (i >= 0) finish(i, { error: jobErrorOf(e) });
      });
      worker.postMessage({ jobs, order, shared, slot: 1 + w } satisfies StatsRequest);
    }
    // The calling thread's lane.
    for (let k = Atomics.add(shared, 0, 1); k < order.length; k = Atomics.add(shared, 0, 1)) {
      const i = order[k];
      finish(i, await runJob(jobs[i]));
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

/** A worker's lane: takes jobs from the shared counter until there are none, posting each result. */
export async function runLane(req: StatsRequest, post: (r: StatsResponse) => void): Promise<void> {
  const { jobs, order, shared, slot } = req;
  for (let k = Atomics.add(shared, 0, 1); k < order.length; k = Atomics.add(shared, 0, 1)) {
    const i = order[k];
    Atomics.store(shared, slot, i);
    const r = await runJob(jobs[i]);
    Atomics.store(shared, slot, -1);
    post(r.figures ? { id: i, ok: true, figures: r.figures } : { id: i, ok: false, ...r.error! });
  }
}
