// One webview (custom editor or panel) showing the dashboard bundle: HTML with the strict CSP,
// Ready handshake, messages from the webview, and a registry of open views (Export Report uses the
// active one).

import * as vscode from 'vscode';
import {
  MessageType,
  parseFromWebview,
  type DashboardDelta,
  type FromWebviewMessage,
  type PostReason,
  type ToWebviewMessage,
} from '../shared/protocol';
import { PostFlow } from './postFlow';
import { toWire } from './wire';
import { renderWebviewHtml } from './webviewHtml';

export function getWebviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions & vscode.WebviewPanelOptions {
  return {
    enableScripts: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media')],
  };
}

export interface WebviewHandlers {
  onExplainRequest?(lr: number, scale: number | null): void;
}

const hosts = new Set<DashboardWebview>();
let lastActive: DashboardWebview | null = null;
/** The dashboard the user last focused (Export Report exports it). */
function markActive(host: DashboardWebview): void {
  lastActive = host;
}

/** The dashboard webview the user looked at last (for Export Report without arguments). */
export function activeDashboardWebview(): DashboardWebview | null {
  if (lastActive && hosts.has(lastActive)) return lastActive;
  return [...hosts].pop() ?? null;
}

export function allDashboardWebviews(): DashboardWebview[] {
  return [...hosts];
}

export class DashboardWebview implements vscode.Disposable {
  private ready = false;
  private current: ToWebviewMessage | null = null;
  /** One message in flight; what arrives meanwhile waits, merged (a followed log refreshes faster than a busy transport delivers). */
  private readonly flow = new PostFlow((m, via) => this.send(m, via));
  private readonly disposables: vscode.Disposable[] = [];
  /** Resolves when the webview has posted Ready (used by tests and commands that wait for the view). */
  readonly whenReady: Promise<void>;
  private markReady!: () => void;

  constructor(
    readonly panel: vscode.WebviewPanel,
    private readonly extensionUri: vscode.Uri,
    public title: string,
    private readonly handlers: WebviewHandlers = {},
    /** What the page says until the first message (default "Analyzing…"). */
    loading?: string,
  ) {
    this.whenReady = new Promise((r) => (this.markReady = r));
    const webview = panel.webview;
    webview.options = getWebviewOptions(extensionUri);
    webview.html = renderWebviewHtml({
      cspSource: webview.cspSource,
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview.js')).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', 'dashboard.css')).toString(),
      title,
      ...(loading ? { loading } : {}),
    });
    this.disposables.push(
      webview.onDidReceiveMessage((raw: unknown) => {
        const m = parseFromWebview(raw);
        if (m) this.onMessage(m);
      }),
      panel.onDidChangeViewState((e) => {
        if (e.webviewPanel.active) markActive(this);
      }),
      panel.onDidDispose(() => {
        this.closed = true;
        this.dispose();
      }),
    );
    hosts.add(this);
    markActive(this);
  }

  /** The user closed the panel. */
  closed = false;

  /** The message the view shows now (Export Report renders it). */
  get message(): ToWebviewMessage | null {
    return this.current;
  }

  /** Show `message`; `delta`: what a view showing the previous message needs to show this one (posted instead). */
  show(message: ToWebviewMessage, delta?: DashboardDelta): void {
    this.current = message;
    if (this.ready) this.flow.post(delta ?? message, message);
    else if (message.type === MessageType.ShowAnalysis) this.beforeReady ??= message;
  }

  /**
   * The first message shown before the page was ready. When more came after it (a large log read whole
   * while the page started), it goes first: a partial view is small, the whole run of a 291-tensor × 2,000-step
   * log ~17 MB, which took 2.4 s from postMessage to the page in code-server (the e2e first-view trace).
   */
  private beforeReady: ToWebviewMessage | null = null;

  dispose(): void {
    this.flow.dispose();
    hosts.delete(this);
    if (lastActive === this) lastActive = null;
    for (const d of this.disposables.splice(0)) d.dispose();
  }

  private send(message: ToWebviewMessage, via: PostReason): void {
    const t0 = Date.now();
    const wire = toWire(message);
    if ('trace' in wire && wire.trace) wire.trace = { ...wire.trace, posted: Date.now(), packMs: Date.now() - t0, via };
    void this.panel.webview.postMessage(wire);
  }

  private onMessage(m: FromWebviewMessage): void {
    switch (m.type) {
      case MessageType.Ready:
        this.ready = true;
        this.markReady();
        this.flow.reset();
        if (this.beforeReady && this.beforeReady !== this.current && this.beforeReady.type === MessageType.ShowAnalysis)
          this.flow.post(this.beforeReady, this.beforeReady, 'ready');
        this.beforeReady = null;
        if (this.current) this.flow.post(this.current, this.current, 'ready');
        break;
      case MessageType.Received:
        this.flow.received();
        break;
      case MessageType.InsertLoggingSnippet:
        void vscode.commands.executeCommand('optimizerLens.insertLoggingSnippet');
        break;
      case MessageType.ExportReport:
        markActive(this);
        void vscode.commands.executeCommand('optimizerLens.exportReport');
        break;
      case MessageType.OpenFile: {
        const uri = vscode.Uri.file(m.path);
        const line = m.line && m.line > 0 ? m.line - 1 : 0;
        void vscode.window.showTextDocument(uri, { selection: new vscode.Range(line, 0, line, 0), viewColumn: vscode.ViewColumn.Beside });
        break;
      }
      case MessageType.ExplainRequest:
        this.handlers.onExplainRequest?.(m.lr, m.scale);
        break;
    }
  }
}
