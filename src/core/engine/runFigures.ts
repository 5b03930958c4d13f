import { AnalysisError } from '../errors';
import { SERIES_FIGURES, type LayerSeries } from '../../shared/series';
import type { AnalyzeOptions } from '../analysis';
import type { FigureName, NonFiniteObservation, OptimizerHyper, RunData, TensorRef, TensorRole } from '../run/types';
import type { LayerStats, UpdateDistribution } from './types';
import { replayAdam } from './replay';
import { computeAllTensorFigures } from './parallel';
import { U_HISTOGRAM_EDGES, type AdamStepHyper, type LayerTensorSet } from './tensorStats';

// The engine: turns the run data it is given (tensor snapshots, logged scalars, histograms) into figures
// per layer and step, computing what tensors allow (one fused pass per layer and step). Precedence for a
// figure: tensors > histograms (exact) > logs; a figure no input supports stays null. It reads nothing
// but tensor bytes (through core/io) and evaluates no rules: core/analysis.ts composes the pipeline.

type Figures = { [K in FigureName]?: number | null };

interface Cell {
  figures: Figures;
  provenance: Record<string, string>;
}

/** The figures that make a step count as having figures: the ones charts plot. */
const REPORTED = SERIES_FIGURES;

function setFigure(cell: Cell, name: FigureName, value: number | null | undefined, source: string, override = false): void {
  if (value === undefined) return;
  if (!override && cell.figures[name] !== undefined && cell.figures[name] !== null) return;
  if (value === null && cell.figures[name] !== undefined) return;
  cell.figures[name] = value;
  cell.provenance[name] = source;
}

/** Hyper-parameters after options, inputs and logged values are combined: every field resolved (null = unknown). */
type ResolvedHyper = OptimizerHyper;

function resolveHyper(data: RunData, options: AnalyzeOptions): ResolvedHyper {
  const h = data.hyper;
  const fromOpt =
    options.lr !== undefined || options.betas || options.eps !== undefined || options.weightDecay !== undefined || options.optimizer;
  const fromData = h.lr != null || h.betas != null || h.eps != null || h.type != null;
  let lr = options.lr ?? h.lr ?? null;
  if (lr === null) {
    // A logged global lr (last value) is a learning rate the run states.
    for (let i = data.globals.length - 1; i >= 0 && lr === null; i--) {
      const v = data.globals[i].values.lr;
      if (v !== undefined && Number.isFinite(v)) lr = v;
    }
    for (let i = data.observations.length - 1; i >= 0 && lr === null; i--) {
      const v = data.observations[i].figures.lr;
      if (v !== undefined && v !== null && Number.isFinite(v)) lr = v;
    }
  }
  return {
    type: options.optimizer ?? h.type ?? null,
    lr,
    betas: options.betas ?? h.betas ?? null,
    eps: options.eps ?? h.eps ?? null,
    weightDecay: options.weightDecay ?? h.weightDecay ?? null,
    source: fromOpt && fromData ? 'mixed' : fromOpt ? 'cli' : (h.source ?? (lr !== null ? 'log' : 'none')),
  };
}

/** Per-layer hyper-parameters: the layer's parameter group where the input states groups. */
function layerHyper(
  data: RunData,
  hyper: ResolvedHyper,
  options: AnalyzeOptions,
  layer: string,
  snapshotLr: number | undefined,
): AdamStepHyper {
  const group = data.paramGroups?.find((g) => g.layers.includes(layer));
  const lr = options.lr ?? snapshotLr ?? group?.lr ?? hyper.lr;
  const betas = options.betas ?? group?.betas ?? hyper.betas;
  return {
    lr: lr ?? null,
    beta1: betas ? betas[0] : null,
    beta2: betas ? betas[1] : null,
    eps: options.eps ?? group?.eps ?? hyper.eps,
    weightDecay: options.weightDecay ?? group?.weightDecay ?? hyper.weightDecay,
    decoupled: hyper.type === 'adamw',
  };
}

type RoleMap = Partial<Record<TensorRole, TensorRef>>;

/** Tensor roles per (step, layer), with 'param' resolved: the parameter a gradient was taken at is param_before. */
function indexSnapshots(data: RunData): Map<number, Map<string, { roles: RoleMap; lr?: number; savedIsAfter: boolean }>> {
  const byStep = new Map<number, Map<string, { roles: RoleMap; lr?: number; savedIsAfter: boolean }>>();
  for (const snap of data.snapshots) {
    if (snap.step === null) {
      data.issues.push({
        severity: 'warning',
        path: snap.path,
        message: 'the optimizer step of this snapshot is unknown (not in the file or its name): its tensors are not used',
      });
      continue;
    }
    let layers = byStep.get(snap.step);
    if (!layers) byStep.set(snap.step, (layers = new Map()));
    const withGrad = new Set(snap.tensors.filter((t) => t.role === 'grad').map((t) => t.layer));
    for (const t of snap.tensors) {
      let entry = layers.get(t.layer);
      if (!entry) layers.set(t.layer, (entry = { roles: {}, savedIsAfter: false }));
      let role = t.role;
      if (role === 'param') role = withGrad.has(t.layer) ? 'param_before' : 'param';
      if (!entry.roles[role]) entry.roles[role] = t;
      if (entry.lr === undefined && snap.scalars?.lr !== undefined) entry.lr = snap.scalars.lr;
    }
  }
  return byStep;
}

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
}

