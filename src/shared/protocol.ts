// Messages between the extension host and the dashboard webview (shared by both bundles).
// Shape after microsoft/vscode-hexeditor's protocol: one enum with a "to webview" and a
// "from webview" region, one interface per message, one union per direction.
// Handshake: the webview posts Ready once its script runs; the host answers with the view's data.
// Types, constants and small pure functions only: this file is compiled into the host (Node) and the webview (DOM).

import type { RunAnalysis } from '../core/analysis';
import type { Thresholds } from '../core/rules/types';
import type { PackedSeries } from './packing';
import type { OptimizerKind } from './optimizers';
import type { RunRef } from '../core/run/types';

export enum MessageType {
  // #region to webview
  /** A run's analysis for the dashboard (answer to Ready, and again after a live-tail update). */
  ShowAnalysis = 'showAnalysis',
  /** Several runs side by side (Compare Runs…). */
  ShowCompare = 'showCompare',
  /** The Explain Learning Rate view. */
  ShowExplain = 'showExplain',
  /** Analysis failed or was cancelled. */
  ShowError = 'showError',
  /** Separate runs found in one input (two TensorBoard trials, version_0/ and version_11/): pick one or compare. */
  ShowRuns = 'showRuns',
  /** A line of status in place of the dashboard (the panel opened before its input was chosen: "Analyzing llama/…"). */
  ShowStatus = 'showStatus',
  /** New steps of a followed log, appended to the dashboard the view shows (not the whole dashboard again). */
  AppendSteps = 'appendSteps',
  /** A whole-run pass of a followed log: the new state, with only the series points the view does not have. */
  ReviseRun = 'reviseRun',
  // #endregion

  // #region from webview
  /** The webview script is running and listening (also: it needs the whole state again, see AppendSteps). */
  Ready = 'ready',
  /**
   * The webview took a message off its queue (one per message the host posted): the host posts the next only
   * then, and merges what arrives meanwhile (src/extension/postFlow.ts).
   */
  Received = 'received',
  /** The user asked for the logging snippet (from the lr-without-scale banner). */
  InsertLoggingSnippet = 'insertLoggingSnippet',
  /** The user asked to export the report. */
  ExportReport = 'exportReport',
  /** Open a file the analysis read (from an issue or an input link). */
  OpenFile = 'openFile',
  /** Explain the learning rate with these numbers (from the Explain view's inputs). */
  ExplainRequest = 'explainRequest',
  // #endregion
}

/**
 * What a webview panel (not a custom editor) shows, kept in the webview's state so the panel can be
 * restored after a window reload (registerWebviewPanelSerializer re-runs it).
 */
export type PanelSource =
  | { kind: 'analyze'; paths: string[]; title: string }
  | { kind: 'compare'; paths: string[] }
  | { kind: 'explain'; lr: number; scale: number | null };

/** Settings the dashboard needs besides the analysis. */
export interface DashboardSettings {
  thresholds: Thresholds;
  /** `optimizerLens.targetRelativeStep`. */
  targetRelativeStep: number;
  /** `optimizerLens.defaults.eps`, shown in the equivalence view when the run does not state eps. */
  defaultEps: number;
}

// ---- to webview ---------------------------------------------------------------------------------

export interface ShowAnalysisMessage {
  type: MessageType.ShowAnalysis;
  /** Title shown above the dashboard (file or folder name). */
  title: string;
  analysis: RunAnalysis;
  settings: DashboardSettings;
  /** True when this is a live-tail update of a run already shown (keep the user's selection). */
  update?: boolean;
  /** True when the opened file is watched for growth. */
  live?: boolean;
  /** Steps in the run before thinning for the dashboard (analysis.result.steps lists those shown). */
  totalSteps?: number;
  source?: PanelSource;
  /** What the inputs hold beyond the analysis (the header says where the optimizer figures came from). */
  facts?: InputFacts;
  /** On the wire the series travel packed (analysis.series is then empty); the webview unpacks them. */
  packedSeries?: PackedSeries;
  /** When a live refresh asked for and got this state (the webview records where a refresh's time goes). */
  trace?: MessageTrace;
}

/**
 * Wall-clock times (ms since the epoch: host and webview share the machine's clock) of a live refresh on its
 * way to the screen. The webview adds when it received and painted it (window trace, see webview/trace.ts).
 */
export interface MessageTrace {
  /** The refresh asked the analysis process for the appended records. */
  requested: number;
  /** Its answer arrived in the host. */
  answered: number;
  /** The host posted the message to the webview (after packing it). */
  posted?: number;
  /** Milliseconds the host spent packing the message. */
  packMs?: number;
  /**
   * Why the host posted this message (postFlow.ts): `posted` as the change made it, `merged` joined with what waited,
   * `replaced` the whole state instead of what could not be joined, `ready` the whole state the webview asked for.
   */
  via?: PostReason;
}

