// The analysis worker (worker_threads, bundled to dist/worker.js). The engine and the readers are
// loaded here, never in the extension host's main thread. Cancel = the host terminates the worker.
// Tail mode (a single JSONL or TensorBoard file): the worker keeps the RunData read so far and, on
// each 'tail' message, reads only the bytes appended since (JsonlTail / TfeventsTail), merges and
// re-analyzes — the file is not read again.

import { parentPort } from 'node:worker_threads';
import { basename } from 'node:path';
import { analyzeRunData } from '../core/pipeline';
import { mergeRunData } from '../core/run/merge';
import { readInputs } from '../core/readers/discover';
import { JsonlTail } from '../core/readers/jsonl';
import { isTfeventsName } from '../core/readers/tfevents/reader';
import { TfeventsTail } from '../core/readers/tfevents/tail';
import type { AnalyzeOptions, RunAnalysis } from '../core/analysis';
import type { RunData } from '../core/run/types';
import { decimateAnalysis, DEFAULT_MAX_DASHBOARD_STEPS } from './decimate';
import type { FromWorker, ToWorker, WorkerAnalyzeOptions } from './workerProtocol';
import type { InputFacts } from '../shared/protocol';

interface Tail {
  readNew(options?: { onProgress?: (f: number) => void }): Promise<RunData>;
}

let tail: Tail | null = null;
let data: RunData | null = null;
let options: WorkerAnalyzeOptions = {};
let busy: Promise<void> = Promise.resolve();

function post(message: FromWorker): void {
  parentPort!.postMessage(message);
}

function progress(fraction: number, message: string): void {
  post({ kind: 'progress', fraction, message });
}

/** A tail reader for a growing log, or null when the file is not followed that way. */
export function tailFor(path: string): Tail | null {
  const name = basename(path);
  if (/\.jsonl$/i.test(name) || /\.ndjson$/i.test(name)) return new JsonlTail(path);
  if (isTfeventsName(path)) return new TfeventsTail(path);
  return null;
}

/**
 * Engine options for this data. The settings' default betas/eps are passed only where the data has
 * tensors that need them (gradients or Adam state) and no input states them — the engine treats
 * options as overrides, so passing them always would hide what the inputs say.
 */
function engineOptions(o: WorkerAnalyzeOptions, runData: RunData): { options: AnalyzeOptions; injected: string[] } {
  const { defaults, maxDashboardSteps: _max, ...rest } = o;
  const options: AnalyzeOptions = { ...rest, onProgress: (f, m) => progress(f, m) };
  const injected: string[] = [];
  const needsAdamHyper =
    runData.hyper.type !== 'sgd' &&
    runData.snapshots.some((s) => s.tensors.some((t) => t.role === 'grad' || t.role === 'exp_avg' || t.role === 'exp_avg_sq'));
  if (needsAdamHyper && defaults?.betas && !rest.betas && !runData.hyper.betas) {
    options.betas = defaults.betas;
    injected.push('betas');
  }
  if (
    needsAdamHyper &&
    defaults?.eps !== undefined &&
    rest.eps === undefined &&
    (runData.hyper.eps === undefined || runData.hyper.eps === null)
  ) {
    options.eps = defaults.eps;
    injected.push('eps');
  }
  return { options, injected };
}

function dedupeInputs(run: RunData): RunData {
  const seen = new Set<string>();
  run.inputs = run.inputs.filter((i) => (seen.has(i.path + '\0' + i.format) ? false : (seen.add(i.path + '\0' + i.format), true)));
  return run;
}

const STATE_ROLES = ['exp_avg', 'exp_avg_sq', 'momentum_buffer'];
let facts: InputFacts = { stateRoles: [], fromSettings: [] };

/** Optimizer-state roles present in the tensors (the header names them). */
function stateRolesOf(run: RunData): string[] {
  const roles = new Set<string>();
  for (const s of run.snapshots) for (const t of s.tensors) if (t.role && STATE_ROLES.includes(t.role)) roles.add(t.role);
  return STATE_ROLES.filter((r) => roles.has(r));
}

async function analyze(run: RunData): Promise<RunAnalysis> {
  const { options: engine, injected } = engineOptions(options, run);
  facts = { stateRoles: stateRolesOf(run), fromSettings: injected };
  const analysis = await analyzeRunData(run, engine);
  if (injected.length) {
    // Say where the figures came from: not "cli" — the extension's settings filled what the inputs lack.
    const from = run.hyper.source && run.hyper.source !== 'none' ? `${run.hyper.source} + ` : '';
    analysis.result.optimizer.source = `${from}settings defaults (${injected.join(', ')})`;
  }
  return analysis;
}

/** The result message: long runs thinned for the dashboard (decimate.ts) before crossing threads. */
function resultMessage(analysis: RunAnalysis, tailing: boolean, newRecords?: boolean): FromWorker {
  const d = decimateAnalysis(analysis, options.maxDashboardSteps ?? DEFAULT_MAX_DASHBOARD_STEPS);
  return { kind: 'result', analysis: d.analysis, tailing, newRecords, totalSteps: d.totalSteps, facts };
}

async function handle(message: ToWorker): Promise<void> {
  try {
    if (message.kind === 'analyze') {
      options = message.options ?? {};
      const single = message.paths.length === 1 ? message.paths[0] : null;
      tail = message.tail && single ? tailFor(single) : null;
      progress(0, 'reading');
      if (tail) {
        data = dedupeInputs(await tail.readNew({ onProgress: (f) => progress(f * 0.8, 'reading') }));
      } else {
        data = await readInputs(message.paths, { onProgress: (f, m) => progress(f * 0.8, m) });
      }
      progress(0.8, 'analyzing');
      const analysis = await analyze(data);
      post(resultMessage(analysis, tail !== null));
      if (!tail) data = null; // nothing to follow: do not keep the data
    } else if (message.kind === 'tail') {
      if (!tail || !data) {
        post({ kind: 'error', name: 'TailError', message: 'this input is not followed (tail mode is for one JSONL or TensorBoard file)' });
        return;
      }
      const fresh = await tail.readNew();
      const grew = fresh.observations.length + fresh.globals.length + fresh.histograms.length + fresh.snapshots.length > 0;
      if (grew || fresh.issues.length) data = dedupeInputs(mergeRunData([data, fresh]));
      post(resultMessage(await analyze(data), true, grew));
    }
  } catch (err) {
    const e = err as Error;
    post({ kind: 'error', name: e?.name ?? 'Error', message: e?.message ?? String(err) });
  }
}

parentPort?.on('message', (message: ToWorker) => {
  busy = busy.then(() => handle(message));
});
