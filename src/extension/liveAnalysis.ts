// What one dashboard shows and keeps up to date: the analysis of its inputs (a first partial view while a
// large log is still read, then the whole), and — for a log the analysis process follows — the refresh when
// the file grows (only the appended bytes are read). Used by the custom editor's documents and by the
// Analyze File / Analyze Folder panels.

import * as vscode from 'vscode';
import { basename } from 'node:path';
import {
  baseOf,
  MessageType,
  type AppendStepsMessage,
  type DashboardDelta,
  type MessageTrace,
  type PanelSource,
  type ReviseRunMessage,
  type ToWebviewMessage,
} from '../shared/protocol';
import { revisionOf } from '../shared/reviseAnalysis';
import { AnalysisCancelled, AnalysisFailed, type AnalysisProcess } from './analysis/client';
import type { AnalysisAnswer } from './analysis/protocol';
import type { RunAnalysis } from '../core/analysis';
import { analyzeWithProgress, newAnalysisProcess } from './analysis/progress';
import { readAnalyzeOptions, readDashboardSettings } from './settings';
import type { DashboardWebview } from './webviewHost';

/** A change the views re-render: `update` keeps the user's selection (a live refresh). */
export interface LiveChange {
  update: boolean;
  /**
   * What a view showing the previous state needs: the new steps (AppendSteps), or what a whole-run pass
   * changed (ReviseRun).
   */
  delta?: DashboardDelta;
}

/** Wait this long after a change event before reading (a writer appends in bursts: one read per burst). */
const REFRESH_DEBOUNCE_MS = 300;
/**
 * After a fast refresh (new steps appended, findings not re-evaluated), a whole-run pass runs once the log
 * has been quiet this long, and at the latest this long after the first fast refresh (a log that never pauses).
 */
const QUIET_MS = 2000;
const MAX_STALE_MS = 30_000;
/**
 * A read that left a partial last step for the next one (AnalysisAnswer.held) is followed by another this
 * long after, when no change event brings one sooner: a writer that stopped mid-step gets its step shown.
 */
const HELD_RECHECK_MS = 1000;
/** A finished whole-run pass reads what was appended meanwhile in up to this many tails, until one takes < CAUGHT_UP_MS. */
const CATCH_UP_ROUNDS = 3;
const CAUGHT_UP_MS = 300;

export class LiveAnalysis implements vscode.Disposable {
  answer: AnalysisAnswer | null = null;
  error: { title: string; message: string; cancelled: boolean } | null = null;
  /** Reading stopped after a partial view was shown (cancelled, or a limit): what is shown is a prefix. */
  private stoppedAt: number | null = null;
  private follower: AnalysisProcess | null = null;
  private watcher: vscode.FileSystemWatcher | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private fullTimer: ReturnType<typeof setTimeout> | undefined;
  private heldTimer: ReturnType<typeof setTimeout> | undefined;
  /** When the pending whole-run pass must run at the latest (null: none pending). */
  private fullDue: number | null = null;
  private refreshing = false;
  /** When the last live refresh asked for and got its answer (the webview's trace records the rest). */
  private trace: MessageTrace | null = null;
  private dirty = false;
  /** The whole-run pass running beside the follower, and the process of one that is done (it follows next). */
  private pass: AnalysisProcess | null = null;
  private swap: AnalysisProcess | null = null;
  private disposed = false;
  private readonly cancel = new vscode.CancellationTokenSource();
  private readonly changed = new vscode.EventEmitter<LiveChange>();
  /** Fires when what the views show changes (the final analysis after a partial one, a live refresh). */
  readonly onDidChange = this.changed.event;

  constructor(
    private readonly extensionUri: vscode.Uri,
    readonly paths: string[],
    /** The name the header and messages use (a file name, or "folder/"). */
    readonly name: string,
    /** Re-read the whole input when its file changes (a checkpoint rewritten in place); logs are followed instead. */
    private readonly rereadOnChange: boolean,
  ) {}

