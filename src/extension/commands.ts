// Palette commands (category "Optimizer Lens"). Every command takes optional arguments so tests and
// other features can run it without pickers: analyzeFile(uri), analyzeFolder(uri), openDashboard(uri),
// compareRuns([uri, uri]), explainLearningRate({lr, scale}), exportReport(targetUri),
// insertLoggingSnippet(snippetId). Heavy modules (engine, snippets, config scanner) load on first use.

import * as vscode from 'vscode';
import { basename, dirname, join } from 'node:path';
import { MessageType, type CompareRun, type PanelSource, type ToWebviewMessage, type WebviewState } from '../shared/protocol';
import { AnalysisCancelled, AnalysisSession } from './analysisSession';
import { showAnalysisMessage } from './dashboardEditor';
import { CANDIDATE_EXCLUDE, CANDIDATE_GLOB, dashboardViewTypeFor, opensInDashboardEditor, runCandidatesFromPaths } from './runFiles';

export { opensInDashboardEditor } from './runFiles';
import { readAnalyzeOptions, readDashboardSettings } from './settings';
import { activeDashboardWebview, DashboardWebview, type WebviewHandlers } from './webviewHost';
import type { OptimizerKind } from '../shared/optimizers';

type UriLike = vscode.Uri | string;

/** viewType of the panels of Analyze Folder…, Compare Runs… and Explain Learning Rate…. */
export const PANEL_VIEW_TYPE = 'optimizerLens.panel';

function toUri(u: UriLike): vscode.Uri {
  if (typeof u !== 'string') return u;
  return /^[a-z][a-z0-9+.-]+:\/\//i.test(u) ? vscode.Uri.parse(u) : vscode.Uri.file(u);
}

const RUN_FILE_FILTERS: Record<string, string[]> = {
  'Logs and checkpoints': ['jsonl', 'csv', 'json', 'safetensors', 'npz', 'npy', 'pt', 'pth', 'ckpt', 'bin'],
  'All files': ['*'],
};

export class Commands {
  constructor(private readonly context: vscode.ExtensionContext) {}

  register(): vscode.Disposable[] {
    const c = (id: string, fn: (...args: never[]) => unknown) =>
      vscode.commands.registerCommand(id, fn as (...args: unknown[]) => unknown, this);
    return [
      c('optimizerLens.analyzeFile', this.analyzeFile),
      c('optimizerLens.analyzeFolder', this.analyzeFolder),
      c('optimizerLens.openDashboard', this.openDashboard),
      c('optimizerLens.compareRuns', this.compareRuns),
      c('optimizerLens.explainLearningRate', this.explainLearningRate),
      c('optimizerLens.exportReport', this.exportReport),
      c('optimizerLens.insertLoggingSnippet', this.insertLoggingSnippet),
    ];
  }

  private get workerPath(): string {
    return vscode.Uri.joinPath(this.context.extensionUri, 'dist', 'worker.js').fsPath;
  }

  async analyzeFile(target?: UriLike): Promise<void> {
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
    if (!uri) return;
    if (opensInDashboardEditor(uri.fsPath)) {
      await vscode.commands.executeCommand('vscode.openWith', uri, dashboardViewTypeFor(uri.fsPath));
    } else {
      await this.analyzeInPanel([uri], basename(uri.fsPath));
    }
  }

  async analyzeFolder(target?: UriLike): Promise<void> {
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
    if (!uri) return;
    await this.analyzeInPanel([uri], `${basename(uri.fsPath)}/`);
  }

  async openDashboard(target?: UriLike): Promise<void> {
    let uri = target ? toUri(target) : undefined;
    if (!uri) {
      const tab = vscode.window.tabGroups.activeTabGroup.activeTab;
      const input = tab?.input;
      if (input instanceof vscode.TabInputText || input instanceof vscode.TabInputCustom) uri = input.uri;
      uri ??= vscode.window.activeTextEditor?.document.uri;
    }
    if (!uri) {
      return this.analyzeFile();
    }
    if (opensInDashboardEditor(uri.fsPath)) await vscode.commands.executeCommand('vscode.openWith', uri, dashboardViewTypeFor(uri.fsPath));
    else await this.analyzeInPanel([uri], basename(uri.fsPath));
  }

