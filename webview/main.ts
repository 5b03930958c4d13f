// Webview entry (bundled to dist/webview.js). Runs inside VS Code's webview with a strict nonce CSP,
// or standalone in an exported report (then there is no host: the data is embedded in the page).
// Handshake (src/shared/protocol.ts): post Ready, render what the host answers.

import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-collapsible/index.js';
import {
  MessageType,
  REPORT_DATA_ELEMENT_ID,
  type FromWebviewMessage,
  type RunEntry,
  type ToWebviewMessage,
  type WebviewState,
} from '../src/shared/protocol';
import { bufferReviver, unpackSeries } from '../src/shared/packing';
import { CompareView } from './compare';
import { Dashboard } from './dashboard/dashboard';
import { ExplainView } from './explain';
import { escapeHtml } from './format';
import type { ViewHost } from './host';
import { RunsView } from './runs';
import { readThemeColors, watchTheme, type ThemeColors } from './theme';
import { tracePageReady, traceReceived, traceRendered, type TraceEntry } from './trace';
import { LiveUpdates } from './dashboard/liveUpdates';

interface VsCodeApi {
  postMessage(message: FromWebviewMessage): void;
  getState(): unknown;
  setState(state: WebviewState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

function memoryApi(): VsCodeApi {
  let state: unknown;
  return { postMessage: () => undefined, getState: () => state, setState: (s) => void (state = s) };
}

const interactive = typeof acquireVsCodeApi === 'function';
const vscode: VsCodeApi = interactive ? acquireVsCodeApi() : memoryApi();
const root = document.getElementById('app') ?? document.body.appendChild(document.createElement('main'));

let theme: ThemeColors = readThemeColors();
let state: WebviewState = (vscode.getState() as WebviewState | undefined) ?? {};

/** The one way the webview talks to the host: every message is of the protocol's webview → host union. */
function post(message: FromWebviewMessage): void {
  vscode.postMessage(message);
}

const host: ViewHost = {
  post,
  getState: () => state,
  setState: (patch) => {
    state = { ...state, ...patch };
    vscode.setState(state);
  },
  colors: () => theme,
  interactive,
};

const dashboard = new Dashboard(root, host);
const compare = new CompareView(root, () => theme);
const explain = new ExplainView(root, post, interactive);
const runs = new RunsView(root, host);
let current: 'dashboard' | 'compare' | 'explain' | 'runs' | 'error' | 'status' | null = null;
/** A followed log's refreshes, coalesced: the dashboard renders the newest state, never a backlog. */
const live = new LiveUpdates<TraceEntry>({
  shown: () => (current === 'dashboard' ? dashboard.message : null),
  render: ({ message, appendedOnly, notes }) => {
    if (current !== 'dashboard') return;
    dashboard.render(message, { appendedOnly });
    traceRendered(notes);
    document.body.setAttribute('data-rendered', message.type);
  },
  resync: () => post({ type: MessageType.Ready }),
  // The next frame; a timer too, for a page that paints no frames (the flush runs once either way).
  schedule: (task) => {
    requestAnimationFrame(task);
    window.setTimeout(task, 200);
  },
});

function show(view: typeof current): void {
  if (current === view) return;
  live.clear();
  if (current === 'dashboard') dashboard.destroy();
  if (current === 'compare') compare.destroy();
  if (current === 'runs') runs.destroy();
  current = view;
  root.setAttribute('data-view', view ?? '');
}

/** Series arrive packed (wire.ts): unpacked once here, so every view reads LayerSeries. */
function unpacked(message: ToWebviewMessage): ToWebviewMessage {
  const unpackRun = (r: RunEntry): RunEntry =>
    r.packedSeries ? { ...r, analysis: { ...r.analysis, series: unpackSeries(r.packedSeries) }, packedSeries: undefined } : r;
  if (message.type === MessageType.ShowAnalysis && message.packedSeries) {
    return { ...message, analysis: { ...message.analysis, series: unpackSeries(message.packedSeries) }, packedSeries: undefined };
  }
  if (message.type === MessageType.ShowRuns) return { ...message, runs: message.runs.map(unpackRun) };
  if (message.type === MessageType.ReviseRun && message.packedSeries) {
    return { ...message, analysis: { ...message.analysis, series: unpackSeries(message.packedSeries) }, packedSeries: undefined };
  }
  if (message.type === MessageType.AppendSteps && message.packedSeries) {
    return { ...message, fresh: { ...message.fresh, series: unpackSeries(message.packedSeries) }, packedSeries: undefined };
  }
  return message;
}

function handle(incoming: ToWebviewMessage): void {
  if ('source' in incoming && incoming.source) host.setState({ source: incoming.source });
  const traced =
    incoming.type === MessageType.ShowAnalysis
      ? traceReceived(incoming.trace, 'show', incoming.analysis.result.steps.at(-1) ?? null)
      : incoming.type === MessageType.AppendSteps
        ? traceReceived(incoming.trace, 'append', incoming.fresh.result.steps.at(-1) ?? null)
        : incoming.type === MessageType.ReviseRun
          ? traceReceived(incoming.trace, 'revise', incoming.analysis.result.steps.at(-1) ?? null)
          : null;
  const message = unpacked(incoming);
  switch (message.type) {
    case MessageType.ShowAnalysis: {
      if (current === 'dashboard' && message.update) {
        live.show(message, traced ?? undefined);
        return;
      }
      show('dashboard');
      live.clear();
      dashboard.render({ ...message, update: false });
      if (traced) traceRendered([traced]);
      break;
    }
    case MessageType.AppendSteps:
      live.append(message, traced ?? undefined);
      return;
    case MessageType.ReviseRun:
      live.revise(message, traced ?? undefined);
      return;
    case MessageType.ShowRuns:
      if (current !== 'runs') {
        show('runs');
        runs.render({ ...message, update: false });
      } else runs.render(message);
      break;
    case MessageType.ShowCompare:
      show('compare');
      compare.render(message);
      break;
    case MessageType.ShowExplain:
      show('explain');
      explain.render(message.explain);
      break;
    case MessageType.ShowStatus:
      show('status');
      root.innerHTML = `<p class="note" id="loading">${escapeHtml(message.text)}</p>`;
      break;
    case MessageType.ShowError:
      show('error');
      root.innerHTML = `<div class="banner ${message.cancelled ? 'info' : 'error'}" id="error-banner" role="alert"><div class="banner-icon" aria-hidden="true">${
        message.cancelled ? 'ⓘ' : '✕'
      }</div><div class="banner-body"><strong>${escapeHtml(message.title)}</strong><p>${escapeHtml(message.message)}</p></div></div>`;
      break;
  }
  document.body.setAttribute('data-rendered', String(message.type));
}

window.addEventListener('message', (event: MessageEvent) => {
  const data = event.data as ToWebviewMessage | undefined;
  if (!data || typeof data !== 'object' || typeof data.type !== 'string') return;
  // Taken off the queue: the host posts the next message now (it sends one at a time, src/extension/postFlow.ts).
  post({ type: MessageType.Received });
  handle(data);
});

let scrollTimer: number | undefined;
window.addEventListener('scroll', () => {
  window.clearTimeout(scrollTimer);
  scrollTimer = window.setTimeout(() => host.setState({ scrollY: Math.round(window.scrollY) }), 150);
});

watchTheme(() => {
  theme = readThemeColors();
  dashboard.applyTheme();
  compare.applyTheme();
  runs.applyTheme();
});

const embedded = document.getElementById(REPORT_DATA_ELEMENT_ID);
if (embedded?.textContent) {
  handle(JSON.parse(embedded.textContent, bufferReviver) as ToWebviewMessage);
} else {
  tracePageReady();
  post({ type: MessageType.Ready });
}
