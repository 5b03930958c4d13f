// The analysis process (forked by client.ts, bundled to dist/analysis.js): the readers and the engine run
// here, never in the extension host, under the heap ceiling and time limit the host set. Cancel = the host
// kills the process.
// A large JSONL log (a file, or a folder holding only that log) is read in bounded steps: a first analysis
// of its first megabytes is sent as soon as it exists, the final one when the last byte is read.
// Follow mode (one JSONL or TensorBoard log): the process keeps the RunData read so far and, on each 'tail'
// request, reads only the bytes appended since (JsonlTail / TfeventsTail), merges and re-analyzes.

import { statSync } from 'node:fs';
import { basename } from 'node:path';
import { analyzeRunData } from '../../core/pipeline';
import { mergeRunData } from '../../core/run/merge';
import { detectReader, planInputs, readRuns } from '../../core/readers/discover';
import { JSONL_FORMAT, JsonlTail } from '../../core/readers/jsonl';
import { isTfeventsName } from '../../core/readers/tfevents/reader';
import { TfeventsTail } from '../../core/readers/tfevents/tail';
import type { AnalyzeOptions, RunAnalysis } from '../../core/analysis';
import type { RunData } from '../../core/run/types';
import type { ReadOptions } from '../../core/readers/reader';
import type { InputFacts, RunEntry } from '../../shared/protocol';
import { decimateAnalysis, DEFAULT_MAX_DASHBOARD_STEPS } from '../decimate';
import type { AnalysisAnswer, FromAnalysis, ProcessAnalyzeOptions, ToAnalysis } from './protocol';
import { exhaustIfAsked } from './testHooks';
import { appendAnswer } from './append';
import { extendsAnalysis } from '../../shared/appendAnalysis';

interface Tail {
  readNew(options?: ReadOptions & { holdPartialStep?: boolean }): Promise<RunData>;
  /** The last read left a partial last step for the next one (JsonlTail, TfeventsTail). */
  readonly held?: boolean;
}

/**
 * Steps of a progressive read. The first is small so the first view comes fast: 4 MB of a long-form log
 * (≈ 9k records, 33 steps of a 291-tensor run) reads and analyzes in ≈ 0.4 s of CPU (16 MB took 1.6 s);
 * the later ones only bound how often progress is reported.
 */
const FIRST_STEP_BYTES = 4 * 1024 * 1024;
const STEP_BYTES = 64 * 1024 * 1024;
/** Reading is this share of a request's progress; analyzing the rest. */
const READ_SHARE = 0.8;

/**
 * The followed log: its reader, the data read so far (`pending`: what tails read since the last whole-run pass,
 * merged only when one runs — merging 582k records costs ≈ 0.15 s, more than the fast refresh itself), and the
 * last answer sent (what the fast refresh extends).
 */
let follower: { path: string; tail: Tail; data: RunData; pending: RunData[]; shown: AnalysisAnswer | null } | null = null;
let options: ProcessAnalyzeOptions = {};
let facts: InputFacts = { stateRoles: [], fromSettings: [] };

function send(message: FromAnalysis): void {
  process.send?.(message);
}

function progress(fraction: number, message: string): void {
  send({ kind: 'progress', fraction, message });
}

/** A tail reader for a growing log, or null when the file is not followed that way. */
export function tailFor(path: string): Tail | null {
  const name = basename(path);
  if (/\.(jsonl|ndjson)$/i.test(name)) return new JsonlTail(path);
  if (isTfeventsName(path)) return new TfeventsTail(path);
  return null;
}

/** The one log file the inputs consist of (the file itself, or the only input of a folder), else null. */
function singleLog(paths: string[]): string | null {
  if (paths.length !== 1) return null;
  let jobs;
  try {
    jobs = planInputs(paths).jobs;
  } catch {
    return null; // readInputs reports it
  }
  if (jobs.length !== 1 || jobs[0].paths.length !== 1) return null;
  const file = jobs[0].paths[0];
  return detectReader(file)?.format === JSONL_FORMAT || isTfeventsName(file) ? file : null;
}

/**
 * Engine options for this data. The settings' default betas/eps are passed only where the data has
 * tensors that need them (gradients or Adam state) and no input states them — the engine treats
 * options as overrides, so passing them always would hide what the inputs say.
 */