  /** The input is followed as it grows (a JSONL or TensorBoard log). */
  get live(): boolean {
    return this.follower !== null && this.watcher !== null;
  }

  /** Resolves as soon as there is something to show: a first partial analysis, the final one, or the error. */
  start(token?: vscode.CancellationToken): Promise<void> {
    const requested = Date.now();
    return new Promise<void>((resolve) => {
      let shown = false;
      const show = () => {
        // The first view is traced like a live refresh (webview/trace.ts): asked, answered, posted, painted.
        this.trace ??= { requested, answered: Date.now() };
        if (!shown) {
          shown = true;
          resolve();
        } else if (!this.disposed) this.changed.fire({ update: false });
      };
      analyzeWithProgress(this.extensionUri, `analyzing ${this.name}`, [{ label: this.name, paths: this.paths }], {
        follow: true,
        tokens: [token, this.cancel.token],
        onPartial: (_, a) => {
          this.answer = a;
          show();
        },
      }).then(
        ({ answers, follower }) => {
          if (this.disposed) return follower?.dispose();
          this.answer = answers[0];
          this.follower = follower;
          this.error = null;
          this.watch();
          if (answers[0].held) this.recheckHeld();
          show();
        },
        (e: unknown) => {
          if (this.disposed) return;
          if (this.answer?.partial) this.stoppedAt = this.answer.partial.fraction;
          this.error = errorView(this.name, e);
          show();
        },
      );
    });
  }

  message(source?: PanelSource): ToWebviewMessage {
    const a = this.answer;
    if (!a) {
      const e = this.error ?? { title: `Cannot analyze ${this.name}`, message: 'No analysis.', cancelled: false };
      return { type: MessageType.ShowError, title: e.title, message: e.message, cancelled: e.cancelled };
    }
    if (a.runs && a.runs.length > 1) {
      // Separate runs: each analyzed alone, the view picks one or compares them (not followed as they grow).
      return {
        type: MessageType.ShowRuns,
        title: this.name,
        runs: a.runs,
        settings: readDashboardSettings(),
        live: false,
        ...(source ? { source } : {}),
      };
    }
    const pct = (f: number) => `${Math.floor(f * 100)}%`;
    let title = this.name;
    let analysis = a.analysis;
    if (this.stoppedAt !== null && this.error) {
      // A prefix of the input stays on screen: say so where the reading problems are listed.
      title = `${this.name} — ${pct(this.stoppedAt)} read`;
      const issue = {
        severity: 'warning' as const,
        path: this.paths[0],
        message: `${this.error.message} (reading stopped at ${pct(this.stoppedAt)})`,
      };
      analysis = { ...analysis, result: { ...analysis.result, issues: [...analysis.result.issues, issue] } };
    } else if (a.partial) title = `${this.name} — reading, ${pct(a.partial.fraction)} so far`;
    return {
      type: MessageType.ShowAnalysis,
      title,
      analysis,
      settings: readDashboardSettings(),
      live: this.live,
      totalSteps: a.totalSteps,
      facts: a.facts,
      ...(source ? { source } : {}),
      ...(this.trace ? { trace: this.trace } : {}),
    };
  }

