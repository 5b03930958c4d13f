// The webview panels (viewType optimizerLens.panel) of Analyze File…/Analyze Folder… (inputs the custom
// editor does not open), Compare Runs… and Explain Learning Rate…, and their restoration after a window reload.

import * as vscode from 'vscode';
import { MessageType, type PanelSource } from '../../shared/protocol';
import { LiveAnalysis } from '../liveAnalysis';
import { DashboardWebview, type WebviewHandlers } from '../webviewHost';

/** viewType of the panels of Analyze Folder…, Compare Runs… and Explain Learning Rate…. */
export const PANEL_VIEW_TYPE = 'optimizerLens.panel';

export function createPanel(
  context: vscode.ExtensionContext,
  title: string,
  handlers: WebviewHandlers = {},
  restored?: vscode.WebviewPanel,
  /** Open without taking the focus, saying this until the first message (a panel opened before a dialog). */
  pending?: { loading: string },
): DashboardWebview {
  const panel =
    restored ??
    vscode.window.createWebviewPanel(
      PANEL_VIEW_TYPE,
      `Optimizer Lens: ${title}`,
      { viewColumn: vscode.ViewColumn.Active, preserveFocus: pending !== undefined },
      {
        enableScripts: true,
        localResourceRoots: [vscode.Uri.joinPath(context.extensionUri, 'dist'), vscode.Uri.joinPath(context.extensionUri, 'media')],
      },
    );
  if (restored) panel.title = `Optimizer Lens: ${title}`;
  return new DashboardWebview(panel, context.extensionUri, title, handlers, pending?.loading);
}

/**
 * A panel opened as its input's dialog opens, so that its page loads while the user picks: a first webview in a
 * fresh window starts loading its page ≈ 3.5 s after the panel is created (the e2e trace in code-server), longer
 * than reading the first part of a 291-tensor log takes. `analyzeInPanel` takes it over once the input is chosen;
 * the caller disposes it when the dialog is cancelled.
 */
export function openPanelForDialog(context: vscode.ExtensionContext, loading: string): DashboardWebview {
  return createPanel(context, 'choose a run', {}, undefined, { loading });
}

/**
 * The dashboard of `uris` in a panel, kept up to date while a followed log grows. The panel opens at once
 * ("Analyzing…", the progress notification with its Cancel beside it) and loads its page while the analysis
 * reads, so the first view waits for the first partial answer or the page, whichever is later, not for one
 * after the other (the 291-tensor log: the answer ≈ 0.4 s after the analysis process starts). Closing the
 * panel cancels the analysis; cancelling it before anything was shown closes the panel.
 */
export async function analyzeInPanel(
  context: vscode.ExtensionContext,
  uris: vscode.Uri[],
  title: string,
  restored?: vscode.WebviewPanel,
  /** The panel opened with the dialog that chose `uris` (openPanelForDialog), unless the user closed it. */
  opened?: DashboardWebview,
): Promise<void> {
  const paths = uris.map((u) => u.fsPath);
  const live = new LiveAnalysis(context.extensionUri, paths, title, false);
  let view: DashboardWebview;
  if (opened && !opened.closed) {
    view = opened;
    view.title = title;
    view.panel.title = `Optimizer Lens: ${title}`;
    view.panel.reveal(undefined, false);
    view.show({ type: MessageType.ShowStatus, text: `Analyzing ${title}…` });
  } else view = createPanel(context, title, {}, restored);
  // (disposing the analysis also ends the view's subscription to it: live.connect listens on its emitter)
  const closed = new Promise<'closed'>((resolve) =>
    view.panel.onDidDispose(() => {
      live.dispose();
      resolve('closed');
    }),
  );
  if ((await Promise.race([live.start(), closed])) === 'closed') return;
  if (live.error?.cancelled && !live.answer) {
    view.panel.dispose();
    return;
  }
  const source: PanelSource = { kind: 'analyze', paths, title };
  live.connect(view, source);
}
