import { mergeUnique, within } from '../arrays';
import { AnalysisError } from '../errors';
import { absentColumn, allFloat32, SERIES_FIGURES, type LayerSeries, type SeriesColumn } from '../../shared/series';
import type { AnalyzeOptions } from '../analysis';
import type { FigureName, NonFiniteObservation, OptimizerHyper, RunData } from '../run/types';
import type { LayerStats, UpdateDistribution } from './types';
import { FigureGrid, toLayerStats } from './figureGrid';
import { layerHyper, resolveHyper } from './hyper';
import { AxisScratch, LayerFigures } from './layerFigures';
import { figureColumn } from '../run/scalars';
import { applyTensorPhase, UNKNOWN_STEP } from './tensorPhase';
import { applyHistograms, applyLoggedScalars } from './logPhase';

// The engine: turns the run data it is given (tensor snapshots, logged scalars, histograms) into figures
// per layer and step, in phases that each fill what the earlier ones left unknown — tensors (one fused
// pass per layer and step), histograms, logged scalars, derived figures — then picks the report step and
// the series. A figure no input supports stays null. It reads nothing but tensor bytes (through core/io)
// and evaluates no rules: core/pipeline.ts composes the pipeline.

/** What the engine computes from a run: the resolved hyper-parameters and the figures per layer and step. */
export interface RunFigures {
  hyper: OptimizerHyper;
  /** The report step (the last with figures, or the one asked for); null when no step has figures. */
  step: number | null;
  /** Steps with figures, ascending. */
  steps: number[];
  /** Per-layer figures at the report step. */
  layers: LayerStats[];
  series: LayerSeries[];
  distributions: UpdateDistribution[];
  nonFinite: NonFiniteObservation[];
  /** Some layer has a parameter scale at some step. */
  anyParamScale: boolean;
  /** The last step at which every layer that has figures somewhere has figures (a growing log's last step may be partial). */
  lastFullStep: number | null;
  /** The learning rate per step where the figures state one (the largest over layers: per-group lrs differ), ascending steps. */
  lrByStep: { steps: number[]; values: number[] };
}

export async function computeRunFigures(data: RunData, options: AnalyzeOptions = {}): Promise<RunFigures> {
  const hyper = resolveHyper(data, options);
  const grid = new FigureGrid(data);
  const nonFinite: NonFiniteObservation[] = [...data.nonFinite];
  const distributions: UpdateDistribution[] = [];

  await applyTensorPhase(grid, hyper, options, { nonFinite, distributions });
  applyHistograms(grid);
  applyLoggedScalars(grid);

  // Derived figures (phase 4) are applied as each layer's figures are resolved, step by step.
  const layers = grid.layerOrder.map((l) => {
    const lh = layerHyper(data, hyper, options, l, undefined);
    return new LayerFigures(grid, l, { lr: lh.lr, decayFree: !lh.decoupled || lh.weightDecay === 0 });
  });
  const axis = stepAxis(grid, layers);
  // Layers some cell (tensor or histogram phase) has figures for are resolved step by step; the others column by column.
  const withCells = new Set<string>();
  for (const m of grid.cells.values()) for (const l of m.keys()) withCells.add(l);
  const scan = scanSteps(layers, axis, withCells);
  const steps: number[] = [];
  const counts: number[] = [];
  for (let i = 0; i < axis.length; i++) {
    if (scan.counts[i]! > 0) {
      steps.push(axis[i]!);
      counts.push(scan.counts[i]!);
    }
  }
  const lastFullStep = lastFullStepOf(steps, counts);
  const step = reportStep(steps, options.step, lastFullStep);
  // Tensors of no stated step: their figures are the report when nothing else has a step.
  const unknownStepOnly = step === null && grid.cells.has(UNKNOWN_STEP);
  const reportAt = unknownStepOnly ? UNKNOWN_STEP : step;
  return {
    hyper,
    step,
    steps,
    layers: reportAt === null ? [] : statsAt(grid, layers, reportAt),
    series: seriesOn(scan, axis, steps.length),
    distributions,
    nonFinite,
    anyParamScale: scan.anyParamScale,
    lastFullStep,
    lrByStep: scan.lrByStep,
  };
}

const SERIES_COLUMNS = SERIES_FIGURES.map((k) => figureColumn(k as FigureName));
const PARAM_COLUMN = figureColumn('paramRms');
const LR_COLUMN = figureColumn('lr');

