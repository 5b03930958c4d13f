// Analyze Folder…: a run folder picked in the folder dialog (or given), in a panel.

import * as vscode from 'vscode';
import { basename } from 'node:path';
import { toUri, type UriLike } from './args';
import { analyzeInPanel, openPanelForDialog } from './panels';
import type { DashboardWebview } from '../webviewHost';

export async function analyzeFolder(context: vscode.ExtensionContext, target?: UriLike): Promise<void> {
  let uri = target ? toUri(target) : undefined;
  let opened: DashboardWebview | undefined;
  if (!uri) {
    // The dashboard's panel opens with the dialog: its page loads while the user picks the folder.
    opened = openPanelForDialog(context, 'Choose the run folder in the dialog…');
    const picked = await vscode.window.showOpenDialog({
      canSelectFiles: false,
      canSelectFolders: true,
      canSelectMany: false,
      defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
      title: 'Optimizer Lens: analyze a run folder',
      openLabel: 'Analyze',
    });
    uri = picked?.[0];
    if (!uri) opened.panel.dispose();
  }
  if (uri) await analyzeInPanel(context, [uri], `${basename(uri.fsPath)}/`, undefined, opened);
}
