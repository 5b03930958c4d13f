// Compare Runs…: the relative step per layer of two or more runs side by side.

import * as vscode from 'vscode';
import { MessageType, type CompareRun, type PanelSource } from '../../shared/protocol';
import { analyzeWithProgress } from '../analysis/progress';
import { errorView } from '../liveAnalysis';
import { readDashboardSettings } from '../settings';
import { toUri, type UriLike } from './args';
import { createPanel } from './panels';
import { pickRuns, runLabels } from './runPicker';

export async function compareRuns(context: vscode.ExtensionContext, targets?: UriLike[] | UriLike): Promise<void> {
  let uris = (Array.isArray(targets) ? targets : targets ? [targets] : []).map(toUri);
  if (uris.length < 2) {
    const picked = await pickRuns(uris);
    if (!picked) return;
    uris = picked;
  }
  if (uris.length < 2) {
    void vscode.window.showWarningMessage('Optimizer Lens: Compare Runs needs two or more runs.');
    return;
  }
  return compareInPanel(context, uris);
}

export async function compareInPanel(context: vscode.ExtensionContext, uris: vscode.Uri[], restored?: vscode.WebviewPanel): Promise<void> {
  const labels = runLabels(uris.map((u) => u.fsPath));
  let runs: CompareRun[];
  try {
    const { answers } = await analyzeWithProgress(
      context.extensionUri,
      'comparing runs',
      uris.map((u, i) => ({ label: labels[i], paths: [u.fsPath] })),
    );
    // A picked folder of several separate runs is compared run by run (each analyzed alone, never merged).
    runs = answers.flatMap((a, i) =>
      a.runs && a.runs.length > 1
        ? a.runs.map((r) => ({ label: `${labels[i]} · ${r.label}`, analysis: r.analysis }))
        : [{ label: labels[i], analysis: a.analysis }],
    );
  } catch (e) {
    restored?.dispose();
    const view = errorView(labels.join(', '), e);
    if (!view.cancelled) void vscode.window.showErrorMessage(`Optimizer Lens: Compare Runs failed: ${view.message}`);
    return;
  }
  const view = createPanel(context, `Compare: ${labels.join(' vs ')}`, {}, restored);
  const source: PanelSource = { kind: 'compare', paths: uris.map((u) => u.fsPath) };
  view.show({
    type: MessageType.ShowCompare,
    title: `Compare runs: ${labels.join(' · ')}`,
    runs,
    settings: readDashboardSettings(),
    source,
  });
}