  /**
   * Show this analysis in `view` and keep it up to date: the whole dashboard when it changes, only the new
   * steps when a followed log grew and only what changed after a whole-run pass of it (a 291-tensor × 2,000-step
   * dashboard is ~17 MB of packed series; one step's records are ~10 KB). The view keeps the whole state for a
   * webview that asks again (Ready).
   */
  connect(view: DashboardWebview, source?: PanelSource): vscode.Disposable {
    view.show(this.message(source));
    return this.onDidChange(({ update, delta }) => {
      const m = this.message(source);
      view.show(m.type === MessageType.ShowAnalysis ? { ...m, update } : m, delta);
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    clearTimeout(this.timer);
    clearTimeout(this.fullTimer);
    clearTimeout(this.heldTimer);
    this.cancel.cancel();
    this.cancel.dispose();
    this.watcher?.dispose();
    this.watcher = null;
    this.follower?.dispose();
    this.follower = null;
    this.pass?.dispose();
    this.swap?.dispose();
    this.pass = this.swap = null;
    this.changed.dispose();
  }

  /** What a view showing `prev` needs to show `next`: the new records' analysis (`fresh`) alone. */
  private appendMessage(prev: AnalysisAnswer, next: AnalysisAnswer, fresh: RunAnalysis): AppendStepsMessage {
    return {
      type: MessageType.AppendSteps,
      base: baseOf(prev.analysis.result.steps),
      fresh,
      title: this.name,
      totalSteps: next.totalSteps,
      facts: next.facts,
      ...(this.trace ? { trace: this.trace } : {}),
    };
  }

  /**
   * What a view showing `prev` needs to show the whole-run pass `next`: its analysis with only the series points
   * that `prev` lacks (null: the whole state goes instead).
   */
  private reviseMessage(prev: AnalysisAnswer, next: AnalysisAnswer): ReviseRunMessage | null {
    const analysis = revisionOf(prev.analysis, next.analysis);
    if (!analysis) return null;
    return {
      type: MessageType.ReviseRun,
      base: baseOf(prev.analysis.result.steps),
      analysis,
      title: this.name,
      totalSteps: next.totalSteps,
      live: this.live,
      facts: next.facts,
      ...(this.trace ? { trace: this.trace } : {}),
    };
  }

  /** Watch the followed log (or, for a re-read input, the file itself) for changes. */
  private watch(): void {
    const file = this.answer?.followed ?? (this.rereadOnChange && this.paths.length === 1 ? this.paths[0] : null);
    if (!file || this.watcher) return;
    const uri = vscode.Uri.file(file);
    this.watcher = vscode.workspace.createFileSystemWatcher(
      new vscode.RelativePattern(vscode.Uri.joinPath(uri, '..'), basename(file)),
      true,
      false,
      true,
    );
    this.watcher.onDidChange(() => {
      // The first change of a burst starts the wait and later ones join it: restarting it on every event
      // would never read a log that is appended to more often than the wait (every 125 ms at 1 MB/s).
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        void this.refresh();
      }, REFRESH_DEBOUNCE_MS);
      if (this.fullDue !== null) this.scheduleFullPass();
    });
  }

  /** Read again soon: the last read left a partial step (a change event that comes first reads it anyway). */
  private recheckHeld(): void {
    clearTimeout(this.heldTimer);
    this.heldTimer = setTimeout(() => {
      this.heldTimer = undefined;
      void this.refresh();
    }, HELD_RECHECK_MS);
  }

  /** The whole-run pass after fast refreshes: when the log is quiet, or when it has waited MAX_STALE_MS. */
  private scheduleFullPass(): void {
    this.fullDue ??= Date.now() + MAX_STALE_MS;
    clearTimeout(this.fullTimer);
    this.fullTimer = setTimeout(() => void this.refresh(true), Math.max(0, Math.min(QUIET_MS, this.fullDue - Date.now())));
  }

  /**
   * The whole-run pass of a followed log, in a second analysis process that reads the log afresh and follows
   * it from there: the follower keeps answering fast refreshes meanwhile (the pass takes 2-3.5 s on a 2-core
   * machine for a 291-tensor × 2,000-step log, 5-8 s beside VS Code and a browser, and blocked every refresh
   * while it ran in the follower). When it is done and has read what was appended meanwhile, the new process
   * replaces the follower (refresh: `swap`).
   */
  private startFullPass(): void {
    clearTimeout(this.fullTimer);
    this.fullDue = null;
    if (this.pass) return;
    const proc = newAnalysisProcess(this.extensionUri);
    this.pass = proc;
    const catchUp = async (): Promise<boolean> => {
      const answer = await proc.analyze(this.paths, { ...readAnalyzeOptions(), partial: false }, true);
      if (!answer.followed) return false;
      // What was appended while the pass read and analyzed (seconds of a log written at 1 MB/s) is read here,
      // beside the follower, so that the refresh that swaps processes reads only the last moments: the first
      // read of the new process had been the refresh itself, 3.3-5.6 s in the e2e run.
      for (let round = 0; round < CATCH_UP_ROUNDS && !this.disposed; round++) {
        const started = Date.now();
        await proc.tail();
        if (Date.now() - started < CAUGHT_UP_MS) break;
      }
      return true;
    };
    catchUp().then(
      (followed) => {
        this.pass = null;
        if (this.disposed || !followed) return proc.dispose();
        this.swap?.dispose();
        this.swap = proc;
        void this.refresh();
      },
      () => {
        this.pass = null;
        proc.dispose();
      },
    );
  }

