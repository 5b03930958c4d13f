// Analyses of a fixture log's parts and thinned analyses, for the tests of a followed log's refreshes
// (appending new steps, revising after a whole-run pass, the host's and the webview's merging of them).

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { analyzePaths } from '../../src/core/pipeline';
import type { RunAnalysis } from '../../src/core/analysis';
import { SERIES_FIGURES, type LayerSeries } from '../../src/shared/series';
import { fixturePath } from './fixtures';

/**
 * The fixture log `run/stats.jsonl` cut at the given steps (records of step ≤ cut go before it), each part
 * written to `dir` and analyzed alone: what a followed log's refreshes read.
 */
export async function logPieces(dir: string, run: string, cuts: number[]): Promise<RunAnalysis[]> {
  const lines = readFileSync(fixturePath(run, 'stats.jsonl'), 'utf8').split('\n').filter(Boolean);
  const out: RunAnalysis[] = [];
  let from = 0;
  for (const cut of [...cuts, Infinity]) {
    const part = lines.slice(from).filter((l) => (JSON.parse(l) as { step: number }).step <= cut);
    from += part.length;
    const file = join(dir, `${run}-${cuts.join('-')}-${out.length}.jsonl`);
    writeFileSync(file, part.join('\n') + '\n');
    out.push(await analyzePaths([file]));
  }
  return out;
}

/** `a` with only the steps `keep` accepts (by index in the run's step list), as the dashboard's thinning leaves it. */
export function thinAnalysis(a: RunAnalysis, keep: (index: number) => boolean): RunAnalysis {
  const kept = new Set(a.result.steps.filter((_, i) => keep(i)));
  const series = a.series.map((s): LayerSeries => {
    const idx = [...s.steps.keys()].filter((i) => kept.has(s.steps[i]!));
    const figures = Object.fromEntries(
      SERIES_FIGURES.map((f) => [f, Float64Array.from(idx, (i) => s.figures[f][i]!)]),
    ) as LayerSeries['figures'];
    return { layer: s.layer, steps: Float64Array.from(idx, (i) => s.steps[i]!), figures };
  });
  return { ...a, result: { ...a.result, steps: a.result.steps.filter((s) => kept.has(s)) }, series };
}
