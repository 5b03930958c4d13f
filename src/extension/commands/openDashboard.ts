// Open Dashboard: the dashboard of the active editor's file (text or custom editor), else Analyze File….

import * as vscode from 'vscode';
import { toUri, type UriLike } from './args';
import { analyzeFile, openRunFile } from './analyzeFile';

export async function openDashboard(context: vscode.ExtensionContext, target?: UriLike): Promise<void> {
  let uri = target ? toUri(target) : undefined;
  if (!uri) {
    const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
    if (input instanceof vscode.TabInputText || input instanceof vscode.TabInputCustom) uri = input.uri;
    uri ??= vscode.window.activeTextEditor?.document.uri;
  }
  if (!uri) return analyzeFile(context);
  await openRunFile(context, uri);
}