/**
 * Every step any layer has a cell or a logged row at (the unknown step excluded), ascending. Layers of one
 * log mostly share their steps: each layer's steps are merged into the axis so far only where it lacks one
 * of them — linear, where a Set of every logged value's step cost ~0.2 s on 6.3M values.
 */
function stepAxis(grid: FigureGrid, layers: LayerFigures[]): Float64Array {
  const cellSteps = Float64Array.from([...grid.cells.keys()].filter((s) => s !== UNKNOWN_STEP)).sort();
  let axis = uniqueSorted(cellSteps);
  for (const l of layers) {
    const steps = l.loggedSteps();
    if (!within(steps, axis)) axis = mergeUnique(axis, steps);
  }
  return axis;
}

/** The distinct values of an ascending array. */
function uniqueSorted(a: Float64Array): Float64Array {
  let n = 0;
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) if (n === 0 || a[i] !== out[n - 1]) out[n++] = a[i]!;
  return out.subarray(0, n);
}

interface Scan {
  /** Per axis step: layers with a charted figure there. */
  counts: Int32Array;
  lrByStep: { steps: number[]; values: number[] };
  anyParamScale: boolean;
  /** Per layer with figures at a step of the series: its series columns over the axis (null: no value at any step). */
  columns: { layer: string; columns: (SeriesColumn | null)[] }[];
}

/**
 * One pass over every (layer, step) — each layer's figures are resolved once per step: layers with a
 * charted figure per step, the lr per step, any scale, and the series columns, written straight from the
 * resolved row into one Float64Array per (layer, figure) that has a value somewhere.
 */
function scanSteps(layers: LayerFigures[], axis: Float64Array, withCells: ReadonlySet<string>): Scan {
  const n = axis.length;
  const counts = new Int32Array(n);
  const lr = new Float64Array(n).fill(-Infinity);
  const pending: { layer: string; columns: (SeriesColumn | null)[]; present: boolean; uncharted: number[] }[] = [];
  let anyParamScale = false;
  const K = SERIES_COLUMNS.length;
  const scratch = new AxisScratch(n);
  for (const l of layers) {
    const cols: (SeriesColumn | null)[] = new Array<SeriesColumn | null>(K).fill(null);
    // Steps where the layer has figures but none charted: it is in the series if another layer charts one there.
    const uncharted: number[] = [];
    let present = false;
    const count = (i: number, charted: boolean): void => {
      if (charted) {
        counts[i]++;
        present = true;
      } else if (!present) uncharted.push(i);
    };
    if (!withCells.has(l.layer)) {
      // Logged figures only: resolved column by column, the series columns used as they come.
      const r = l.resolveAxis(axis, scratch);
      // A column that is the logged table's own (a value at every step) is the series column as it is: no
      // copy (on the 291-tensor CSV log 33 MB and ~0.1 s of a 1.2 s analysis). The others are copied out of
      // the scratch into one float32 array per layer for the columns whose every value is a float32 (logged
      // float32 figures: 57 → 29 MB on a 52,721-step × 24-layer TensorBoard run) and one float64 array for
      // the rest: two allocations, not one per figure.
      let narrow = 0;
      let wide = 0;
      const isNarrow: boolean[] = new Array<boolean>(K).fill(false);
      for (let k = 0; k < K; k++) {
        const c = r.v[SERIES_COLUMNS[k]!];
        if (!c) continue;
        if (r.shared[SERIES_COLUMNS[k]!] === 1) cols[k] = c;
        else if (allFloat32(c)) {
          isNarrow[k] = true;
          narrow++;
        } else wide++;
      }
      const slab32 = narrow ? new Float32Array(narrow * n) : null;
      const slab64 = wide ? new Float64Array(wide * n) : null;
      for (let k = 0, at32 = 0, at64 = 0; k < K; k++) {
        const c = r.v[SERIES_COLUMNS[k]!];
        if (!c || cols[k] !== null) continue;
        if (isNarrow[k]) {
          slab32!.set(c, at32);
          cols[k] = slab32!.subarray(at32, at32 + n);
          at32 += n;
        } else {
          slab64!.set(c, at64);
          cols[k] = slab64!.subarray(at64, at64 + n);
          at64 += n;
        }
      }
      if (r.v[PARAM_COLUMN]) anyParamScale = true;
      const lrs = r.v[LR_COLUMN];
      for (let i = 0; i < n; i++) {
        if (r.present[i] === 0) continue;
        let charted = false;
        for (let k = 0; k < K && !charted; k++) charted = cols[k] !== null && !Number.isNaN(cols[k]![i]!);
        count(i, charted);
        if (lrs) {
          const x = lrs[i]!;
          if (Number.isFinite(x) && x > lr[i]!) lr[i] = x;
        }
      }
      pending.push({ layer: l.layer, columns: cols, present, uncharted });
      continue;
    }
    l.restart();
    const v = l.row.v;
    for (let i = 0; i < n; i++) {
      if (!l.at(axis[i]!)) continue;
      let charted = false;
      for (let k = 0; k < K; k++) {
        const x = v[SERIES_COLUMNS[k]!]!;
        if (Number.isNaN(x)) continue;
        charted = true;
        (cols[k] ??= new Float64Array(n).fill(Number.NaN))[i] = x;
      }
      count(i, charted);
      if (!Number.isNaN(v[PARAM_COLUMN]!)) anyParamScale = true;
      const x = v[LR_COLUMN]!;
      if (Number.isFinite(x) && x > lr[i]!) lr[i] = x;
    }
    pending.push({ layer: l.layer, columns: cols, present, uncharted });
  }
  const columns = pending
    .filter((p) => p.present || p.uncharted.some((i) => counts[i]! > 0))
    .map((p) => ({ layer: p.layer, columns: p.columns }));
  // The learning rate per step where the figures state one (the largest over layers: per-group lrs differ).
  const lrByStep = { steps: [] as number[], values: [] as number[] };
  for (let i = 0; i < n; i++) {
    if (lr[i] !== -Infinity && counts[i]! > 0) {
      lrByStep.steps.push(axis[i]!);
      lrByStep.values.push(lr[i]!);
    }
  }
  return { counts, lrByStep, anyParamScale, columns };
}

