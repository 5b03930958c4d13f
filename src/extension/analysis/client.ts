// The host's side of one analysis process: child_process.fork of dist/analysis.js with a heap ceiling
// (--max-old-space-size) and a wall-clock limit per request. Whatever an input does to the process — a V8
// fatal error, an out-of-memory abort, a hang in a synchronous loop — ends that process only: the request
// is rejected with an AnalysisFailed saying which limit and how far it got, and the next analysis forks a
// fresh process. Cancel = kill. A process in follow mode stays alive between 'tail' requests.
// No vscode import (tested in plain Node); the progress notification lives in progress.ts.

import { fork, type ChildProcess } from 'node:child_process';
import { basename } from 'node:path';
import type { AnalysisAnswer, FromAnalysis, ProcessAnalyzeOptions, ToAnalysis } from './protocol';
import { classifyEnd, limitReport, type AnalysisLimits, type LimitKind, type ProcessEnd } from './limits';
import { appendAnswer } from './append';

export class AnalysisCancelled extends Error {
  constructor() {
    super('Analysis cancelled');
    this.name = 'AnalysisCancelled';
  }
}

/** An analysis that produced no result: the input's own error, or a limit of the process. */
export class AnalysisFailed extends Error {
  constructor(
    message: string,
    /** 'input': the readers' or the engine's error; else the limit that ended the process. */
    readonly kind: 'input' | LimitKind,
    /** A title for the error view. */
    readonly title: string,
  ) {
    super(message);
    this.name = 'AnalysisFailed';
  }
}

export interface RequestCallbacks {
  onProgress?(fraction: number, message: string): void;
  /** A first analysis of part of the input, while the rest is read (the promise resolves with the final one). */
  onPartial?(answer: AnalysisAnswer): void;
}

interface Pending extends RequestCallbacks {
  resolve(a: AnalysisAnswer): void;
  reject(e: Error): void;
  target: string;
  started: number;
  timer: ReturnType<typeof setTimeout>;
}

const STDERR_KEEP = 16 * 1024;

export class AnalysisProcess {
  private child: ChildProcess | null;
  private pending: Pending | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private timedOut = false;
  private stderr = '';
  private lastProgress: { fraction: number; message: string } | null = null;
  private target = 'the input';
  /** The last (final) answer: what a fast tail answer ('append') extends. */
  private last: AnalysisAnswer | null = null;

  constructor(
    modulePath: string,
    readonly limits: AnalysisLimits,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.child = fork(modulePath, [], {
      // Not the extension host's own execArgv (an --inspect port would collide): only the heap ceiling.
      execArgv: [`--max-old-space-size=${Math.round(limits.memoryLimitMb)}`],
      // In desktop VS Code process.execPath is Electron: run it as plain Node (as vscode-languageclient does).
      env: { ...env, ELECTRON_RUN_AS_NODE: '1' },
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (s: string) => {
      this.stderr = (this.stderr + s).slice(-STDERR_KEEP);
    });
    this.child.on('message', (m: FromAnalysis) => this.onMessage(m));
    this.child.on('error', (e) => this.onEnd(null, null, e.message));
    this.child.on('exit', (code, signal) => this.onEnd(code, signal));
  }

  /** The process is running (a follower answers 'tail' requests while alive). */
  get alive(): boolean {
    return this.child !== null;
  }

  /** Process id (tests check that a cancelled or failed process is gone). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  analyze(paths: string[], options: ProcessAnalyzeOptions, follow: boolean, callbacks: RequestCallbacks = {}): Promise<AnalysisAnswer> {
    const target = paths.length === 1 ? basename(paths[0]) || paths[0] : `${paths.length} inputs`;
    return this.request({ kind: 'analyze', paths, options, follow }, target, callbacks);
  }

  /** Read what the followed input appended and answer (follow mode only); `full`: a whole-run pass. */
  tail(full = false): Promise<AnalysisAnswer> {
    return this.request({ kind: 'tail', full }, this.target, {});
  }

  /** Stops the process; a pending request rejects with AnalysisCancelled. */
  cancel(): void {
    if (this.stopped) return;
    this.stopped = true;
    const p = this.pending;
    this.pending = null;
    if (p) {
      clearTimeout(p.timer);
      p.reject(new AnalysisCancelled());
    }
    this.child?.kill('SIGKILL');
  }

  dispose(): void {
    this.cancel();
  }

  private request(message: ToAnalysis, target: string, callbacks: RequestCallbacks): Promise<AnalysisAnswer> {
    const run = () =>
      new Promise<AnalysisAnswer>((resolve, reject) => {
        if (this.stopped) return reject(new AnalysisCancelled());
        if (!this.child) return reject(new AnalysisFailed('the analysis process is not running', 'crash', `Cannot analyze ${target}`));
        this.target = target;
        this.lastProgress = null;
        const timer = setTimeout(() => {
          this.timedOut = true;
          this.child?.kill('SIGKILL');
        }, this.limits.timeoutSeconds * 1000);
        this.pending = { resolve, reject, target, started: Date.now(), timer, ...callbacks };
        this.child.send(message);
      });
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private onMessage(m: FromAnalysis): void {
    const p = this.pending;
    if (!p) return;
    if (m.kind === 'progress') {
      this.lastProgress = { fraction: m.fraction, message: m.message };
      p.onProgress?.(m.fraction, m.message);
      return;
    }
    if (m.kind === 'answer' && m.partial) {
      p.onPartial?.(m);
      return;
    }
    this.pending = null;
    clearTimeout(p.timer);
    if (m.kind === 'error') return p.reject(new AnalysisFailed(m.message, 'input', `Cannot analyze ${p.target}`));
    if (m.kind === 'answer') {
      const { kind: _kind, ...answer } = m;
      this.last = answer;
    } else if (!this.last)
      return p.reject(new AnalysisFailed(`a '${m.kind}' answer before any analysis`, 'crash', `Cannot analyze ${p.target}`));
    else if (m.kind === 'append') this.last = { ...appendAnswer(this.last, m.fresh, m.facts), held: m.held === true };
    else this.last = { ...this.last, newRecords: false, appended: false, held: m.held === true };
    p.resolve(this.last);
  }

  private onEnd(code: number | null, signal: NodeJS.Signals | null, spawnError?: string): void {
    if (!this.child) return;
    this.child = null;
    const p = this.pending;
    this.pending = null;
    if (!p) return;
    clearTimeout(p.timer);
    if (this.stopped) return p.reject(new AnalysisCancelled());
    const end: ProcessEnd = { timedOut: this.timedOut, code, signal, stderr: spawnError ?? this.stderr };
    const kind = classifyEnd(end);
    const report = limitReport(kind, p.target, this.limits, this.lastProgress, Date.now() - p.started, end);
    p.reject(new AnalysisFailed(report.message, kind, report.title));
  }
}
