// Analyze File…: a log or checkpoint picked in the file dialog (or given), in the dashboard custom editor
// when it opens that file type, else in a panel.

import * as vscode from 'vscode';
import { basename } from 'node:path';
import { dashboardViewTypeFor, opensInDashboardEditor } from '../runFiles';
import { toUri, type UriLike } from './args';
import { analyzeInPanel } from './panels';

const RUN_FILE_FILTERS: Record<string, string[]> = {
  'Logs and checkpoints': ['jsonl', 'csv', 'json', 'safetensors', 'npz', 'npy', 'pt', 'pth', 'ckpt', 'bin'],
  'All files': ['*'],
};

export async function analyzeFile(context: vscode.ExtensionContext, target?: UriLike): Promise<void> {
  let uri = target ? toUri(target) : undefined;
  if (!uri) {
    const picked = await vscode.window.showOpenDialog({
      canSelectFiles: true,
      canSelectFolders: false,
      canSelectMany: false,
      filters: RUN_FILE_FILTERS,
      title: 'Optimizer Lens: analyze a log or checkpoint',
      openLabel: 'Analyze',
    });
    uri = picked?.[0];
  }
  if (uri) await openRunFile(context, uri);
}

/** A file in the dashboard: the custom editor for the file types it is registered for, else a panel. */
export async function openRunFile(context: vscode.ExtensionContext, uri: vscode.Uri): Promise<void> {
  if (opensInDashboardEditor(uri.fsPath)) await vscode.commands.executeCommand('vscode.openWith', uri, dashboardViewTypeFor(uri.fsPath));
  else await analyzeInPanel(context, [uri], basename(uri.fsPath));
}
