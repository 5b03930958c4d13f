// The read-only custom editor "Optimizer Lens Dashboard" (viewTypes optimizerLens.dashboard and
// optimizerLens.logDashboard). openCustomDocument starts the analysis (liveAnalysis.ts: an analysis process
// behind a cancellable progress notification) and returns as soon as there is something to show — for a
// large log, a first view of what is read so far; resolveCustomEditor only renders and re-renders on change.

import * as vscode from 'vscode';
import { basename } from 'node:path';
import { LiveAnalysis } from './liveAnalysis';
import { DashboardWebview } from './webviewHost';
import { DASHBOARD_VIEW_TYPE, LOG_DASHBOARD_VIEW_TYPE } from './runFiles';

export class DashboardDocument implements vscode.CustomDocument {
  readonly live: LiveAnalysis;

  constructor(
    readonly uri: vscode.Uri,
    extensionUri: vscode.Uri,
  ) {
    this.live = new LiveAnalysis(extensionUri, [uri.fsPath], basename(uri.fsPath), uri.scheme === 'file');
  }

  dispose(): void {
    this.live.dispose();
  }
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

  async openCustomDocument(
    uri: vscode.Uri,
    _ctx: vscode.CustomDocumentOpenContext,
    token: vscode.CancellationToken,
  ): Promise<DashboardDocument> {
    const document = new DashboardDocument(uri, this.context.extensionUri);
    await document.live.start(token);
    return document;
  }

  async resolveCustomEditor(document: DashboardDocument, panel: vscode.WebviewPanel): Promise<void> {
    const view = new DashboardWebview(panel, this.context.extensionUri, basename(document.uri.fsPath));
    const sub = document.live.connect(view);
    panel.onDidDispose(() => sub.dispose());
  }
}
