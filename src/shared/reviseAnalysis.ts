// A whole-run pass of a followed log, sent as what changed. The pass re-evaluates what spans the run (findings,
// summary, issues, the table) and thins the steps afresh, but the figures of a logged step come from that step's
// records, so nearly every point the view already has comes back the same. A revision is the new analysis with,
// per layer, only the points the view lacks (a new step, a step the new thinning keeps) or whose figures
// changed: for a 291-tensor × 2,000-step dashboard a few hundred kilobytes instead of ~17 MB of packed series,
// which had held the refreshes behind it for seconds. One home for the host (which makes it, and merges it with
// the appends waiting in postFlow.ts), and the webview (which applies it to the dashboard it shows).

import type { RunAnalysis } from '../core/analysis';
import { appendAnalysis } from './appendAnalysis';
import { SERIES_FIGURES, type LayerSeries, type SeriesColumn, type SeriesFigure } from './series';

/**
 * What a view showing `prev` needs to show `next`: `next`, each layer's series holding only the points that
 * `prev` does not have with the same figures. Every layer of `next` is listed, in order (an empty series: all
 * of its points are in `prev`). Applied by `applyRevision`: a layer keeps prev's points at the steps of `next`
 * (`next.result.steps`) and takes the listed ones. null when that cannot say it: a layer of `prev` has figures
 * at a step `next` keeps where the layer has none in `next`.
 */
export function revisionOf(prev: RunAnalysis, next: RunAnalysis): RunAnalysis | null {
  const keep = new Set(next.result.steps);
  const before = new Map(prev.series.map((s) => [s.layer, s]));
  const series: LayerSeries[] = [];
  for (const s of next.series) {
    const p = before.get(s.layer);
    if (!p) {
      series.push(s);
      continue;
    }
    // each point of s: the index of prev's point at its step, or -1
    const match = new Int32Array(s.steps.length);
    let j = 0;
    for (let i = 0; i < s.steps.length; i++) {
      const step = s.steps[i]!;
      for (; j < p.steps.length && p.steps[j]! < step; j++) if (keep.has(p.steps[j]!)) return null;
      match[i] = j < p.steps.length && p.steps[j] === step ? j++ : -1;
    }
    for (; j < p.steps.length; j++) if (keep.has(p.steps[j]!)) return null;
    const send = changedPoints(p, s, match);
    series.push(send.length === s.steps.length ? s : pick(s, send));
  }
  return { ...next, series };
}

/** The analysis a view showing `prev` shows after the revision `rev` (made by `revisionOf(prev, next)`: then `next`). */
export function applyRevision(prev: RunAnalysis, rev: RunAnalysis): RunAnalysis {
  const keep = new Set(rev.result.steps);
  const before = new Map(prev.series.map((s) => [s.layer, s]));
  return { ...rev, series: rev.series.map((s) => mergeSeries(before.get(s.layer), s, keep)) };
}

/** One revision for `rev` followed by the appended records' analysis `fresh` (its steps all after rev's). */
export function reviseThenAppend(rev: RunAnalysis, fresh: RunAnalysis): RunAnalysis {
  return appendAnalysis(rev, fresh);
}

/**
 * One revision for the appended records' analysis `fresh` followed by `rev` (a revision of the state with
 * `fresh` appended): the points of `fresh` that `rev` keeps join its own.
 */
export function appendThenRevise(fresh: RunAnalysis, rev: RunAnalysis): RunAnalysis {
  const keep = new Set(rev.result.steps);
  const added = new Map(fresh.series.map((s) => [s.layer, s]));
  return { ...rev, series: rev.series.map((s) => mergeSeries(added.get(s.layer), s, keep)) };
}

/** The points of `base` at steps in `keep` that `over` does not give, and every point of `over`, in step order. */
function mergeSeries(base: LayerSeries | undefined, over: LayerSeries, keep: Set<number>): LayerSeries {
  if (!base || !base.steps.length) return over;
  const from: LayerSeries[] = [];
  const at: number[] = [];
  let i = 0;
  let j = 0;
  const b = base.steps;
  const o = over.steps;
  while (i < b.length || j < o.length) {
    if (j < o.length && (i >= b.length || o[j]! <= b[i]!)) {
      if (i < b.length && b[i] === o[j]) i++;
      from.push(over);
      at.push(j++);
    } else {
      if (keep.has(b[i]!)) {
        from.push(base);
        at.push(i);
      }
      i++;
    }
  }
  if (from.length === o.length) return over;
  const n = at.length;
  const steps = new Float64Array(n);
  for (let k = 0; k < n; k++) steps[k] = from[k]!.steps[at[k]!]!;
  const figures = {} as Record<SeriesFigure, SeriesColumn>;
  for (const f of SERIES_FIGURES) {
    const bc = base.figures[f];
    const oc = over.figures[f];
    const col = bc instanceof Float32Array && oc instanceof Float32Array ? new Float32Array(n) : new Float64Array(n);
    for (let k = 0; k < n; k++) {
      const c = from[k] === base ? bc : oc;
      col[k] = c ? c[at[k]!]! : Number.NaN;
    }
    figures[f] = col;
  }
  return { layer: over.layer, steps, figures };
}

/** The indices of the points of `s` whose figures are not those of prev's point `match[i]` (NaN: absent; -1: none). */
function changedPoints(prev: LayerSeries, s: LayerSeries, match: Int32Array): number[] {
  const n = match.length;
  const changed = new Uint8Array(n);
  for (let i = 0; i < n; i++) if (match[i]! < 0) changed[i] = 1;
  for (const f of SERIES_FIGURES) {
    const a = prev.figures[f];
    const b = s.figures[f];
    for (let i = 0; i < n; i++) {
      if (changed[i]) continue;
      const x = a ? a[match[i]!]! : Number.NaN;
      const y = b ? b[i]! : Number.NaN;
      if (x !== y && (x === x || y === y)) changed[i] = 1;
    }
  }
  const out: number[] = [];
  for (let i = 0; i < n; i++) if (changed[i]) out.push(i);
  return out;
}

/** The points of `s` at the indices `idx` (ascending). */
function pick(s: LayerSeries, idx: number[]): LayerSeries {
  const n = idx.length;
  const steps = new Float64Array(n);
  for (let k = 0; k < n; k++) steps[k] = s.steps[idx[k]!]!;
  const figures = {} as Record<SeriesFigure, SeriesColumn>;
  for (const f of SERIES_FIGURES) {
    const c = s.figures[f];
    const col = c instanceof Float32Array ? new Float32Array(n) : new Float64Array(n);
    for (let k = 0; k < n; k++) col[k] = c ? c[idx[k]!]! : Number.NaN;
    figures[f] = col;
  }
  return { layer: s.layer, steps, figures };
}
