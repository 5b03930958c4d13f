// The palette commands (category "Optimizer Lens"), one file each. Every command takes optional arguments
// so tests and other features run it without pickers: analyzeFile(uri), analyzeFolder(uri),
// openDashboard(uri), compareRuns([uri, uri]), explainLearningRate({lr, scale}), exportReport(targetUri),
// insertLoggingSnippet(snippetId). Heavy modules (snippets, config scanner, report) load on first use; the
// readers and the engine only ever run in the analysis process.

import * as vscode from 'vscode';
import type { WebviewState } from '../../shared/protocol';
import { analyzeFile } from './analyzeFile';
import { analyzeFolder } from './analyzeFolder';
import { compareInPanel, compareRuns } from './compareRuns';
import { explainInPanel, explainLearningRate } from './explainLearningRate';
import { exportReport } from './exportReport';
import { insertLoggingSnippet } from './insertLoggingSnippet';
import { openDashboard } from './openDashboard';
import { analyzeInPanel } from './panels';

export { PANEL_VIEW_TYPE } from './panels';

type Command = (context: vscode.ExtensionContext, ...args: never[]) => unknown;

const COMMANDS: Record<string, Command> = {
  'optimizerLens.analyzeFile': analyzeFile,
  'optimizerLens.analyzeFolder': analyzeFolder,
  'optimizerLens.openDashboard': openDashboard,
  'optimizerLens.compareRuns': compareRuns,
  'optimizerLens.explainLearningRate': explainLearningRate,
  'optimizerLens.exportReport': exportReport,
  'optimizerLens.insertLoggingSnippet': insertLoggingSnippet,
};

export function registerCommands(context: vscode.ExtensionContext): vscode.Disposable[] {
  return Object.entries(COMMANDS).map(([id, run]) =>
    vscode.commands.registerCommand(id, (...args: unknown[]) =>
      (run as (c: vscode.ExtensionContext, ...a: unknown[]) => unknown)(context, ...args),
    ),
  );
}

/** Re-open a panel after a window reload from what its webview kept in state (registerWebviewPanelSerializer). */
export async function restorePanel(
  context: vscode.ExtensionContext,
  panel: vscode.WebviewPanel,
  state: WebviewState | undefined,
): Promise<void> {
  const source = state?.source;
  if (!source) return panel.dispose();
  const uris = source.kind === 'explain' ? [] : source.paths.map((p) => vscode.Uri.file(p));
  if (source.kind === 'analyze') await analyzeInPanel(context, uris, source.title, panel);
  else if (source.kind === 'compare') await compareInPanel(context, uris, panel);
  else await explainInPanel(context, source.lr, source.scale, null, null, 'restored', panel);
}