/**
 * The series over the steps with figures: one step axis shared by every layer (a layer has NaN where it
 * has no figure), each layer's columns used as they are when every axis step has figures (the usual case),
 * else the steps with figures copied out; a figure a layer never has is one shared all-NaN column.
 */
function seriesOn(scan: Scan, axis: Float64Array, count: number): LayerSeries[] {
  const full = count === axis.length;
  const keep = full ? null : new Int32Array(count);
  if (keep) for (let i = 0, o = 0; i < axis.length; i++) if (scan.counts[i]! > 0) keep[o++] = i;
  const pick = <C extends SeriesColumn>(c: C): C => {
    if (!keep) return c;
    const out = (c instanceof Float32Array ? new Float32Array(keep.length) : new Float64Array(keep.length)) as C;
    for (let o = 0; o < keep.length; o++) out[o] = c[keep[o]!]!;
    return out;
  };
  const steps = pick(axis);
  const absent = absentColumn(count);
  return scan.columns.map(({ layer, columns }) => {
    const figures = {} as LayerSeries['figures'];
    SERIES_FIGURES.forEach((f, k) => {
      const c = columns[k];
      figures[f] = c ? pick(c) : absent;
    });
    return { layer, steps, figures };
  });
}

/** The last step at which as many layers have figures as at the fullest step. */
function lastFullStepOf(steps: number[], counts: number[]): number | null {
  if (!steps.length) return null;
  let most = 0;
  for (const c of counts) if (c > most) most = c;
  for (let i = steps.length - 1; i >= 0; i--) if (counts[i] === most) return steps[i]!;
  return null;
}

/** The figures of every layer at `step`, in layer order. */
function statsAt(grid: FigureGrid, layers: LayerFigures[], step: number): LayerStats[] {
  const out: LayerStats[] = [];
  for (const l of layers) {
    l.restart();
    if (!l.at(step)) continue;
    out.push(
      toLayerStats(
        l.layer,
        l.snapshot(),
        grid.data.layerShapes[l.layer] ?? null,
        grid.numelOf.get(l.layer) ?? null,
        grid.optimizerOf.get(l.layer),
      ),
    );
  }
  return out;
}

/** The last step with full figures (every layer), or the one asked for (which must have figures). */
function reportStep(steps: number[], asked: number | undefined, lastFullStep: number | null): number | null {
  if (asked === undefined) return lastFullStep ?? (steps.length ? steps[steps.length - 1] : null);
  if (!steps.includes(asked)) throw new AnalysisError(`step ${asked} has no figures; steps with figures: ${summarizeSteps(steps)}`);
  return asked;
}

function summarizeSteps(steps: number[]): string {
  if (steps.length === 0) return 'none';
  if (steps.length <= 12) return steps.join(', ');
  return `${steps.slice(0, 5).join(', ')}, …, ${steps.slice(-5).join(', ')} (${steps.length} steps)`;
}
