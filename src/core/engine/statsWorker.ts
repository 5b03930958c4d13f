import { parentPort } from 'node:worker_threads';
import { ReaderError } from '../errors';
import { computeTensorFigures, type AdamStepHyper, type LayerTensorSet } from './tensorStats';

// A worker thread of the tensor-statistics pool (parallel.ts): reduces one layer's tensors per request.
// Bundled as dist/statsWorker.js; under tsx (tests) the .ts file runs directly.

export interface StatsRequest {
  id: number;
  set: LayerTensorSet;
  hyper: AdamStepHyper | null;
}

export type StatsResponse =
  | { id: number; ok: true; figures: Awaited<ReturnType<typeof computeTensorFigures>> }
  | { id: number; ok: false; readerError: boolean; message: string; path?: string; line?: number; offset?: number };

parentPort?.on('message', (req: StatsRequest) => {
  computeTensorFigures(req.set, req.hyper).then(
    (figures) => parentPort!.postMessage({ id: req.id, ok: true, figures } satisfies StatsResponse),
    (e: unknown) => {
      const r = e instanceof ReaderError;
      parentPort!.postMessage({
        id: req.id,
        ok: false,
        readerError: r,
        message: r ? e.reason : String((e as Error)?.message ?? e),
        path: r ? e.path : undefined,
        line: r ? e.line : undefined,
        offset: r ? e.offset : undefined,
      } satisfies StatsResponse);
    },
  );
});
