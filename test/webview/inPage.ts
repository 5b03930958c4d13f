// Test data built inside the page (bundled by the harness and added as an init script, like the fake
// acquireVsCodeApi): a 291-tensor analysis is 37 MB of packed series, which would take minutes to push
// through the DevTools protocol on a loaded machine; made in the page it is posted as the host posts it —
// wire.ts' packed ArrayBuffers, structured-cloned by postMessage.

import { toWire } from '../../src/extension/wire';
import { DEFAULT_THRESHOLDS } from '../../src/core/rules/types';
import { MessageType, type ToWebviewMessage } from '../../src/shared/protocol';
import { llamaRunAnalysis } from '../support/llamaRun';
import type { RunAnalysis } from '../../src/core/analysis';
import type { SeriesFigure } from '../../src/shared/series';
import { revisionOf } from '../../src/shared/reviseAnalysis';

/** The Llama-7B-shaped dashboard message, as posted over the wire. */
export function llamaMessage(title = 'llama-7b/'): ToWebviewMessage {
  const analysis = llamaRunAnalysis();
  return toWire({
    type: MessageType.ShowAnalysis,
    title,
    analysis,
    settings: { thresholds: { ...DEFAULT_THRESHOLDS }, targetRelativeStep: 1e-3, defaultEps: 1e-8 },
    totalSteps: analysis.result.steps.length,
  });
}

/**
 * What the host posts when the run of llamaMessage, at `from` steps, grew to `to` steps: the new records'
 * analysis alone (AppendSteps), cut from the same run analyzed with its new steps; traced like a live refresh.
 */
export function llamaAppendMessage(from = 2000, to = 2002, title = 'llama-7b/'): ToWebviewMessage {
  const grown = llamaRunAnalysis({ steps: to });
  const now = Date.now();
  return toWire({
    type: MessageType.AppendSteps,
    base: { lastStep: from * 10, steps: from },
    fresh: stepsAfter(grown, from * 10),
    title,
    totalSteps: to,
    trace: { requested: now, answered: now },
  });
}

/**
 * What the host posts after a whole-run pass of the run of llamaMessage (2,000 steps shown): the pass thinned the
 * run to every other step and kept only its first finding; sent as the revision of what the view shows.
 */
export function llamaReviseMessage(base = { lastStep: 20000, steps: 2000 }): ToWebviewMessage {
  const shown = llamaRunAnalysis();
  const kept = new Set(shown.result.steps.filter((_, i) => i % 2 === 1));
  const next: RunAnalysis = {
    ...shown,
    result: { ...shown.result, steps: shown.result.steps.filter((s) => kept.has(s)), findings: shown.result.findings.slice(0, 1) },
    series: shown.series.map((s) => {
      const idx = [...s.steps.keys()].filter((i) => kept.has(s.steps[i]!));
      const figures = { ...s.figures };
      for (const f of Object.keys(figures) as SeriesFigure[]) figures[f] = Float64Array.from(idx, (i) => s.figures[f][i]!);
      return { layer: s.layer, steps: Float64Array.from(idx, (i) => s.steps[i]!), figures };
    }),
  };
  const now = Date.now();
  return toWire({
    type: MessageType.ReviseRun,
    base,
    analysis: revisionOf(shown, next)!,
    title: 'llama-7b/ (revised)',
    totalSteps: 2000,
    trace: { requested: now, answered: now },
  });
}

/** The part of an analysis after `step` (what analyzing only the records of later steps gives). */
export function stepsAfter(a: RunAnalysis, step: number): RunAnalysis {
  const steps = a.result.steps.filter((s) => s > step);
  return {
    ...a,
    result: { ...a.result, steps, findings: [] },
    summary: {
      steps: { first: steps[0], last: steps[steps.length - 1], count: steps.length },
      lrSchedule: a.summary?.lrSchedule ?? null,
      lastFullStep: a.summary?.lastFullStep ?? null,
    },
    series: a.series.map((s) => {
      const from = s.steps.findIndex((x) => x > step);
      const figures = { ...s.figures };
      for (const f of Object.keys(figures) as SeriesFigure[]) figures[f] = s.figures[f].slice(from);
      return { layer: s.layer, steps: s.steps.slice(from), figures };
    }),
    globals: a.globals.filter((g) => g.step > step),
  };
}
