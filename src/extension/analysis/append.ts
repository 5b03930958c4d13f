// The fast refresh of a followed log: the records a writer appended are analyzed alone and their steps are
// appended to the analysis on screen (src/shared/appendAnalysis.ts), instead of analyzing the whole run
// again; what spans the run — the findings — is re-evaluated by a whole-run pass once the log is quiet.
// On a 291-tensor × 2,000-step log one whole-run pass takes ≈ 5 s on an idle 2-core machine; analyzing 1 MB
// of new records takes tens of milliseconds.

import type { RunAnalysis } from '../../core/analysis';
import type { InputFacts } from '../../shared/protocol';
import { appendAnalysis } from '../../shared/appendAnalysis';
import type { AnalysisAnswer } from './protocol';

/**
 * The answer after a fast refresh: `fresh` appended to `prev`. The analysis process and the host's client
 * both compute it (only `fresh` crosses the process boundary: ~1 MB of records' analysis instead of the
 * whole run's 18 MB of series); the answer keeps `fresh` (the host posts only it to a webview that shows `prev`).
 */
export function appendAnswer(prev: AnalysisAnswer, fresh: RunAnalysis, facts: InputFacts): AnalysisAnswer {
  const analysis = appendAnalysis(prev.analysis, fresh);
  analysis.result.inputs = prev.analysis.result.inputs;
  return {
    ...prev,
    analysis,
    totalSteps: prev.totalSteps + fresh.result.steps.length,
    facts,
    newRecords: true,
    appended: true,
    fresh,
  };
}
