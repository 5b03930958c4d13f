// Messages between the extension host and the analysis worker (worker.ts). Types only.

import type { AnalyzeOptions, RunAnalysis } from '../core/analysis';
import type { InputFacts } from '../shared/protocol';

/** AnalyzeOptions without what cannot cross a thread (signal, callback). */
export type WorkerAnalyzeOptions = Omit<AnalyzeOptions, 'signal' | 'onProgress'> & {
  /** Betas/eps to use only when no input states them (settings optimizerLens.defaults.*). */
  defaults?: { betas?: [number, number]; eps?: number };
  /** Longest run (in steps) sent to the dashboard unthinned (default 2000; see decimate.ts). */
  maxDashboardSteps?: number;
};

export type ToWorker =
  /** Read and analyze; with `tail`, keep the read data and follow the (single) file as it grows. */
  | { kind: 'analyze'; paths: string[]; options: WorkerAnalyzeOptions; tail?: boolean }
  /** Read what was appended since the last read (tail mode) and answer with the new analysis. */
  | { kind: 'tail' };

export type FromWorker =
  | { kind: 'progress'; fraction: number; message: string }
  /** `totalSteps`: steps before thinning (analysis.result.steps lists the kept ones). */
  | { kind: 'result'; analysis: RunAnalysis; tailing: boolean; newRecords?: boolean; totalSteps: number; facts?: InputFacts }
  | { kind: 'error'; message: string; name: string };