function engineOptions(o: ProcessAnalyzeOptions, runData: RunData): { options: AnalyzeOptions; injected: string[] } {
  const { defaults, maxDashboardSteps: _max, readSteps: _steps, ...rest } = o;
  const options: AnalyzeOptions = { ...rest, onProgress: (f, m) => progress(READ_SHARE + (1 - READ_SHARE) * f, m) };
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

function records(run: RunData): number {
  return run.scalars.valueCount + run.histograms.length + run.snapshots.length;
}

const STATE_ROLES = ['exp_avg', 'exp_avg_sq', 'momentum_buffer'];

/** Optimizer-state roles present in the tensors (the header names them). */
function stateRolesOf(run: RunData): string[] {
  const roles = new Set<string>();
  for (const s of run.snapshots) for (const t of s.tensors) if (t.role && STATE_ROLES.includes(t.role)) roles.add(t.role);
  return STATE_ROLES.filter((r) => roles.has(r));
}

async function analyze(run: RunData): Promise<RunAnalysis> {
  const { options: engine, injected } = engineOptions(options, run);
  facts = { stateRoles: stateRolesOf(run), fromSettings: injected, ...(run.runs ? { runs: run.runs } : {}) };
  const analysis = await analyzeRunData(run, engine);
  if (injected.length) {
    // Say where the figures came from: not "cli" — the extension's settings filled what the inputs lack.
    const from = run.hyper.source && run.hyper.source !== 'none' ? `${run.hyper.source} + ` : '';
    analysis.result.optimizer.source = `${from}settings defaults (${injected.join(', ')})`;
  }
  return analysis;
}

/** The answer: long runs thinned for the dashboard (decimate.ts) before crossing the process boundary. */
function answer(analysis: RunAnalysis, extra: Partial<AnalysisAnswer> = {}): FromAnalysis {
  const d = decimateAnalysis(analysis, options.maxDashboardSteps ?? DEFAULT_MAX_DASHBOARD_STEPS);
  return remember({ analysis: d.analysis, totalSteps: d.totalSteps, facts, followed: follower?.path ?? null, ...extra });
}

/** The message of an answer; the follower keeps it (a partial one aside) as what the views show now. */
function remember(a: AnalysisAnswer): FromAnalysis {
  if (follower && !a.partial) follower.shown = a;
  return { kind: 'answer', ...a };
}

/**
 * A followed log grew by `fresh`: its records analyzed alone and appended to the last answer, when they
 * extend it (new steps of the same layers); null when a whole-run pass is needed.
 */
async function appendedAnswer(fresh: RunData): Promise<FromAnalysis | null> {
  const shown = follower?.shown;
  if (!follower || !shown || fresh.snapshots.length || fresh.histograms.length) return null;
  const analysis = await analyze(fresh);
  if (!extendsAnalysis(shown.analysis, analysis)) return null;
  follower.shown = appendAnswer(shown, analysis, facts);
  return { kind: 'append', fresh: analysis, facts };
}

/**
 * Read a log with its tail reader in bounded steps up to the size it has now. When more than the first
 * step is to be read, the first step's analysis is sent as a partial answer (unless `steps.partial` is false).
 */
async function readProgressively(
  tail: JsonlTail,
  path: string,
  steps: { first: number | undefined; next: number | undefined; partial: boolean; follow: boolean },
): Promise<RunData> {
  const name = basename(path);
  const size = statSync(path).size;
  progress(0, `reading ${name}`);
  // A followed log ends at a whole step (JsonlTail holdPartialStep): its first tail extends what is shown.
  const holdPartialStep = steps.follow;
  const parts = [await tail.readNew({ maxBytes: steps.first, holdPartialStep })];
  if (steps.partial && tail.position < size && !tail.held) {
    const first = dedupeInputs(mergeRunData(parts));
    if (records(first) > 0) send(answer(await analyze(first), { partial: { fraction: tail.position / size } }));
  }
  // (a held step: the rest of the file is a step its writer is still writing)
  while (tail.position < size && !tail.held) {
    progress((READ_SHARE * tail.position) / size, `reading ${name}`);
    const before = tail.position;
    parts.push(await tail.readNew({ maxBytes: steps.next, holdPartialStep }));
    if (tail.position === before) break; // the rest is a line still being written
  }
  return dedupeInputs(parts.length === 1 ? parts[0] : mergeRunData(parts));
}

/**
 * Read the inputs as runs (discover.ts groups the files of each run). One run: its data, as a merged read
 * gives it. Several: each analyzed alone and thinned for the dashboard, in folder-name order — the answer
 * to send, never a merge of runs that are not one.
 */
async function readOrAnalyzeRuns(paths: string[]): Promise<{ data: RunData } | { answer: FromAnalysis }> {
  const runs = await readRuns(paths, { onProgress: (f, m) => progress(f * READ_SHARE, m) });
  if (runs.length <= 1) return { data: mergeRunData(runs.map((r) => r.data)) };
  const entries: RunEntry[] = [];
  for (const [i, run] of runs.entries()) {
    progress(READ_SHARE + ((1 - READ_SHARE) * i) / runs.length, `analyzing ${run.label}`);
    const d = decimateAnalysis(await analyze(run.data), options.maxDashboardSteps ?? DEFAULT_MAX_DASHBOARD_STEPS);
    entries.push({ label: run.label, analysis: d.analysis, totalSteps: d.totalSteps, facts });
  }
  const first = entries[0];
  return {
    answer: remember({ analysis: first.analysis, totalSteps: first.totalSteps!, facts: first.facts!, followed: null, runs: entries }),
  };
}

async function handle(message: ToAnalysis): Promise<void> {
  try {
    if (message.kind === 'analyze') {
      options = message.options ?? {};
      follower = null;
      await exhaustIfAsked(message.paths, progress);
      const log = singleLog(message.paths);
      const tail = log ? tailFor(log) : null;
      let data: RunData | null = null;
      if (log && tail instanceof JsonlTail) {
        // A pass reports no progress and shows no partial view: one read (bounded steps cost ~0.5 s of merging
        // on the 291-tensor log).
        const next = options.readSteps?.next ?? (options.partial === false ? undefined : STEP_BYTES);
        const first = options.partial === false ? next : (options.readSteps?.first ?? FIRST_STEP_BYTES);
        const steps = { first, next, partial: options.partial !== false, follow: message.follow === true };
        data = await readProgressively(tail, log, steps);
        // Not followed, a log the tail cannot finish (no records, or a last line without its newline): the
        // whole-file reader says why, or reads that line. A followed log waits for the line (or first record).
        if (!message.follow && (records(data) === 0 || tail.position < statSync(log).size)) data = null;
      } else if (log && tail && message.follow) {
        progress(0, `reading ${basename(log)}`);
        data = dedupeInputs(await tail.readNew({ holdPartialStep: true }));
      }
      if (!data) {
        const read = await readOrAnalyzeRuns(message.paths);
        if ('answer' in read) return send(read.answer);
        data = read.data;
      }
      progress(READ_SHARE, 'analyzing');
      if (message.follow && log && tail) follower = { path: log, tail, data, pending: [], shown: null };
      send(answer(await analyze(data), tail?.held ? { held: true } : {}));
    } else if (message.kind === 'tail') {
      if (!follower) {
        send({ kind: 'error', name: 'TailError', message: 'this input is not followed (follow mode is for one JSONL or TensorBoard log)' });
        return;
      }
      const fresh = dedupeInputs(await follower.tail.readNew({ holdPartialStep: true }));
      const held = follower.tail.held === true ? { held: true } : {};
      const grew = records(fresh) > 0;
      if (grew || fresh.issues.length) follower.pending.push(fresh);
      if (!grew && !fresh.issues.length && !message.full && follower.shown) {
        send({ kind: 'unchanged', ...held });
        return;
      }
      const fast = grew && !fresh.issues.length && !message.full ? await appendedAnswer(fresh) : null;
      if (fast) return send({ ...fast, ...held });
      if (follower.pending.length) {
        follower.data = dedupeInputs(mergeRunData([follower.data, ...follower.pending]));
        follower.pending = [];
      }
      send(answer(await analyze(follower.data), { newRecords: grew, ...held }));
    }
  } catch (err) {
    const e = err as Error;
    send({ kind: 'error', name: e?.name ?? 'Error', message: e?.message ?? String(err) });
  }
}

let busy: Promise<void> = Promise.resolve();
process.on('message', (message: ToAnalysis) => {
  busy = busy.then(() => handle(message));
});
// The host's end of the channel closed (the extension host exited): nothing left to answer.
process.on('disconnect', () => process.exit(0));