  async compareRuns(targets?: UriLike[] | UriLike): Promise<void> {
    let uris = (Array.isArray(targets) ? targets : targets ? [targets] : []).map(toUri);
    if (uris.length < 2) {
      // A quick pick of the run folders and logs in the workspace (the web's file dialog picks one item
      // only), plus "Browse…" which asks again until two or more runs are chosen.
      const picked = await this.pickRuns(uris);
      if (!picked) return;
      uris = picked;
    }
    if (uris.length < 2) {
      void vscode.window.showWarningMessage('Optimizer Lens: Compare Runs needs two or more runs.');
      return;
    }
    return this.compareInPanel(uris);
  }

  /** Runs to compare: checked in a quick pick of the workspace's run folders and logs, or browsed for. */
  private async pickRuns(already: vscode.Uri[]): Promise<vscode.Uri[] | undefined> {
    type Item = vscode.QuickPickItem & { uri?: vscode.Uri; browse?: boolean };
    const candidates = await findRunCandidates();
    const alreadySet = new Set(already.map((u) => u.toString()));
    const items: Item[] = [];
    const folders = candidates.filter((c) => c.kind === 'folder');
    const files = candidates.filter((c) => c.kind === 'file');
    if (folders.length) items.push({ label: 'Run folders', kind: vscode.QuickPickItemKind.Separator });
    for (const c of folders)
      items.push({ label: `$(folder) ${c.label}`, description: c.description, uri: c.uri, picked: alreadySet.has(c.uri.toString()) });
    if (files.length) items.push({ label: 'Logs', kind: vscode.QuickPickItemKind.Separator });
    for (const c of files)
      items.push({ label: `$(file) ${c.label}`, description: c.description, uri: c.uri, picked: alreadySet.has(c.uri.toString()) });
    items.push({ label: '', kind: vscode.QuickPickItemKind.Separator });
    items.push({
      label: '$(folder-opened) Browse…',
      description: 'pick runs (files or folders) with the file dialog',
      browse: true,
      alwaysShow: true,
    });
    const chosen = await vscode.window.showQuickPick(items, {
      canPickMany: true,
      title: 'Optimizer Lens: Compare Runs — check two or more runs',
      placeHolder: candidates.length
        ? 'Run folders and logs in the workspace (type to filter)'
        : 'No run folders or logs found in the workspace: Browse…',
      matchOnDescription: true,
      ignoreFocusOut: true,
    });
    if (!chosen) return undefined;
    const uris = [...already.filter((u) => !chosen.some((c) => c.uri?.toString() === u.toString()))];
    for (const c of chosen) if (c.uri) uris.push(c.uri);
    if (uris.length >= 2 && !chosen.some((c) => c.browse)) return uris;
    // Browse: the file dialog (one pick per dialog in the browser) until two or more runs are chosen.
    for (let round = 0; round < 16; round++) {
      const need = Math.max(0, 2 - uris.length);
      const picked = await vscode.window.showOpenDialog({
        canSelectFiles: true,
        canSelectFolders: true,
        canSelectMany: true,
        defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
        title: need
          ? `Optimizer Lens: pick a run to compare (${uris.length} chosen, ${need} more needed)`
          : `Optimizer Lens: pick another run to compare (${uris.length} chosen; cancel to compare them)`,
        openLabel: 'Add to Comparison',
      });
      if (!picked?.length) break;
      for (const p of picked) if (!uris.some((u) => u.toString() === p.toString())) uris.push(p);
      // one more "add another?" round only while fewer than two are chosen
      if (uris.length >= 2) break;
    }
    return uris;
  }

