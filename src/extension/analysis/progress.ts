// The one way the extension analyzes inputs: analysis processes (client.ts) behind one cancellable progress
// notification. Cancellation is mapped here, at the edge: the notification's cancel button and any token the
// caller holds (the custom editor's open token, a document's own) kill the process.

import * as vscode from 'vscode';
import { AnalysisProcess } from './client';
import type { AnalysisAnswer } from './protocol';
import { readAnalysisLimits, readAnalyzeOptions } from '../settings';

export interface AnalysisRun {
  /** What the notification names while this run is analyzed. */
  label: string;
  paths: string[];
}

export interface AnalysisOutcome {
  answers: AnalysisAnswer[];
  /** The process that follows the (single) input as it grows, when asked to follow and it could; the caller disposes it. */
  follower: AnalysisProcess | null;
}

export function analysisModulePath(extensionUri: vscode.Uri): string {
  return vscode.Uri.joinPath(extensionUri, 'dist', 'analysis.js').fsPath;
}

/** A process with the current settings' limits (for refreshes without a notification). */
export function newAnalysisProcess(extensionUri: vscode.Uri): AnalysisProcess {
  return new AnalysisProcess(analysisModulePath(extensionUri), readAnalysisLimits());
}

/**
 * Analyze each run in turn in its own process behind one notification titled `Optimizer Lens: <title>`.
 * Rejects with AnalysisCancelled (the user or a token cancelled) or AnalysisFailed (the input's error or a
 * limit of the process). `onPartial` receives first analyses of part of an input while the rest is read.
 */
export function analyzeWithProgress(
  extensionUri: vscode.Uri,
  title: string,
  runs: AnalysisRun[],
  opts: {
    follow?: boolean;
    tokens?: (vscode.CancellationToken | undefined)[];
    onPartial?: (run: number, answer: AnalysisAnswer) => void;
  } = {},
): Promise<AnalysisOutcome> {
  const options = readAnalyzeOptions();
  // (withProgress returns a Thenable)
  return Promise.resolve(
    vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Optimizer Lens: ${title}`, cancellable: true },
      async (progress, notificationToken) => {
        const answers: AnalysisAnswer[] = [];
        let follower: AnalysisProcess | null = null;
        let reported = 0;
        for (const [i, run] of runs.entries()) {
          const proc = newAnalysisProcess(extensionUri);
          const subs = [notificationToken, ...(opts.tokens ?? [])].map((t) => t?.onCancellationRequested(() => proc.cancel()));
          if ([notificationToken, ...(opts.tokens ?? [])].some((t) => t?.isCancellationRequested)) proc.cancel();
          try {
            const answer = await proc.analyze(run.paths, options, (opts.follow ?? false) && runs.length === 1, {
              onProgress: (fraction, message) => {
                const pct = Math.round(((i + Math.max(0, Math.min(1, fraction))) / runs.length) * 100);
                progress.report({
                  increment: Math.max(0, pct - reported),
                  message: runs.length > 1 ? `${run.label}: ${message}` : message,
                });
                reported = Math.max(reported, pct);
              },
              onPartial: (a) => opts.onPartial?.(i, a),
            });
            answers.push(answer);
            if (answer.followed) follower = proc;
            else proc.dispose();
          } catch (e) {
            proc.dispose();
            throw e;
          } finally {
            for (const s of subs) s?.dispose();
          }
        }
        return { answers, follower };
      },
    ),
  );
}
