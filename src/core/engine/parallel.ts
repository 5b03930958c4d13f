import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { DTYPE_BYTES } from '../io/tensorData';
import { ReaderError } from '../errors';
import type { StatsRequest, StatsResponse } from './statsWorker';
import { computeTensorFigures, type AdamStepHyper, type LayerTensorSet, type TensorFigures } from './tensorStats';

// Runs the fused tensor pass for many layers on a small pool of worker threads (one per core, at most
// 4), each reading its own bounded chunks: memory stays one chunk per tensor per worker. Small inputs
// stay on the calling thread, where starting workers would cost more than it saves.

const PARALLEL_MIN_BYTES = 64 * 1024 * 1024;

export interface TensorJob {
  set: LayerTensorSet;
  hyper: AdamStepHyper | null;
}

function jobBytes(j: TensorJob): number {
  const s = j.set;
  let n = 0;
  for (const r of [s.paramBefore, s.paramAfter, s.paramSaved, s.grad, s.expAvg, s.expAvgSq, s.momentumBuffer]) {
    if (r) n += r.numel * DTYPE_BYTES[r.dtype];
  }
  return n;
}

function workerFile(): string | null {
  for (const f of [join(__dirname, 'statsWorker.js'), join(__dirname, 'statsWorker.ts')]) if (existsSync(f)) return f;
  return null;
}

/**
 * Reduce every job; results in job order. `onDone` is called as each job finishes (progress).
 * Throws the first ReaderError (as a ReaderError), like the sequential path.
 */
export async function computeAllTensorFigures(
  jobs: TensorJob[],
  options: { signal?: AbortSignal; onDone?: (done: number, job: TensorJob) => void; workers?: number; minBytes?: number } = {},
): Promise<TensorFigures[]> {
  options.signal?.throwIfAborted();
  const total = jobs.reduce((s, j) => s + jobBytes(j), 0);
  const file = workerFile();
  const wanted = Math.min(options.workers ?? Math.min(4, availableParallelism()), jobs.length);
  if (total < (options.minBytes ?? PARALLEL_MIN_BYTES) || wanted < 2 || file === null) {
    const out: TensorFigures[] = [];
    for (const j of jobs) {
      options.signal?.throwIfAborted();
      out.push(await computeTensorFigures(j.set, j.hyper));
      options.onDone?.(out.length, j);
    }
    return out;
  }
  const results: TensorFigures[] = new Array(jobs.length);
  // Largest first, so the last job to finish is a small one.
  const order = jobs.map((_, i) => i).sort((a, b) => jobBytes(jobs[b]) - jobBytes(jobs[a]));
  let next = 0;
  let done = 0;
  const workers: Worker[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let failed = false;
      const fail = (e: unknown): void => {
        if (!failed) {
          failed = true;
          reject(e);
        }
      };
      const onAbort = (): void => fail(options.signal!.reason);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const feed = (w: Worker): void => {
        if (failed) return;
        if (next >= order.length) {
          if (done === jobs.length) resolve();
          return;
        }
        const i = order[next++];
        w.postMessage({ id: i, set: jobs[i].set, hyper: jobs[i].hyper } satisfies StatsRequest);
      };
      for (let k = 0; k < wanted; k++) {
        // Under tsx (tests) the worker is TypeScript source: register tsx's require hook first.
        const w = file.endsWith('.ts')
          ? new Worker(`require('tsx/cjs'); require(${JSON.stringify(file)});`, { eval: true })
          : new Worker(file);
        workers.push(w);
        w.on('message', (r: StatsResponse) => {
          if (!r.ok) {
            fail(r.readerError ? new ReaderError(r.path ?? '', r.message, { line: r.line, offset: r.offset }) : new Error(r.message));
            return;
          }
          results[r.id] = r.figures;
          done++;
          options.onDone?.(done, jobs[r.id]);
          if (done === jobs.length) resolve();
          else feed(w);
        });
        w.on('error', fail);
        feed(w);
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return results;
}
