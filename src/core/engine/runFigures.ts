import { AnalysisError } from '../errors';
import { SERIES_FIGURES, type LayerSeries } from '../../shared/series';
import type { AnalyzeOptions } from '../analysis';
import type { FigureName, NonFiniteObservation, OptimizerHyper, RunData } from '../run/types';
import type { LayerStats, UpdateDistribution } from './types';
import { FigureGrid } from './figureGrid';
import { resolveHyper } from './hyper';
import { applyTensorPhase, UNKNOWN_STEP } from './tensorPhase';
import { applyHistograms, applyLoggedScalars } from './logPhase';
import { applyDerivedFigures } from './derivedPhase';

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
  applyDerivedFigures(grid, hyper, options);

  const steps = stepsWithFigures(grid);
  const lastFullStep = lastFullStepOf(grid, steps);
  const step = reportStep(steps, options.step, lastFullStep);
  // Tensors of no stated step: their figures are the report when nothing else has a step.
  const unknownStepOnly = step === null && grid.cells.has(UNKNOWN_STEP);
  return {
    hyper,
    step,
    steps,
    layers: grid.statsAt(unknownStepOnly ? UNKNOWN_STEP : step),
    series: seriesOf(grid, steps),
    distributions,
    nonFinite,
    anyParamScale: [...grid.cells.values()].some((m) => [...m.values()].some((c) => c.figures.paramRms != null)),
    lastFullStep,
    lrByStep: lrByStep(grid, steps),
  };
}

/** Layers with a charted figure at a step. */
function layersWithFigures(grid: FigureGrid, step: number): number {
  let n = 0;
  for (const c of grid.cells.get(step)?.values() ?? []) if (SERIES_FIGURES.some((k) => c.figures[k as FigureName] != null)) n++;
  return n;
}

function lastFullStepOf(grid: FigureGrid, steps: number[]): number | null {
  if (!steps.length) return null;
  const counts = steps.map((s) => layersWithFigures(grid, s));
  const most = Math.max(...counts);
  for (let i = steps.length - 1; i >= 0; i--) if (counts[i] === most) return steps[i];
  return null;
}

function lrByStep(grid: FigureGrid, steps: number[]): { steps: number[]; values: number[] } {
  const out = { steps: [] as number[], values: [] as number[] };
  for (const s of steps) {
    let lr = -Infinity;
    for (const c of grid.cells.get(s)?.values() ?? []) {
      const v = c.figures.lr;
      if (v !== null && v !== undefined && Number.isFinite(v) && v > lr) lr = v;
    }
    if (lr !== -Infinity) {
      out.steps.push(s);
      out.values.push(lr);
    }
  }
  return out;
}

/** Steps where some layer has a figure the charts plot. */
function stepsWithFigures(grid: FigureGrid): number[] {
  return [...grid.cells.keys()]
    .filter((s) => s !== UNKNOWN_STEP)
    .filter((s) => [...grid.cells.get(s)!.values()].some((c) => SERIES_FIGURES.some((k) => c.figures[k as FigureName] != null)))
    .sort((a, b) => a - b);
}

/** The last step with full figures (every layer), or the one asked for (which must have figures). */
function reportStep(steps: number[], asked: number | undefined, lastFullStep: number | null): number | null {
  if (asked === undefined) return lastFullStep ?? (steps.length ? steps[steps.length - 1] : null);
  if (!steps.includes(asked)) throw new AnalysisError(`step ${asked} has no figures; steps with figures: ${summarizeSteps(steps)}`);
  return asked;
}

function seriesOf(grid: FigureGrid, steps: number[]): LayerSeries[] {
  return grid.layerOrder
    .filter((l) => steps.some((s) => grid.cells.get(s)?.has(l)))
    .map((l) => {
      const figures = Object.fromEntries(
        SERIES_FIGURES.map((k) => [k, steps.map((s) => (grid.cells.get(s)?.get(l)?.figures[k as FigureName] ?? null) as number | null)]),
      ) as LayerSeries['figures'];
      return { layer: l, steps, figures };
    });
}

function summarizeSteps(steps: number[]): string {
  if (steps.length === 0) return 'none';
  if (steps.length <= 12) return steps.join(', ');
  return `${steps.slice(0, 5).join(', ')}, …, ${steps.slice(-5).join(', ')} (${steps.length} steps)`;
}
