// Messages between the extension host and the analysis process (process.ts, forked as dist/analysis.js).
// Types only. They cross a process boundary with Node's 'advanced' IPC serialization (structured clone).

import type { AnalyzeOptions, RunAnalysis } from '../../core/analysis';
import type { InputFacts, RunEntry } from '../../shared/protocol';

/** AnalyzeOptions without what cannot cross a process (signal, callback). */
export type ProcessAnalyzeOptions = Omit<AnalyzeOptions, 'signal' | 'onProgress'> & {
  /** Betas/eps to use only when no input states them (settings optimizerLens.defaults.*). */
  defaults?: { betas?: [number, number]; eps?: number };
  /** Longest run (in steps) sent to the dashboard unthinned (default 2000; see decimate.ts). */
  maxDashboardSteps?: number;
  /** Bytes per bounded read of a large log: the first step (analyzed at once) and the later ones (tests use small ones). */
  readSteps?: { first?: number; next?: number };
  /**
   * false: no first partial answer of a large log, which is read in one step, or in steps of `readSteps.next` (a
   * whole-run pass beside the follower: nothing shows a partial one, and analyzing the first 4 MB cost ~0.8 s of its
   * ~2.8 s of CPU).
   */
  partial?: boolean;
};

export type ToAnalysis =
  /**
   * Read and analyze. With `follow`, keep the data read and follow the input (one JSONL or TensorBoard
   * file, or a folder holding only that) as it grows.
   */
  | { kind: 'analyze'; paths: string[]; options: ProcessAnalyzeOptions; follow?: boolean }
  /**
   * Read what was appended since the last read (follow mode) and answer with the new analysis: new log
   * records are analyzed alone and appended to the last answer (see append.ts) unless `full` asks for a
   * whole-run pass.
   */
  | { kind: 'tail'; full?: boolean };

/** An analysis as sent to the host: thinned for the dashboard, with what the inputs showed beyond it. */
export interface AnalysisAnswer {
  analysis: RunAnalysis;
  /** Steps before thinning (analysis.result.steps lists the kept ones). */
  totalSteps: number;
  /** Optimizer state found and hyper-parameters filled from settings (the header says so). */
  facts: InputFacts;
  /** The log the process follows (it keeps the data and answers 'tail' requests), else null. */
  followed: string | null;
  /** A tail answer: whether new records arrived. */
  newRecords?: boolean;
  /** The new records' steps were appended to the previous answer; its findings wait for a whole-run pass. */
  appended?: boolean;
  /** With `appended`: the new records' analysis alone (what was appended; a webview showing the previous answer gets only this). */
  fresh?: RunAnalysis;
  /**
   * Set on a first analysis of part of the input, sent while the rest is read (a final answer follows):
   * the share of the input's bytes read so far.
   */
  partial?: { fraction: number };
  /**
   * Set when the input holds several separate runs: each read and analyzed alone (never merged), thinned
   * like a single analysis; `analysis`, `totalSteps` and `facts` are then the first run's. Not followed.
   */
  runs?: RunEntry[];
  /**
   * A followed log's last step looked partial (fewer lines than the step before: its writer was between
   * lines) and waits for the next read (JsonlTail `holdPartialStep`); the host reads again soon, and a read
   * that finds the log unchanged returns the step as it is.
   */
  held?: boolean;
}

export type FromAnalysis =
  /** `fraction` of the whole request; `message` says what is being done ("reading x.jsonl"). */
  | { kind: 'progress'; fraction: number; message: string }
  | ({ kind: 'answer' } & AnalysisAnswer)
  /** A tail answer: the new records' analysis alone, to append to the previous answer (append.ts). */
  | { kind: 'append'; fresh: RunAnalysis; facts: InputFacts; held?: boolean }
  /** A tail answer: nothing new since the previous answer. */
  | { kind: 'unchanged'; held?: boolean }
  /** The request failed (a reader's error, cancellation is a kill and sends nothing). */
  | { kind: 'error'; message: string; name: string };
