// Export Report: the active dashboard (or compare view) as standalone offline HTML (report.ts).

import * as vscode from 'vscode';
import { MessageType, type ToWebviewMessage } from '../../shared/protocol';
import { activeDashboardWebview } from '../webviewHost';
import { toUri, type UriLike } from './args';

/** Returns the written file's path, or undefined when nothing was exported. */
export async function exportReport(context: vscode.ExtensionContext, target?: UriLike): Promise<string | undefined> {
  const view = activeDashboardWebview();
  const message = view?.message;
  if (!view || !message || message.type === MessageType.ShowError) {
    void vscode.window.showWarningMessage('Optimizer Lens: open a dashboard first (Analyze File… or Analyze Folder…), then Export Report.');
    return undefined;
  }
  let uri = target ? toUri(target) : undefined;
  if (!uri) {
    const base = vscode.workspace.workspaceFolders?.[0]?.uri;
    const name = `${view.title.replace(/[\\/:*?"<>|]+/g, '_').replace(/_+$/, '') || 'run'}-optimizer-lens.html`;
    uri = await vscode.window.showSaveDialog({
      defaultUri: base ? vscode.Uri.joinPath(base, name) : undefined,
      filters: { HTML: ['html'] },
      title: 'Optimizer Lens: export report',
      saveLabel: 'Export',
    });
  }
  if (!uri) return undefined;
  const { buildReportHtml } = await import('../report');
  const read = async (...p: string[]) =>
    new TextDecoder().decode(await vscode.workspace.fs.readFile(vscode.Uri.joinPath(context.extensionUri, ...p)));
  const html = buildReportHtml({
    message: stripLive(message),
    script: await read('dist', 'webview.js'),
    css: await read('media', 'dashboard.css'),
    title: view.title,
  });
  await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(html));
  const written = uri;
  if (!target) {
    void vscode.window.showInformationMessage(`Optimizer Lens: report saved to ${written.fsPath}`, 'Open in Browser').then((choice) => {
      if (choice) void vscode.env.openExternal(written);
    });
  }
  return written.fsPath;
}

/** A report is a snapshot: not a live-tail update, not watched. */
function stripLive(message: ToWebviewMessage): ToWebviewMessage {
  return message.type === MessageType.ShowAnalysis ? { ...message, update: false, live: false } : message;
}
