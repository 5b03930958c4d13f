// Runs analyses in the worker (dist/worker.js) with a progress notification that can cancel.
// One session = one worker; a session in tail mode stays alive to follow a growing log.

import * as vscode from 'vscode';
import { Worker } from 'node:worker_threads';
import type { RunAnalysis } from '../core/analysis';
import type { FromWorker, ToWorker, WorkerAnalyzeOptions } from './workerProtocol';
import type { InputFacts } from '../shared/protocol';

export class AnalysisCancelled extends Error {
  constructor() {
    super('Analysis cancelled');
    this.name = 'AnalysisCancelled';
  }
}

export class AnalysisFailed extends Error {
  constructor(
    message: string,
    readonly kind: string,
  ) {
    super(message);
    this.name = 'AnalysisFailed';
  }
}

export interface SessionResult {
  analysis: RunAnalysis;
  tailing: boolean;
  newRecords?: boolean;
  /** Steps before the worker thinned the run for the dashboard. */
  totalSteps: number;
  /** Optimizer state found and hyper-parameters filled from settings (the header says so). */
  facts?: InputFacts;
}

export class AnalysisSession implements vscode.Disposable {
  private worker: Worker | null;
  private pending: { resolve: (r: SessionResult) => void; reject: (e: Error) => void; onProgress?: (f: number, m: string) => void } | null =
    null;
  private disposed = false;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(workerPath: string) {
    this.worker = new Worker(workerPath);
    this.worker.on('message', (m: FromWorker) => this.onMessage(m));
    this.worker.on('error', (e) => this.fail(new AnalysisFailed(e.message, e.name)));
    this.worker.on('exit', (code) => {
      this.worker = null;
      this.fail(this.disposed ? new AnalysisCancelled() : new AnalysisFailed(`the analysis worker exited (code ${code})`, 'WorkerExit'));
    });
  }

  get alive(): boolean {
    return this.worker !== null;
  }

  analyze(
    paths: string[],
    options: WorkerAnalyzeOptions,
    tail: boolean,
    onProgress?: (f: number, m: string) => void,
  ): Promise<SessionResult> {
    return this.request({ kind: 'analyze', paths, options, tail }, onProgress);
  }

  /** Read what the followed file appended and re-analyze (tail mode only). */
  tail(): Promise<SessionResult> {
    return this.request({ kind: 'tail' });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const w = this.worker;
    this.worker = null;
    this.fail(new AnalysisCancelled());
    void w?.terminate();
  }

  private request(message: ToWorker, onProgress?: (f: number, m: string) => void): Promise<SessionResult> {
    const run = () =>
      new Promise<SessionResult>((resolve, reject) => {
        if (!this.worker)
          return reject(this.disposed ? new AnalysisCancelled() : new AnalysisFailed('the analysis worker is not running', 'WorkerExit'));
        this.pending = { resolve, reject, onProgress };
        this.worker.postMessage(message);
      });
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private onMessage(m: FromWorker): void {
    const p = this.pending;
    if (!p) return;
    if (m.kind === 'progress') p.onProgress?.(m.fraction, m.message);
    else if (m.kind === 'result') {
      this.pending = null;
      p.resolve({ analysis: m.analysis, tailing: m.tailing, newRecords: m.newRecords, totalSteps: m.totalSteps, facts: m.facts });
    } else if (m.kind === 'error') {
      this.pending = null;
      p.reject(new AnalysisFailed(m.message, m.name));
    }
  }

  private fail(error: Error): void {
    const p = this.pending;
    this.pending = null;
    p?.reject(error);
  }
}

/**
 * Analyze `paths` in a new worker behind a cancellable progress notification. Resolves with the result
 * and the session (kept alive for tail mode; the caller disposes it), rejects with AnalysisCancelled
 * or AnalysisFailed.
 */
export async function analyzeWithProgress(
  workerPath: string,
  paths: string[],
  options: WorkerAnalyzeOptions,
  title: string,
  opts: { tail?: boolean; token?: vscode.CancellationToken } = {},
): Promise<{ result: SessionResult; session: AnalysisSession }> {
  const session = new AnalysisSession(workerPath);
  try {
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Optimizer Lens: ${title}`, cancellable: true },
      (progress, token) => {
        const cancel = () => session.dispose();
        token.onCancellationRequested(cancel);
        opts.token?.onCancellationRequested(cancel);
        let reported = 0;
        return session.analyze(paths, options, opts.tail ?? false, (fraction, message) => {
          const pct = Math.max(0, Math.min(100, Math.round(fraction * 100)));
          progress.report({ increment: Math.max(0, pct - reported), message });
          reported = Math.max(reported, pct);
        });
      },
    );
    if (!result.tailing) session.dispose();
    return { result, session };
  } catch (e) {
    session.dispose();
    throw e;
  }
}
