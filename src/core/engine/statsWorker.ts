import { parentPort } from 'node:worker_threads';
import { jobErrorOf, type JobError } from './jobError';
import type { DirectionSpec } from './optimizers/spec';
import { computeTensorFigures, type LayerTensorSet, type TensorFigures } from './tensorStats';

// A worker thread of the tensor-statistics pool (parallel.ts): reduces one layer's tensors per request.
// Bundled as dist/statsWorker.js; under tsx (tests) the .ts file runs directly.

export interface StatsRequest {
  id: number;
  set: LayerTensorSet;
  spec: DirectionSpec | null;
}

export type StatsResponse = { id: number; ok: true; figures: TensorFigures } | ({ id: number; ok: false } & JobError);

parentPort?.on('message', (req: StatsRequest) => {
  computeTensorFigures(req.set, req.spec).then(
    (figures) => parentPort!.postMessage({ id: req.id, ok: true, figures } satisfies StatsResponse),
    (e: unknown) => parentPort!.postMessage({ id: req.id, ok: false, ...jobErrorOf(e) } satisfies StatsResponse),
  );
});
