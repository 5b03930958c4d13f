import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { DTYPE_BYTES } from '../io/tensorData';
import type { DirectionSpec } from './optimizers/spec';
import type { StatsRequest, StatsResponse } from './statsWorker';
import { jobErrorOf, type JobError } from './jobError';
import { computeTensorFigures, type LayerTensorSet, type TensorFigures } from './tensorStats';

// Runs the fused tensor pass for many layers on a small pool of worker threads (one per core, at most
// 4), each reading its own bounded chunks: memory stays one chunk per tensor per worker. Small inputs
// stay on the calling thread, where starting workers would cost more than it saves. One job's failure is
// that job's result: the other layers are still analyzed.

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

/**
 * Reduce every job; results in job order, each its figures or its error. `onDone` is called as each job finishes
 * (progress). Only cancellation (the signal's reason) is thrown.
 */
export async function computeAllTensorFigures(
  jobs: TensorJob[],
  options: { signal?: AbortSignal; onDone?: (done: number, job: TensorJob) => void; workers?: number; minBytes?: number } = {},
): Promise<TensorJobResult[]> {
  options.signal?.throwIfAborted();
  const total = jobs.reduce((s, j) => s + jobBytes(j), 0);
  const file = workerFile();
  const wanted = Math.min(options.workers ?? Math.min(4, availableParallelism()), jobs.length);
  if (total < (options.minBytes ?? PARALLEL_MIN_BYTES) || wanted < 2 || file === null) {
    const out: TensorJobResult[] = [];
    for (const j of jobs) {
      options.signal?.throwIfAborted();
      try {
        out.push({ figures: await computeTensorFigures(j.set, j.spec) });
      } catch (e) {
        out.push({ error: jobErrorOf(e) });
      }
      options.onDone?.(out.length, j);
    }
    return out;
  }
  const results: TensorJobResult[] = new Array(jobs.length);
  // Largest first, so the last job to finish is a small one.
  const order = jobs.map((_, i) => i).sort((a, b) => jobBytes(jobs[b]) - jobBytes(jobs[a]));
  let next = 0;
  let done = 0;
  const workers: Worker[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let stopped = false;
      const stop = (e: unknown): void => {
        if (!stopped) {
          stopped = true;
          reject(e);
        }
      };
      const onAbort = (): void => stop(options.signal!.reason);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      let alive = 0;
      const finish = (i: number, r: TensorJobResult): void => {
        results[i] = r;
        done++;
        options.onDone?.(done, jobs[i]);
        if (done === jobs.length) resolve();
      };
      const feed = (w: Worker, inFlight: { id: number | null }): void => {
        if (stopped) return;
        if (next >= order.length) {
          inFlight.id = null;
          return;
        }
        const i = order[next++];
        inFlight.id = i;
        w.postMessage({ id: i, set: jobs[i].set, spec: jobs[i].spec } satisfies StatsRequest);
      };
      for (let k = 0; k < wanted; k++) {
        // Under tsx (tests) the worker is TypeScript source: register tsx's require hook first.
        const w = file.endsWith('.ts')
          ? new Worker(`require('tsx/cjs'); require(${JSON.stringify(file)});`, { eval: true })
          : new Worker(file);
        workers.push(w);
        alive++;
        const inFlight: { id: number | null } = { id: null };
        w.on('message', (r: StatsResponse) => {
          finish(
            r.id,
            r.ok
              ? { figures: r.figures }
              : { error: { readerError: r.readerError, message: r.message, path: r.path, line: r.line, offset: r.offset } },
          );
          if (done < jobs.length) feed(w, inFlight);
        });
        // A worker that dies takes only its current job with it; the others go on (the last one fails the rest).
        w.on('error', (e) => {
          alive--;
          if (inFlight.id !== null) finish(inFlight.id, { error: jobErrorOf(e) });
          inFlight.id = null;
          if (alive === 0) while (next < order.length) finish(order[next++], { error: jobErrorOf(e) });
        });
        feed(w, inFlight);
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return results;
}
