// What the host actually posts to a webview (no vscode import: the Chromium tests post the same).

import { MessageType, type RunEntry, type ToWebviewMessage } from '../shared/protocol';
import { packSeries } from '../shared/packing';

/**
 * The message as posted: a dashboard's series (of each run, for ShowRuns; the new steps', for AppendSteps) packed into ArrayBuffers; a
 * comparison without series and distributions (it shows the report step's layers only).
 */
export function toWire(message: ToWebviewMessage): ToWebviewMessage {
  if (message.type === MessageType.ShowAnalysis && message.analysis.series.length) {
    return { ...message, analysis: { ...message.analysis, series: [] }, packedSeries: packSeries(message.analysis.series) };
  }
  if (message.type === MessageType.AppendSteps && message.fresh.series.length) {
    return { ...message, fresh: { ...message.fresh, series: [] }, packedSeries: packSeries(message.fresh.series) };
  }
  if (message.type === MessageType.ReviseRun && message.analysis.series.length) {
    return { ...message, analysis: { ...message.analysis, series: [] }, packedSeries: packSeries(message.analysis.series) };
  }
  if (message.type === MessageType.ShowRuns) {
    return { ...message, runs: message.runs.map(packRun) };
  }
  if (message.type === MessageType.ShowCompare) {
    return {
      ...message,
      runs: message.runs.map((r) => ({ ...r, analysis: { ...r.analysis, series: [], distributions: [], globals: [] } })),
    };
  }
  return message;
}

function packRun(run: RunEntry): RunEntry {
  if (!run.analysis.series.length) return run;
  return { ...run, analysis: { ...run.analysis, series: [] }, packedSeries: packSeries(run.analysis.series) };
}