/** Why a message was posted (MessageTrace.via). */
export type PostReason = 'posted' | 'merged' | 'replaced' | 'ready';

/**
 * A followed log's new steps: the analysis of its new records alone, which the view appends to the dashboard
 * it shows (src/shared/appendAnalysis.ts, as the host appended it). Only when the view shows `base` (its
 * last step and number of steps); otherwise — a view that missed a message — it posts Ready and the host
 * answers with the whole current state. The run's findings stand until the next ShowAnalysis (a whole-run pass).
 */
export interface AppendStepsMessage {
  type: MessageType.AppendSteps;
  /** The dashboard this extends: its last step (null: none) and how many steps it has. */
  base: DashboardBase;
  /** The new records' analysis alone (on the wire its series are empty and travel in `packedSeries`). */
  fresh: RunAnalysis;
  title: string;
  /** Steps in the run before thinning, with the new ones. */
  totalSteps: number;
  facts?: InputFacts;
  packedSeries?: PackedSeries;
  trace?: MessageTrace;
}

/**
 * A followed log's whole-run pass (findings, summary and thinning re-evaluated), as what changed for a view showing
 * `base`: the new analysis whose series hold, per layer, only the points the view lacks or whose figures changed
 * (src/shared/reviseAnalysis.ts). A view showing something else posts Ready and gets the whole state.
 */
export interface ReviseRunMessage {
  type: MessageType.ReviseRun;
  /** The dashboard this revises: its last step (null: none) and how many steps it has. */
  base: DashboardBase;
  /** The new analysis; on the wire its series are empty and travel in `packedSeries`. */
  analysis: RunAnalysis;
  title: string;
  totalSteps?: number;
  live?: boolean;
  facts?: InputFacts;
  packedSeries?: PackedSeries;
  trace?: MessageTrace;
}

/** A message that changes the dashboard a view shows instead of replacing it (postFlow.ts merges them). */
export type DashboardDelta = AppendStepsMessage | ReviseRunMessage;

/** What a delta's `base` says of the dashboard it changes: its last step (null: none) and how many steps it has. */
export interface DashboardBase {
  lastStep: number | null;
  steps: number;
}

/** The base of a dashboard showing these steps. */
export function baseOf(steps: readonly number[]): DashboardBase {
  return { lastStep: steps.length ? steps[steps.length - 1]! : null, steps: steps.length };
}

/** The last step and the number of steps of the dashboard a view shows after `delta`. */
export function stateAfter(delta: DashboardDelta): DashboardBase {
  if (delta.type === MessageType.ReviseRun) return baseOf(delta.analysis.result.steps);
  const added = delta.fresh.result.steps;
  return {
    lastStep: added.length ? added[added.length - 1]! : delta.base.lastStep,
    steps: delta.base.steps + added.length,
  };
}

/** Facts about the inputs the worker saw while reading (names only; no numbers). */
export interface InputFacts {
  /** Optimizer-state tensor roles present in the inputs, e.g. exp_avg, exp_avg_sq, momentum_buffer. */
  stateRoles: string[];
  /** Hyper-parameters taken from the extension's settings because no input states them. */
  fromSettings: string[];
  /**
   * Set when a merged read holds several separate runs (each run's label and folder). A folder of several
   * runs opens as ShowRuns instead, one entry per run; this stays for the paths that read merged.
   */
  runs?: RunRef[];
  /**
   * Per input, the tags / columns / keys its reader read (as written in the file: `train/loss`, `grad_norm`)
   * and those it saw but does not use. Optional: the dashboard falls back to the run's global keys.
   */
  tags?: InputTags[];
}

export interface InputTags {
  path: string;
  read: string[];
  unused?: string[];
}

export interface CompareRun {
  label: string;
  analysis: RunAnalysis;
}

export interface ShowCompareMessage {
  type: MessageType.ShowCompare;
  title: string;
  runs: CompareRun[];
  settings: DashboardSettings;
  source?: PanelSource;
}

/** What the Explain Learning Rate view shows (computed in the host). */
export interface ExplainData {
  lr: number;
  /** Parameter RMS (init scale) the lr is meant for; null when unknown. */
  scale: number | null;
  optimizer: OptimizerKind | null;
  eps: number | null;
  /** lr / scale: Adam's relative step per step while RMS(u) ≈ 1 (early training); null without scale. */
  relativeStep: number | null;
  /** The same relative step with another scale: (lr·k, scale·k, eps·k). */
  equivalentPairs: { lr: number; scale: number; eps: number | null }[];
  targetRelativeStep: number;
  /** lr that gives the target relative step at this scale; null without scale. */
  lrForTarget: number | null;
  /** Explanation text (Markdown) when core's explainLearningRate provides it. */
  markdown?: string;
  /** Where lr and scale came from ("input", a config file name, ...). */
  source: string;
}

