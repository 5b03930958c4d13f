// The read-only custom editor "Optimizer Lens Dashboard" (viewType optimizerLens.dashboard).
// openCustomDocument parses in the worker (progress notification with cancel) and keeps the model on
// the document; resolveCustomEditor only renders. A watcher on the file re-analyzes when it grows:
// JSONL/TensorBoard logs through the worker's tail readers (only new bytes are read), other files
// by reading them again.

import * as vscode from 'vscode';
import { basename } from 'node:path';
import type { RunAnalysis } from '../core/analysis';
import { MessageType, type InputFacts, type ShowAnalysisMessage, type ToWebviewMessage } from '../shared/protocol';
import { AnalysisCancelled, AnalysisSession, analyzeWithProgress } from './analysisSession';
import { readAnalyzeOptions, readDashboardSettings } from './settings';
import { DashboardWebview } from './webviewHost';
import { DASHBOARD_VIEW_TYPE, LOG_DASHBOARD_VIEW_TYPE } from './runFiles';

export { DASHBOARD_VIEW_TYPE, LOG_DASHBOARD_VIEW_TYPE, dashboardViewTypeFor } from './runFiles';

/** Files the dashboard follows as they grow (read incrementally). */
export function isTailable(path: string): boolean {
  const name = basename(path);
  return /\.(jsonl|ndjson)$/i.test(name) || /^events\.out\.tfevents\./.test(name);
}

export class DashboardDocument implements vscode.CustomDocument {
  analysis: RunAnalysis | null = null;
  totalSteps = 0;
  facts: InputFacts | undefined;
  error: { message: string; cancelled: boolean } | null = null;
  private session: AnalysisSession | null = null;
  private watcher: vscode.FileSystemWatcher | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private refreshing: Promise<void> | null = null;
  private readonly changed = new vscode.EventEmitter<{ update: boolean }>();
  /** Fires when the analysis changes (live tail) — the editors re-render. */
  readonly onDidChange = this.changed.event;

  constructor(
    readonly uri: vscode.Uri,
    private readonly workerPath: string,
  ) {}

  /** Followed incrementally as it grows (JSONL / TensorBoard); other files are re-read when they change. */
  get live(): boolean {
    return this.watcher !== null && this.session !== null;
  }

  async load(token?: vscode.CancellationToken): Promise<void> {
    const path = this.uri.fsPath;
    const tail = isTailable(path);
    try {
      const { result, session } = await analyzeWithProgress(this.workerPath, [path], readAnalyzeOptions(), `analyzing ${basename(path)}`, {
        tail,
        token,
      });
      this.analysis = result.analysis;
      this.totalSteps = result.totalSteps;
      this.facts = result.facts;
      this.session = result.tailing ? session : null;
      this.error = null;
    } catch (e) {
      this.error = { message: (e as Error).message, cancelled: e instanceof AnalysisCancelled };
      return;
    }
    if (this.uri.scheme === 'file') this.watch();
  }

  /** Re-read after a change: new bytes only in tail mode, else the whole file (in a new worker). */
  refresh(): Promise<void> {
    if (this.refreshing) return this.refreshing;
    this.refreshing = (async () => {
      try {
        if (this.session?.alive) {
          const r = await this.session.tail();
          this.analysis = r.analysis;
          this.totalSteps = r.totalSteps;
          this.facts = r.facts;
        } else {
          const session = new AnalysisSession(this.workerPath);
          try {
            const r = await session.analyze([this.uri.fsPath], readAnalyzeOptions(), false);
            this.analysis = r.analysis;
            this.totalSteps = r.totalSteps;
            this.facts = r.facts;
          } finally {
            session.dispose();
          }
        }
        this.error = null;
        this.changed.fire({ update: true });
      } catch (e) {
        if (!(e instanceof AnalysisCancelled)) {
          // Keep showing the last good analysis; a half-written file is normal while training writes it.
          console.warn(`Optimizer Lens: re-reading ${this.uri.fsPath} failed: ${(e as Error).message}`);
        }
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  message(): ToWebviewMessage {
    if (!this.analysis) {
      return {
        type: MessageType.ShowError,
        title: this.error?.cancelled ? 'Analysis cancelled' : `Cannot analyze ${basename(this.uri.fsPath)}`,
        message: this.error?.message ?? 'No analysis.',
        cancelled: this.error?.cancelled,
      };
    }
    return showAnalysisMessage(basename(this.uri.fsPath), this.analysis, {
      live: this.live,
      totalSteps: this.totalSteps,
      facts: this.facts,
    });
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.watcher?.dispose();
    this.watcher = null;
    this.session?.dispose();
    this.session = null;
    this.changed.dispose();
  }

  private watch(): void {
    const dir = vscode.Uri.joinPath(this.uri, '..');
    this.watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(dir, basename(this.uri.fsPath)), true, false, true);
    const schedule = () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => void this.refresh(), 300);
    };
    this.watcher.onDidChange(schedule);
  }
}

export function showAnalysisMessage(title: string, analysis: RunAnalysis, extra: Partial<ShowAnalysisMessage> = {}): ShowAnalysisMessage {
  return { type: MessageType.ShowAnalysis, title, analysis, settings: readDashboardSettings(), ...extra };
}

export class DashboardEditorProvider implements vscode.CustomReadonlyEditorProvider<DashboardDocument> {
  constructor(private readonly context: vscode.ExtensionContext) {}

  static register(context: vscode.ExtensionContext): vscode.Disposable[] {
    const provider = new DashboardEditorProvider(context);
    // State lives in the webview's getState/setState: no retainContextWhenHidden.
    const options = { supportsMultipleEditorsPerDocument: true };
    return [
      vscode.window.registerCustomEditorProvider(DASHBOARD_VIEW_TYPE, provider, options),
      vscode.window.registerCustomEditorProvider(LOG_DASHBOARD_VIEW_TYPE, provider, options),
    ];
  }

  get workerPath(): string {
    return vscode.Uri.joinPath(this.context.extensionUri, 'dist', 'worker.js').fsPath;
  }

  async openCustomDocument(
    uri: vscode.Uri,
    _ctx: vscode.CustomDocumentOpenContext,
    token: vscode.CancellationToken,
  ): Promise<DashboardDocument> {
    const document = new DashboardDocument(uri, this.workerPath);
    await document.load(token);
    return document;
  }

  async resolveCustomEditor(document: DashboardDocument, panel: vscode.WebviewPanel): Promise<void> {
    const view = new DashboardWebview(panel, this.context.extensionUri, basename(document.uri.fsPath));
    view.show(document.message());
    const sub = document.onDidChange(({ update }) => {
      const m = document.message();
      view.show(m.type === MessageType.ShowAnalysis ? { ...m, update } : m);
    });
    panel.onDidDispose(() => sub.dispose());
  }
}
