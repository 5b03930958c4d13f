// Optimizer Lens extension entry. Activation stays light: the custom editor, the commands and the
// config features are registered here; the engine and readers run only in the analysis process
// (dist/analysis.js, forked per analysis), and snippets/report/explain modules load on first use.

import * as vscode from 'vscode';
import { PANEL_VIEW_TYPE, registerCommands, restorePanel } from './commands';
import type { ToWebviewMessage, WebviewState } from '../shared/protocol';
import { DashboardEditorProvider } from './dashboardEditor';
import { allDashboardWebviews } from './webviewHost';

export interface OptimizerLensApi {
  /** Milliseconds activate() took (reported in the README). */
  activationMs: number;
  /** The open dashboards and what each shows now (the e2e suite waits on them without reading pixels). */
  dashboards(): { title: string; message: ToWebviewMessage | null }[];
}

export function activate(context: vscode.ExtensionContext): OptimizerLensApi {
  const started = performance.now();
  context.subscriptions.push(
    ...DashboardEditorProvider.register(context),
    ...registerCommands(context),
    // Panels come back after a window reload: their webview state says what they showed.
    vscode.window.registerWebviewPanelSerializer(PANEL_VIEW_TYPE, {
      deserializeWebviewPanel: (panel, state) => restorePanel(context, panel, state as WebviewState | undefined),
    }),
  );
  registerConfigFeaturesIfPresent(context);
  const activationMs = performance.now() - started;
  return { activationMs, dashboards: () => allDashboardWebviews().map((v) => ({ title: v.title, message: v.message })) };
}

export function deactivate(): void {
  // Analysis processes and watchers are disposed with their documents and panels.
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
