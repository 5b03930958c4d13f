// Analyze Folder…: a run folder picked in the folder dialog (or given), in a panel.

import * as vscode from 'vscode';
import { basename } from 'node:path';
import { toUri, type UriLike } from './args';
import { analyzeInPanel } from './panels';

export async function analyzeFolder(context: vscode.ExtensionContext, target?: UriLike): Promise<void> {
  let uri = target ? toUri(target) : undefined;
  if (!uri) {
    const picked = await vscode.window.showOpenDialog({
      canSelectFiles: false,
      canSelectFolders: true,
      canSelectMany: false,
      defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
      title: 'Optimizer Lens: analyze a run folder',
      openLabel: 'Analyze',
    });
    uri = picked?.[0];
  }
  if (uri) await analyzeInPanel(context, [uri], `${basename(uri.fsPath)}/`);
}