  /**
   * Read what changed: the appended bytes through the follower, or the whole input again in a new process
   * (`full` with a follower: a whole-run pass beside it, see startFullPass). Changes that arrive while a
   * refresh runs are read right after it (never dropped).
   */
  async refresh(full = false): Promise<void> {
    if (full && this.follower?.alive) return this.startFullPass();
    if (this.refreshing) {
      this.dirty = true;
      return;
    }
    this.refreshing = true;
    try {
      do {
        this.dirty = false;
        let answer: AnalysisAnswer;
        let whole = false;
        const requested = Date.now();
        const swap = this.swap;
        this.swap = null;
        if (swap?.alive) {
          // A whole-run pass is done: its process reads what was appended since it read the log, and follows it.
          answer = await swap.tail();
          this.follower?.dispose();
          this.follower = swap;
          whole = true;
        } else if (this.follower?.alive) answer = await this.follower.tail();
        else {
          // Not followed, or the follower ended (a limit): analyze again in a fresh process.
          this.follower?.dispose();
          this.follower = null;
          const proc = newAnalysisProcess(this.extensionUri);
          try {
            answer = await proc.analyze(this.paths, readAnalyzeOptions(), this.answer?.followed != null);
          } catch (e) {
            proc.dispose();
            throw e;
          }
          if (answer.followed) this.follower = proc;
          else proc.dispose();
          whole = true;
        }
        if (this.disposed) return;
        if (answer.held) this.recheckHeld();
        else {
          clearTimeout(this.heldTimer);
          this.heldTimer = undefined;
        }
        if (answer.appended) this.scheduleFullPass();
        // nothing new, and no whole-run pass: the views show it already
        if (answer.newRecords === false && !whole) continue;
        const prev = this.answer;
        const plain = this.stoppedAt === null && !prev?.partial && !prev?.runs && !answer.runs && !answer.partial;
        this.answer = answer;
        this.error = null;
        this.stoppedAt = null;
        this.trace = { requested, answered: Date.now() };
        let delta: DashboardDelta | null = null;
        if (plain && prev && !whole && answer.appended && answer.fresh) delta = this.appendMessage(prev, answer, answer.fresh);
        // Anything else (a whole-run pass, a re-analysis where the new records did not extend what was shown, such
        // as a step split across two reads): what changed since the views' state, the whole state when that cannot say it.
        else if (plain && prev) delta = this.reviseMessage(prev, answer);
        this.changed.fire({ update: true, ...(delta ? { delta } : {}) });
      } while (this.dirty && !this.disposed);
    } catch (e) {
      // Keep showing the last good analysis; a half-written file is normal while training writes it.
      if (!(e instanceof AnalysisCancelled))
        console.warn(`Optimizer Lens: re-reading ${this.paths.join(', ')} failed: ${(e as Error).message}`);
    } finally {
      this.refreshing = false;
    }
  }
}

/** The error view of a failed or cancelled analysis. */
export function errorView(name: string, e: unknown): { title: string; message: string; cancelled: boolean } {
  if (e instanceof AnalysisCancelled)
    return { title: 'Analysis cancelled', message: `The analysis of ${name} was cancelled.`, cancelled: true };
  if (e instanceof AnalysisFailed) return { title: e.title, message: e.message, cancelled: false };
  return { title: `Cannot analyze ${name}`, message: (e as Error)?.message ?? String(e), cancelled: false };
}