  private async compareInPanel(uris: vscode.Uri[], panel?: vscode.WebviewPanel): Promise<void> {
    const options = readAnalyzeOptions();
    const labels = runLabels(uris.map((u) => u.fsPath));
    const runs: CompareRun[] = [];
    try {
      await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'Optimizer Lens: comparing runs', cancellable: true },
        async (progress, token) => {
          for (const [i, uri] of uris.entries()) {
            if (token.isCancellationRequested) throw new AnalysisCancelled();
            progress.report({ message: labels[i], increment: 100 / uris.length });
            const session = new AnalysisSession(this.workerPath);
            const sub = token.onCancellationRequested(() => session.dispose());
            try {
              const r = await session.analyze([uri.fsPath], options, false);
              runs.push({ label: labels[i], analysis: r.analysis });
            } finally {
              sub.dispose();
              session.dispose();
            }
          }
        },
      );
    } catch (e) {
      panel?.dispose();
      return this.reportFailure('Compare Runs', e);
    }
    const view = this.createPanel(`Compare: ${labels.join(' vs ')}`, {}, panel);
    const source: PanelSource = { kind: 'compare', paths: uris.map((u) => u.fsPath) };
    view.show({
      type: MessageType.ShowCompare,
      title: `Compare runs: ${labels.join(' · ')}`,
      runs,
      settings: readDashboardSettings(),
      source,
    });
  }

  async explainLearningRate(args?: { lr?: number | string; scale?: number | string | null } | string): Promise<void> {
    const parsed = typeof args === 'string' ? safeJson(args) : args;
    let lr = num(parsed?.lr);
    let scale = parsed && 'scale' in parsed ? num(parsed.scale) : null;
    let source = 'input';
    let optimizer: OptimizerKind | 'other' | null = null;
    let eps: number | null = null;
    if (lr === null) {
      const fromConfig = await this.learningRateFromActiveConfig();
      if (fromConfig) ({ lr, scale, source, optimizer, eps } = fromConfig);
    }
    if (lr === null) {
      const lrText = await vscode.window.showInputBox({
        title: 'Explain Learning Rate (1/2)',
        prompt: 'Learning rate',
        placeHolder: '3e-4',
        validateInput: (v) => (num(v) !== null && num(v)! > 0 ? null : 'A positive number, e.g. 3e-4'),
      });
      if (lrText === undefined) return;
      lr = num(lrText);
      const scaleText = await vscode.window.showInputBox({
        title: 'Explain Learning Rate (2/2)',
        prompt: 'Parameter scale: init std or measured param RMS (leave empty if unknown)',
        placeHolder: '0.02',
        validateInput: (v) => (v.trim() === '' || (num(v) !== null && num(v)! > 0) ? null : 'A positive number, or empty'),
      });
      if (scaleText === undefined) return;
      scale = scaleText.trim() === '' ? null : num(scaleText);
    }
    if (lr === null) return;
    await this.explainInPanel(lr, scale, optimizer, eps, source);
  }

  private async explainInPanel(
    lr: number,
    scale: number | null,
    optimizer: OptimizerKind | 'other' | null,
    eps: number | null,
    from: string,
    panel?: vscode.WebviewPanel,
  ): Promise<void> {
    const { buildExplainData } = await import('./explainData');
    const target = readDashboardSettings().targetRelativeStep;
    const show = (l: number, s: number | null, f: string) =>
      view.show({
        type: MessageType.ShowExplain,
        explain: buildExplainData({ lr: l, scale: s, optimizer, eps, source: f }, target),
        source: { kind: 'explain', lr: l, scale: s },
      });
    const view = this.createPanel('Explain Learning Rate', { onExplainRequest: (l, s) => show(l, s, 'input') }, panel);
    show(lr, scale, from);
  }

  /** Re-open a panel after a window reload from what its webview kept in state (registerWebviewPanelSerializer). */
  async restorePanel(panel: vscode.WebviewPanel, state: WebviewState | undefined): Promise<void> {
    const source = state?.source;
    if (!source) {
      panel.dispose();
      return;
    }
    if (source.kind === 'analyze')
      await this.analyzeInPanel(
        source.paths.map((p) => vscode.Uri.file(p)),
        source.title,
        panel,
      );
    else if (source.kind === 'compare')
      await this.compareInPanel(
        source.paths.map((p) => vscode.Uri.file(p)),
        panel,
      );
    else await this.explainInPanel(source.lr, source.scale, null, null, 'restored', panel);
  }

  /** Export the active dashboard (or compare view) as standalone HTML. Returns the written file's path. */
  async exportReport(target?: UriLike): Promise<string | undefined> {
    const view = activeDashboardWebview();
    const message = view?.message;
    if (!view || !message || message.type === MessageType.ShowError) {
      void vscode.window.showWarningMessage(
        'Optimizer Lens: open a dashboard first (Analyze File… or Analyze Folder…), then Export Report.',
      );
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
    const { buildReportHtml } = await import('./report');
    const read = async (...p: string[]) =>
      new TextDecoder().decode(await vscode.workspace.fs.readFile(vscode.Uri.joinPath(this.context.extensionUri, ...p)));
    const html = buildReportHtml({
      message: stripUpdate(message),
      script: await read('dist', 'webview.js'),
      css: await read('media', 'dashboard.css'),
      title: view.title,
    });
    await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(html));
    if (!target) {
      void vscode.window.showInformationMessage(`Optimizer Lens: report saved to ${uri.fsPath}`, 'Open in Browser').then((choice) => {
        if (choice) void vscode.env.openExternal(uri!);
      });
    }
    return uri.fsPath;
  }

  /** Insert a logging snippet at the cursor of the active Python editor, or in a new Python document. */
  async insertLoggingSnippet(snippetId?: string): Promise<string | undefined> {
    const { LOGGING_SNIPPETS } = await import('../core/snippets');
    let snippet = snippetId ? LOGGING_SNIPPETS.find((s) => s.id === snippetId) : undefined;
    if (snippetId && !snippet) {
      void vscode.window.showErrorMessage(
        `Optimizer Lens: no logging snippet "${snippetId}" (${LOGGING_SNIPPETS.map((s) => s.id).join(', ')}).`,
      );
      return undefined;
    }
    if (!snippet) {
      const picked = await vscode.window.showQuickPick(
        LOGGING_SNIPPETS.map((s) => ({ label: s.label, detail: s.description, id: s.id })),
        { title: 'Optimizer Lens: insert a logging snippet', placeHolder: 'Which training loop?', matchOnDetail: true },
      );
      snippet = picked ? LOGGING_SNIPPETS.find((s) => s.id === picked.id) : undefined;
    }
    if (!snippet) return undefined;
    const editor = vscode.window.activeTextEditor;
    if (editor && editor.document.languageId === 'python' && !editor.document.isClosed) {
      const at = editor.selection.active;
      const prefix = at.character > 0 ? '\n' : '';
      await editor.edit((b) => b.insert(at, prefix + snippet!.code));
    } else {
      const doc = await vscode.workspace.openTextDocument({ language: 'python', content: snippet.code });
      await vscode.window.showTextDocument(doc);
    }
    return snippet.id;
  }

  // ---- helpers ----------------------------------------------------------------------------------

  private createPanel(title: string, handlers: WebviewHandlers = {}, restored?: vscode.WebviewPanel): DashboardWebview {
    const panel =
      restored ??
      vscode.window.createWebviewPanel(PANEL_VIEW_TYPE, `Optimizer Lens: ${title}`, vscode.ViewColumn.Active, {
        enableScripts: true,
        localResourceRoots: [
          vscode.Uri.joinPath(this.context.extensionUri, 'dist'),
          vscode.Uri.joinPath(this.context.extensionUri, 'media'),
        ],
      });
    if (restored) panel.title = `Optimizer Lens: ${title}`;
    return new DashboardWebview(panel, this.context.extensionUri, title, handlers);
  }

  private async analyzeInPanel(uris: vscode.Uri[], title: string, panel?: vscode.WebviewPanel): Promise<void> {
    const session = new AnalysisSession(this.workerPath);
    try {
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Optimizer Lens: analyzing ${title}`, cancellable: true },
        (progress, token) => {
          token.onCancellationRequested(() => session.dispose());
          let reported = 0;
          return session.analyze(
            uris.map((u) => u.fsPath),
            readAnalyzeOptions(),
            false,
            (f, m) => {
              const pct = Math.round(f * 100);
              progress.report({ increment: Math.max(0, pct - reported), message: m });
              reported = Math.max(reported, pct);
            },
          );
        },
      );
      const view = this.createPanel(title, {}, panel);
      const source: PanelSource = { kind: 'analyze', paths: uris.map((u) => u.fsPath), title };
      view.show(showAnalysisMessage(title, result.analysis, { totalSteps: result.totalSteps, facts: result.facts, source }));
    } catch (e) {
      panel?.dispose();
      this.reportFailure(`analyzing ${title}`, e);
    } finally {
      session.dispose();
    }
  }

  private reportFailure(what: string, e: unknown): void {
    if (e instanceof AnalysisCancelled) return;
    void vscode.window.showErrorMessage(`Optimizer Lens: ${what} failed: ${(e as Error).message}`);
  }

  private async learningRateFromActiveConfig(): Promise<{
    lr: number;
    scale: number | null;
    source: string;
    optimizer: OptimizerKind | 'other' | null;
    eps: number | null;
  } | null> {
    const editor = vscode.window.activeTextEditor;
    if (!editor || editor.document.uri.scheme !== 'file') return null;
    const { configLanguageOfId, scanConfigText } = await import('../core/config/scan');
    const doc = editor.document;
    const language = configLanguageOfId(doc.languageId, doc.uri.fsPath);
    if (!language) return null;
    const scan = scanConfigText(doc.getText(), doc.uri.fsPath, language);
    if (!scan.learningRates.length) return null;
    const line = editor.selection.active.line + 1;
    const lrs = [...scan.learningRates].sort((a, b) => Math.abs(a.range.line - line) - Math.abs(b.range.line - line));
    const lr = lrs[0];
    const scale = scan.scales[0] ?? null;
    return {
      lr: lr.value,
      scale: scale ? scale.value : null,
      source: `${basename(doc.uri.fsPath)}:${lr.range.line} (${lr.key})${scale ? `, scale from ${scale.key}` : ''}`,
      optimizer: scan.optimizers[0]?.family ?? null,
      eps: scan.eps[0]?.value ?? null,
    };
  }
}

function stripUpdate(message: ToWebviewMessage): ToWebviewMessage {
  return message.type === MessageType.ShowAnalysis ? { ...message, update: false, live: false } : message;
}

function num(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v.trim());
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

function safeJson(text: string): { lr?: number; scale?: number | null } | undefined {
  try {
    return JSON.parse(text) as { lr?: number; scale?: number | null };
  } catch {
    return undefined;
  }
}

/** Short distinct labels for runs: the last path component, with the parent folder when names collide. */
export function runLabels(paths: string[]): string[] {
  const names = paths.map((p) => basename(p));
  return names.map((n, i) => (names.indexOf(n) !== names.lastIndexOf(n) ? join(basename(dirname(paths[i])), n) : n));
}

export interface RunCandidate {
  kind: 'folder' | 'file';
  uri: vscode.Uri;
  /** Workspace-relative path (prefixed by the folder's name in a multi-root workspace). */
  label: string;
  description: string;
}

/** Candidate runs of the workspace (runFiles.runCandidatesFromPaths over a bounded findFiles). Names only. */
export async function findRunCandidates(maxFiles = 5000, maxItems = 300): Promise<RunCandidate[]> {
  const found = await vscode.workspace.findFiles(CANDIDATE_GLOB, CANDIDATE_EXCLUDE, maxFiles);
  const roots = vscode.workspace.workspaceFolders ?? [];
  const out: RunCandidate[] = [];
  for (const root of roots) {
    const base = root.uri.path.replace(/\/$/, '') + '/';
    const rels = found.filter((u) => u.scheme === root.uri.scheme && u.path.startsWith(base)).map((u) => u.path.slice(base.length));
    const prefix = roots.length > 1 ? `${root.name}/` : '';
    for (const c of runCandidatesFromPaths(rels, maxItems)) {
      out.push({
        kind: c.kind,
        uri: vscode.Uri.joinPath(root.uri, ...c.rel.split('/')),
        label: prefix + c.rel,
        description: c.description,
      });
    }
  }
  // folders (all roots) before files, as in each root's list
  return [...out.filter((c) => c.kind === 'folder'), ...out.filter((c) => c.kind === 'file')].slice(0, maxItems);
}
