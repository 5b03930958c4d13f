// Explain Learning Rate…: relative step, equivalent (lr, scale, ε) triples and the lr for the target relative
// step, for an (lr, scale) given, taken from the active config, or asked for in two input boxes.

import * as vscode from 'vscode';
import { basename } from 'node:path';
import { MessageType } from '../../shared/protocol';
import type { OptimizerKind } from '../../shared/optimizers';
import { readDashboardSettings } from '../settings';
import { num, safeJson } from './args';
import { createPanel } from './panels';

type Optimizer = OptimizerKind | 'other' | null;
export type ExplainArgs = { lr?: number | string; scale?: number | string | null };

export async function explainLearningRate(context: vscode.ExtensionContext, args?: ExplainArgs | string): Promise<void> {
  const parsed = typeof args === 'string' ? safeJson<ExplainArgs>(args) : args;
  let lr = num(parsed?.lr);
  let scale = parsed && 'scale' in parsed ? num(parsed.scale) : null;
  let source = 'input';
  let optimizer: Optimizer = null;
  let eps: number | null = null;
  if (lr === null) {
    const fromConfig = await learningRateFromActiveConfig();
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
  await explainInPanel(context, lr, scale, optimizer, eps, source);
}

export async function explainInPanel(
  context: vscode.ExtensionContext,
  lr: number,
  scale: number | null,
  optimizer: Optimizer,
  eps: number | null,
  from: string,
  restored?: vscode.WebviewPanel,
): Promise<void> {
  const { buildExplainData } = await import('../explainData');
  const target = readDashboardSettings().targetRelativeStep;
  const show = (l: number, s: number | null, f: string) =>
    view.show({
      type: MessageType.ShowExplain,
      explain: buildExplainData({ lr: l, scale: s, optimizer, eps, source: f }, target),
      source: { kind: 'explain', lr: l, scale: s },
    });
  const view = createPanel(context, 'Explain Learning Rate', { onExplainRequest: (l, s) => show(l, s, 'input') }, restored);
  show(lr, scale, from);
}

/** The learning rate nearest the cursor in the active config editor, with the scale and optimizer it states. */
async function learningRateFromActiveConfig(): Promise<{
  lr: number;
  scale: number | null;
  source: string;
  optimizer: Optimizer;
  eps: number | null;
} | null> {
  const editor = vscode.window.activeTextEditor;
  if (!editor || editor.document.uri.scheme !== 'file') return null;
  const { configLanguageOfId, scanConfigText } = await import('../../core/config/scan');
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