export async function computeRunFigures(data: RunData, options: AnalyzeOptions = {}): Promise<RunFigures> {
  const hyper = resolveHyper(data, options);
  const cells = new Map<number, Map<string, Cell>>();
  const cellOf = (step: number, layer: string): Cell => {
    let m = cells.get(step);
    if (!m) cells.set(step, (m = new Map()));
    let c = m.get(layer);
    if (!c) m.set(layer, (c = { figures: {}, provenance: {} }));
    return c;
  };
  const numelOf = new Map<string, number>();
  for (const [l, s] of Object.entries(data.layerShapes))
    numelOf.set(
      l,
      s.reduce((a, b) => a * b, 1),
    );
  const layerOrder = [...data.layerOrder];
  // Called once per observation (hundreds of thousands in a long log): a Set, not a scan of the order.
  const knownLayers = new Set(layerOrder);
  const addLayer = (l: string): void => {
    if (!knownLayers.has(l)) {
      knownLayers.add(l);
      layerOrder.push(l);
    }
  };
  const nonFinite: NonFiniteObservation[] = [...data.nonFinite];
  const distributions: UpdateDistribution[] = [];

  // 1. Tensors: one fused pass per (step, layer).
  const snapIndex = indexSnapshots(data);
  const snapSteps = [...snapIndex.keys()].sort((a, b) => a - b);
  const work: { step: number; layer: string; set: LayerTensorSet; lr?: number }[] = [];
  for (const step of snapSteps) {
    for (const [layer, entry] of snapIndex.get(step)!) {
      const r = entry.roles;
      const set: LayerTensorSet = { layer, step };
      set.paramBefore = r.param_before;
      set.grad = r.grad;
      set.expAvg = r.exp_avg;
      set.expAvgSq = r.exp_avg_sq;
      set.momentumBuffer = r.momentum_buffer;
      set.paramAfter = r.param_after ?? (r.param_before ? r.param : undefined);
      if (!set.paramAfter && set.paramBefore) {
        // The parameter the next step consumed is the one this step left.
        const next = snapIndex.get(step + 1)?.get(layer)?.roles;
        set.paramAfter = next?.param_before;
      }
      // Without the parameter the step consumed, the saved one (after step t) is the scale, documented as such.
      if (!set.paramBefore && (r.param ?? r.param_after)) set.paramSaved = r.param ?? r.param_after;
      if (!set.paramBefore && !set.paramSaved && !set.grad && !set.expAvg && !set.momentumBuffer) continue;
      work.push({ step, layer, set, lr: entry.lr });
    }
  }
  const hypers = work.map((w) => layerHyper(data, hyper, options, w.layer, w.lr));
  const figures = await computeAllTensorFigures(
    work.map((w, i) => ({ set: w.set, hyper: hypers[i] })),
    {
      signal: options.signal,
      onDone: (done, job) => options.onProgress?.(done / Math.max(1, work.length), `${job.set.layer} @ step ${job.set.step}`),
    },
  );
  for (let wi = 0; wi < work.length; wi++) {
    const w = work[wi];
    const lh = hypers[wi];
    const f = figures[wi];
    addLayer(w.layer);
    numelOf.set(w.layer, f.numel);
    const c = cellOf(w.step, w.layer);
    const src = 'tensors';
    setFigure(c, 'paramRms', f.paramRms, f.paramTiming === 'saved' ? 'tensors (saved after the step)' : src);
    setFigure(c, 'paramNorm', f.paramNorm, src);
    setFigure(c, 'gradRms', f.gradRms, src);
    setFigure(c, 'gradNorm', f.gradNorm, src);
    setFigure(c, 'updateRms', f.updateRms, src);
    setFigure(c, 'updateNorm', f.updateNorm, src);
    setFigure(c, 'adamUpdateRms', f.adamUpdateRms, src);
    setFigure(c, 'epsDominatedFraction', f.epsDominatedFraction, src);
    setFigure(c, 'sqrtVHatRms', f.sqrtVHatRms, src);
    setFigure(c, 'exp_avgRms', f.expAvgRms, src);
    setFigure(c, 'decayRms', f.decayRms, src);
    setFigure(c, 'momentumBufferRms', f.momentumBufferRms, src);
    setFigure(c, 'lr', lh.lr, 'hyper');
    if (f.updateRms !== null && f.paramRms !== null && f.paramTiming === 'before') {
      setFigure(c, 'relStep', f.paramRms > 0 ? f.updateRms / f.paramRms : null, src);
    }
    if (f.predictedUpdateRms !== null && f.paramRms !== null) {
      setFigure(c, 'relStepPredicted', f.paramRms > 0 ? f.predictedUpdateRms / f.paramRms : null, src);
    }
    if (f.uHistogram) distributions.push({ layer: w.layer, step: w.step, edges: U_HISTOGRAM_EDGES, counts: f.uHistogram });
    const refs: Record<string, TensorRef | undefined> = {
      param: w.set.paramBefore ?? w.set.paramSaved,
      grad: w.set.grad,
      param_after: w.set.paramAfter,
      exp_avg: w.set.expAvg,
      exp_avg_sq: w.set.expAvgSq,
      momentum_buffer: w.set.momentumBuffer,
    };
    for (const nf of f.nonFinite) {
      nonFinite.push({
        path: refs[nf.what]?.source.path ?? '',
        step: w.step,
        layer: w.layer,
        what: nf.what,
        count: nf.count,
        firstIndex: nf.firstIndex,
      });
    }
  }

  // 1b. Adam replayed from a complete gradient history where the optimizer state is missing.
  if (hyper.type !== 'sgd') await replayWhereStateMissing(data, snapIndex, hyper, options, cellOf, distributions);

  // 2. Histograms (exact RMS from sum_squares/num).
  for (const h of data.histograms) {
    if (h.num <= 0) continue;
    const value = Math.sqrt(h.sumSquares / h.num);
    const c = cellOf(h.step, h.layer);
    addLayer(h.layer);
    const src = h.approximate ? 'histogram (approximate)' : 'histogram';
    if (h.quantity === 'adam_u') setFigure(c, 'adamUpdateRms', value, src);
    else if (h.role === 'param' || h.role === 'param_before') setFigure(c, 'paramRms', value, src);
    else if (h.role === 'grad') setFigure(c, 'gradRms', value, src);
    else if (h.role === 'momentum_buffer') setFigure(c, 'momentumBufferRms', value, src);
    if (!numelOf.has(h.layer) && !h.approximate) numelOf.set(h.layer, h.num);
  }

  // 3. Logged scalars.
  for (const o of data.observations) {
    addLayer(o.layer);
    if (o.numel !== undefined && !numelOf.has(o.layer)) numelOf.set(o.layer, o.numel);
    if (o.shape && !data.layerShapes[o.layer]) data.layerShapes[o.layer] = o.shape;
    const c = cellOf(o.step, o.layer);
    for (const [k, v] of Object.entries(o.figures) as [FigureName, number | null][]) setFigure(c, k, v, 'log');
  }

  // 4. Derived figures: norms → RMS where numel is known; ratios.
  for (const [step, layers] of cells) {
    for (const [layer, c] of layers) {
      const f = c.figures;
      const n = numelOf.get(layer);
      if (n) {
        const pairs: [FigureName, FigureName][] = [
          ['paramRms', 'paramNorm'],
          ['gradRms', 'gradNorm'],
          ['updateRms', 'updateNorm'],
        ];
        for (const [r, nm] of pairs) {
          const norm = f[nm];
          if ((f[r] === undefined || f[r] === null) && norm !== undefined && norm !== null)
            setFigure(c, r, norm / Math.sqrt(n), `${c.provenance[nm]} (norm/√numel)`);
        }
      }
      if (
        (f.relStep === undefined || f.relStep === null) &&
        f.updateRms != null &&
        f.paramRms != null &&
        f.paramRms > 0 &&
        c.provenance.relStep === undefined
      ) {
        setFigure(c, 'relStep', f.updateRms / f.paramRms, 'derived');
      }
      if (
        (f.relStepPredicted === undefined || f.relStepPredicted === null) &&
        f.adamUpdateRms != null &&
        f.paramRms != null &&
        f.paramRms > 0
      ) {
        const lh = layerHyper(data, hyper, options, layer, undefined);
        const lr = f.lr ?? lh.lr;
        const decayFree = !lh.decoupled || lh.weightDecay === 0;
        if (lr !== null && lr !== undefined && decayFree) setFigure(c, 'relStepPredicted', (lr * f.adamUpdateRms) / f.paramRms, 'derived');
      }
      void step;
    }
  }

  // 5. Steps, reported step, layer table, series.
  const steps = [...cells.keys()]
    .filter((s) => [...cells.get(s)!.values()].some((c) => REPORTED.some((k) => c.figures[k as FigureName] != null)))
    .sort((a, b) => a - b);
  let step: number | null = steps.length ? steps[steps.length - 1] : null;
  if (options.step !== undefined) {
    if (!steps.includes(options.step)) {
      throw new AnalysisError(`step ${options.step} has no figures; steps with figures: ${summarizeSteps(steps)}`);
    }
    step = options.step;
  }
  const statsAt = (s: number | null): LayerStats[] =>
    layerOrder
      .filter((l) => s !== null && cells.get(s)?.has(l))
      .map((l) => toLayerStats(l, cells.get(s!)!.get(l)!, data.layerShapes[l] ?? null, numelOf.get(l) ?? null));
  const layers = statsAt(step);

  const series: LayerSeries[] = layerOrder
    .filter((l) => steps.some((s) => cells.get(s)?.has(l)))
    .map((l) => {
      const figures = Object.fromEntries(
        SERIES_FIGURES.map((k) => [k, steps.map((s) => (cells.get(s)?.get(l)?.figures[k as FigureName] ?? null) as number | null)]),
      ) as LayerSeries['figures'];
      return { layer: l, steps, figures };
    });

  const anyParamScale = [...cells.values()].some((m) => [...m.values()].some((c) => c.figures.paramRms != null));
  return { hyper, step, steps, layers, series, distributions, nonFinite, anyParamScale };
}

