import { parentPort } from 'node:worker_threads';
import { runLane, type TensorJob, type UnitResult, type WorkUnit } from './parallel';

// A worker thread of the tensor-statistics pool (parallel.ts): one lane, taking jobs from the pool's shared counter
// until none are left: a whole layer or a part of a large one. Bundled as dist/statsWorker.js; under tsx (tests) the .ts file runs directly.

export interface StatsRequest {
  /** Every job of the pass, and its units: the lane runs `units[k]` for each k it draws from shared[0]. */
  jobs: TensorJob[];
  units: WorkUnit[];
  /** [0]: the next unit; [slot]: the unit this lane is on (−1: none). */
  shared: Int32Array;
  slot: number;
}

export interface StatsResponse {
  unit: number;
  result: UnitResult;
}

parentPort?.once('message', (req: StatsRequest) => {
  void runLane(req, (r) => parentPort!.postMessage(r));
});
