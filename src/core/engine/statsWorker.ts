import { parentPort } from 'node:worker_threads';
import type { JobError } from './jobError';
import { runLane, type TensorJob } from './parallel';
import type { TensorFigures } from './tensorStats';

// A worker thread of the tensor-statistics pool (parallel.ts): one lane, taking jobs from the pool's shared counter
// until none are left. Bundled as dist/statsWorker.js; under tsx (tests) the .ts file runs directly.

export interface StatsRequest {
  /** Every job of the pass; the lane takes `order[k]` for each k it draws from shared[0]. */
  jobs: TensorJob[];
  order: number[];
  /** [0]: the next position in `order`; [slot]: the job this lane is on (−1: none). */
  shared: Int32Array;
  slot: number;
}

export type StatsResponse = { id: number; ok: true; figures: TensorFigures } | ({ id: number; ok: false } & JobError);

parentPort?.once('message', (req: StatsRequest) => {
  void runLane(req, (r) => parentPort!.postMessage(r));
});
