// Optimizer Lens extension entry. Activation stays light: the custom editor, the commands and the
// config features are registered here; the engine and readers load only in the analysis worker
// (dist/worker.js), and snippets/report/explain modules on first use.

import * as vscode from 'vscode';
import { Commands, PANEL_VIEW_TYPE } from './commands';
import type { WebviewState } from '../shared/protocol';
import { DashboardEditorProvider } from './dashboardEditor';

export interface OptimizerLensApi {
  /** Milliseconds activate() took (reported in the README). */
  activationMs: number;
}

export function activate(context: vscode.ExtensionContext): OptimizerLensApi {
  const started = performance.now();
  const commands = new Commands(context);
  context.subscriptions.push(
    ...DashboardEditorProvider.register(context),
    ...commands.register(),
    // Panels come back after a window reload: their webview state says what they showed.
    vscode.window.registerWebviewPanelSerializer(PANEL_VIEW_TYPE, {
      deserializeWebviewPanel: (panel, state) => commands.restorePanel(panel, state as WebviewState | undefined),
    }),
  );
  registerConfigFeaturesIfPresent(context);
  const activationMs = performance.now() - started;
  return { activationMs };
}

export function deactivate(): void {
  // Workers and watchers are disposed with their documents and panels.
}

/** Hover, Problems and quick fixes on training configs (src/extension/configFeatures.ts). */
function registerConfigFeaturesIfPresent(context: vscode.ExtensionContext): void {
  try {
    // A require inside try/catch: esbuild bundles the module when it exists and leaves a runtime
    // failure (caught here) when it does not, so the dashboard works without the config features.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const features = require('./configFeatures') as { registerConfigFeatures?: (c: vscode.ExtensionContext) => void };
    features.registerConfigFeatures?.(context);
  } catch (e) {
    const message = (e as Error).message ?? String(e);
    if (!/Cannot find module/.test(message)) console.error(`Optimizer Lens: config features failed to start: ${message}`);
  }
}