function summarizeSteps(steps: number[]): string {
  if (steps.length === 0) return 'none';
  if (steps.length <= 12) return steps.join(', ');
  return `${steps.slice(0, 5).join(', ')}, …, ${steps.slice(-5).join(', ')} (${steps.length} steps)`;
}

function toLayerStats(name: string, c: Cell, shape: number[] | null, numel: number | null): LayerStats {
  const g = (k: FigureName): number | null => {
    const v = c.figures[k];
    return v === undefined ? null : v;
  };
  return {
    name,
    shape,
    numel,
    paramRms: g('paramRms'),
    gradRms: g('gradRms'),
    updateRms: g('updateRms'),
    relStep: g('relStep'),
    adamUpdateRms: g('adamUpdateRms'),
    relStepPredicted: g('relStepPredicted'),
    epsDominatedFraction: g('epsDominatedFraction'),
    decayRms: g('decayRms'),
    sqrtVHatRms: g('sqrtVHatRms'),
    momentumBufferRms: g('momentumBufferRms'),
    provenance: c.provenance,
  };
}

async function replayWhereStateMissing(
  data: RunData,
  snapIndex: ReturnType<typeof indexSnapshots>,
  hyper: ResolvedHyper,
  options: AnalyzeOptions,
  cellOf: (step: number, layer: string) => Cell,
  distributions: UpdateDistribution[],
): Promise<void> {
  // Layers whose gradients are known at steps 1..T without gaps.
  const gradsByLayer = new Map<string, Map<number, TensorRef>>();
  for (const [step, layers] of snapIndex) {
    for (const [layer, e] of layers) {
      if (e.roles.grad) {
        let m = gradsByLayer.get(layer);
        if (!m) gradsByLayer.set(layer, (m = new Map()));
        m.set(step, e.roles.grad);
      }
    }
  }
  for (const [layer, byStep] of gradsByLayer) {
    let last = 0;
    while (byStep.has(last + 1)) last++;
    if (last === 0) continue;
    const report = new Set<number>();
    for (let t = 1; t <= last; t++) {
      const c = cellOf(t, layer);
      if (c.figures.adamUpdateRms == null) report.add(t);
    }
    if (report.size === 0) continue;
    const lh = layerHyper(data, hyper, options, layer, undefined);
    if (lh.beta1 === null || lh.beta2 === null || lh.eps === null) {
      data.issues.push({
        severity: 'warning',
        path: byStep.get(1)!.source.path,
        message: `gradients of ${layer} are known from step 1 to ${last} but Adam's betas/eps are not: pass --betas and --eps to replay Adam's update`,
      });
      continue;
    }
    const grads = Array.from({ length: last }, (_, i) => byStep.get(i + 1)!);
    const replayed = await replayAdam(grads, { beta1: lh.beta1, beta2: lh.beta2, eps: lh.eps }, { report });
    for (const r of replayed) {
      const c = cellOf(r.step, layer);
      setFigure(c, 'adamUpdateRms', r.adamUpdateRms, 'replayed from gradients');
      setFigure(c, 'epsDominatedFraction', r.epsDominatedFraction, 'replayed from gradients');
      setFigure(c, 'sqrtVHatRms', r.sqrtVHatRms, 'replayed from gradients');
      distributions.push({ layer, step: r.step, edges: U_HISTOGRAM_EDGES, counts: r.uHistogram });
    }
  }
}
