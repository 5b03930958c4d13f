// The webview panels (viewType optimizerLens.panel) of Analyze File…/Analyze Folder… (inputs the custom
// editor does not open), Compare Runs… and Explain Learning Rate…, and their restoration after a window reload.

import * as vscode from 'vscode';
import type { PanelSource } from '../../shared/protocol';
import { LiveAnalysis } from '../liveAnalysis';
import { DashboardWebview, type WebviewHandlers } from '../webviewHost';

/** viewType of the panels of Analyze Folder…, Compare Runs… and Explain Learning Rate…. */
export const PANEL_VIEW_TYPE = 'optimizerLens.panel';

export function createPanel(
  context: vscode.ExtensionContext,
  title: string,
  handlers: WebviewHandlers = {},
  restored?: vscode.WebviewPanel,
): DashboardWebview {
  const panel =
    restored ??
    vscode.window.createWebviewPanel(PANEL_VIEW_TYPE, `Optimizer Lens: ${title}`, vscode.ViewColumn.Active, {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(context.extensionUri, 'dist'), vscode.Uri.joinPath(context.extensionUri, 'media')],
    });
  if (restored) panel.title = `Optimizer Lens: ${title}`;
  return new DashboardWebview(panel, context.extensionUri, title, handlers);
}

/**
 * The dashboard of `uris` in a panel, opened as soon as there is something to show (a first partial view
 * of a large log, the analysis, or its error) and kept up to date while a followed log grows.
 */
export async function analyzeInPanel(
  context: vscode.ExtensionContext,
  uris: vscode.Uri[],
  title: string,
  restored?: vscode.WebviewPanel,
): Promise<void> {
  const paths = uris.map((u) => u.fsPath);
  const live = new LiveAnalysis(context.extensionUri, paths, title, false);
  await live.start();
  if (live.error?.cancelled && !live.answer) {
    live.dispose();
    restored?.dispose();
    return;
  }
  const source: PanelSource = { kind: 'analyze', paths, title };
  const view = createPanel(context, title, {}, restored);
  const sub = live.connect(view, source);
  view.panel.onDidDispose(() => {
    sub.dispose();
    live.dispose();
  });
}