export interface ShowExplainMessage {
  type: MessageType.ShowExplain;
  explain: ExplainData;
  source?: PanelSource;
}

/** One of several separate runs of the input (a ShowRuns entry); series travel like ShowAnalysis's. */
export interface RunEntry {
  label: string;
  analysis: RunAnalysis;
  /** Steps before thinning (analysis.result.steps lists those shown). */
  totalSteps?: number;
  facts?: InputFacts;
  packedSeries?: PackedSeries;
}

export interface ShowRunsMessage {
  type: MessageType.ShowRuns;
  /** Title of the whole input (the folder). */
  title: string;
  runs: RunEntry[];
  settings: DashboardSettings;
  /** True when this is a live update of runs already shown (keep the user's selection). */
  update?: boolean;
  live?: boolean;
  source?: PanelSource;
}

export interface ShowStatusMessage {
  type: MessageType.ShowStatus;
  text: string;
}

export interface ShowErrorMessage {
  type: MessageType.ShowError;
  title: string;
  message: string;
  cancelled?: boolean;
}

// ---- from webview -------------------------------------------------------------------------------

export interface ReadyMessage {
  type: MessageType.Ready;
}

export interface ReceivedMessage {
  type: MessageType.Received;
}

export interface InsertLoggingSnippetMessage {
  type: MessageType.InsertLoggingSnippet;
}

export interface ExportReportMessage {
  type: MessageType.ExportReport;
}

export interface OpenFileMessage {
  type: MessageType.OpenFile;
  path: string;
  line?: number;
}

export interface ExplainRequestMessage {
  type: MessageType.ExplainRequest;
  lr: number;
  scale: number | null;
}

export type ToWebviewMessage =
  | ShowAnalysisMessage
  | ShowCompareMessage
  | ShowExplainMessage
  | ShowErrorMessage
  | ShowStatusMessage
  | ShowRunsMessage
  | AppendStepsMessage
  | ReviseRunMessage;

export type FromWebviewMessage =
  ReadyMessage | ReceivedMessage | InsertLoggingSnippetMessage | ExportReportMessage | OpenFileMessage | ExplainRequestMessage;

/**
 * A message from the webview checked field by field (the host's handler switches on the result; anything
 * else — another extension's script, a stale bundle — is null and ignored).
 */
export function parseFromWebview(message: unknown): FromWebviewMessage | null {
  if (typeof message !== 'object' || message === null) return null;
  const m = message as Record<string, unknown>;
  const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  switch (m.type) {
    case MessageType.Ready:
      return { type: MessageType.Ready };
    case MessageType.Received:
      return { type: MessageType.Received };
    case MessageType.InsertLoggingSnippet:
      return { type: MessageType.InsertLoggingSnippet };
    case MessageType.ExportReport:
      return { type: MessageType.ExportReport };
    case MessageType.OpenFile:
      if (typeof m.path !== 'string' || !m.path) return null;
      return { type: MessageType.OpenFile, path: m.path, ...(finite(m.line) ? { line: m.line } : {}) };
    case MessageType.ExplainRequest:
      if (!finite(m.lr) || !(m.scale === null || finite(m.scale))) return null;
      return { type: MessageType.ExplainRequest, lr: m.lr, scale: m.scale };
    default:
      return null;
  }
}

/** How the heatmap lays out relative steps: block × kind at the selected step, or one row per kind / block over steps. */
export type HeatmapMode = 'blocks' | 'kinds-time' | 'blocks-time';

/** What the webview keeps in vscode.setState (restored after hide/show and reload). */
export interface WebviewState {
  step?: number | null;
  sortField?: string | null;
  sortDir?: 'asc' | 'desc';
  scrollY?: number;
  distributionLayer?: string | null;
  highlightedLayer?: string | null;
  /** The layer table's filter text. */
  filter?: string;
  /** Group the layer table by block (null: the default for the model's size). */
  groupByBlock?: boolean | null;
  /** Blocks the user expanded or collapsed in the grouped table (block key → open). */
  openBlocks?: Record<string, boolean>;
  heatmapMode?: HeatmapMode;
  /** Charts of many tensors: per-kind median and 10–90% band ('bands') or every tensor ('lines'); null: by size. */
  chartMode?: 'bands' | 'lines' | null;
  /** Separate runs (ShowRuns): the run shown, or every run side by side. */
  run?: number | 'compare';
  /** Panels only: what to re-open after a window reload. */
  source?: PanelSource;
}

/** The id of the JSON data element of an exported report (the webview reads it when there is no host). */
export const REPORT_DATA_ELEMENT_ID = 'optimizer-lens-report-data';
