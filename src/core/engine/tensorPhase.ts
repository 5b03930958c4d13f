import type { AnalyzeOptions } from '../analysis';
import type { NonFiniteObservation, RunData, TensorRef, TensorRole } from '../run/types';
import type { UpdateDistribution } from './types';
import { FigureGrid } from './figureGrid';
import { layerHyper, type ResolvedHyper } from './hyper';
import { computeAllTensorFigures } from './parallel';
import { replayAdam } from './replay';
import { U_HISTOGRAM_EDGES, type LayerTensorSet } from './tensorStats';

// Phase 1 of the engine: tensor snapshots. Tensors of one (step, layer) are grouped by role and reduced in
// one fused pass (on the worker pool for large inputs); where the optimizer state is missing but every
// gradient from step 1 is there, Adam is replayed.

type RoleMap = Partial<Record<TensorRole, TensorRef>>;
export type SnapshotIndex = Map<number, Map<string, { roles: RoleMap; lr?: number }>>;

/**
 * The grid key of tensors whose optimizer step no input states (a bare `model.safetensors`). They are analyzed
 * there — parameter scale and what needs no step — and reported as "step unknown" when the run has no
 * numbered step; `--step N` places them at step N instead.
 */
export const UNKNOWN_STEP = -1;

/** Tensor roles per (step, layer), with 'param' resolved: the parameter a gradient was taken at is param_before. */
export function indexSnapshots(data: RunData, options: AnalyzeOptions = {}): SnapshotIndex {
  const byStep: SnapshotIndex = new Map();
  const numbered = data.snapshots.some((s) => s.step !== null);
  for (const snap of data.snapshots) {
    let step = snap.step;
    if (step === null) {
      if (options.step !== undefined) step = options.step;
      else if (numbered) {
        data.issues.push({
          severity: 'warning',
          path: snap.path,
          message:
            'the optimizer step of this snapshot is unknown (not in the file or its name) while other inputs have steps: its tensors are not used (pass --step N to place them)',
        });
        continue;
      } else step = UNKNOWN_STEP;
    }
    let layers = byStep.get(step);
    if (!layers) byStep.set(step, (layers = new Map()));
    const withGrad = new Set(snap.tensors.filter((t) => t.role === 'grad').map((t) => t.layer));
    for (const t of snap.tensors) {
      let entry = layers.get(t.layer);
      if (!entry) layers.set(t.layer, (entry = { roles: {} }));
      let role = t.role;
      if (role === 'param') role = withGrad.has(t.layer) ? 'param_before' : 'param';
      if (!entry.roles[role]) entry.roles[role] = t;
      if (entry.lr === undefined && snap.scalars?.lr !== undefined) entry.lr = snap.scalars.lr;
    }
  }
  return byStep;
}

interface TensorWork {
  step: number;
  layer: string;
  set: LayerTensorSet;
  lr?: number;
}

/** The tensor sets to reduce: what step t consumed and left, per layer. */
function tensorWork(index: SnapshotIndex): TensorWork[] {
  const work: TensorWork[] = [];
  for (const step of [...index.keys()].sort((a, b) => a - b)) {
    for (const [layer, entry] of index.get(step)!) {
      const r = entry.roles;
      const set: LayerTensorSet = { layer, step: step === UNKNOWN_STEP ? null : step };
      set.paramBefore = r.param_before;
      set.grad = r.grad;
      set.expAvg = r.exp_avg;
      set.expAvgSq = r.exp_avg_sq;
      set.momentumBuffer = r.momentum_buffer;
      set.paramAfter = r.param_after ?? (r.param_before ? r.param : undefined);
      if (!set.paramAfter && set.paramBefore) {
        // The parameter the next step consumed is the one this step left.
        set.paramAfter = index.get(step + 1)?.get(layer)?.roles.param_before;
      }
      // Without the parameter the step consumed, the saved one (after step t) is the scale, documented as such.
      if (!set.paramBefore && (r.param ?? r.param_after)) set.paramSaved = r.param ?? r.param_after;
      if (!set.paramBefore && !set.paramSaved && !set.grad && !set.expAvg && !set.momentumBuffer) continue;
      work.push({ step, layer, set, lr: entry.lr });
    }
  }
  return work;
}

export async function applyTensorPhase(
  grid: FigureGrid,
  hyper: ResolvedHyper,
  options: AnalyzeOptions,
  out: { nonFinite: NonFiniteObservation[]; distributions: UpdateDistribution[] },
): Promise<void> {
  const data = grid.data;
  const index = indexSnapshots(data, options);
  const work = tensorWork(index);
  const hypers = work.map((w) => layerHyper(data, hyper, options, w.layer, w.lr));
  const figures = await computeAllTensorFigures(
    work.map((w, i) => ({ set: w.set, hyper: hypers[i] })),
    {
      signal: options.signal,
      onDone: (done, job) => options.onProgress?.(done / Math.max(1, work.length), `${job.set.layer} @ step ${job.set.step}`),
    },
  );
  const set = FigureGrid.set;
  for (let wi = 0; wi < work.length; wi++) {
    const w = work[wi];
    const lh = hypers[wi];
    const f = figures[wi];
    grid.addLayer(w.layer);
    grid.numelOf.set(w.layer, f.numel);
    const c = grid.cell(w.step, w.layer);
    const src = 'tensors';
    set(c, 'paramRms', f.paramRms, f.paramTiming === 'saved' ? 'tensors (saved after the step)' : src);
    set(c, 'paramNorm', f.paramNorm, src);
    set(c, 'gradRms', f.gradRms, src);
    set(c, 'gradNorm', f.gradNorm, src);
    set(c, 'updateRms', f.updateRms, src);
    set(c, 'updateNorm', f.updateNorm, src);
    set(c, 'adamUpdateRms', f.adamUpdateRms, src);
    set(c, 'epsDominatedFraction', f.epsDominatedFraction, src);
    set(c, 'sqrtVHatRms', f.sqrtVHatRms, src);
    set(c, 'exp_avgRms', f.expAvgRms, src);
    set(c, 'decayRms', f.decayRms, src);
    set(c, 'momentumBufferRms', f.momentumBufferRms, src);
    set(c, 'lr', lh.lr, 'hyper');
    if (f.updateRms !== null && f.paramRms !== null && f.paramTiming === 'before') {
      set(c, 'relStep', f.paramRms > 0 ? f.updateRms / f.paramRms : null, src);
    }
    if (f.predictedUpdateRms !== null && f.paramRms !== null) {
      set(c, 'relStepPredicted', f.paramRms > 0 ? f.predictedUpdateRms / f.paramRms : null, src);
    }
    if (f.uHistogram) out.distributions.push({ layer: w.layer, step: w.step, edges: U_HISTOGRAM_EDGES, counts: f.uHistogram });
    const refs: Record<string, TensorRef | undefined> = {
      param: w.set.paramBefore ?? w.set.paramSaved,
      grad: w.set.grad,
      param_after: w.set.paramAfter,
      exp_avg: w.set.expAvg,
      exp_avg_sq: w.set.expAvgSq,
      momentum_buffer: w.set.momentumBuffer,
    };
    for (const nf of f.nonFinite) {
      out.nonFinite.push({
        path: refs[nf.what]?.source.path ?? '',
        step: w.step,
        layer: w.layer,
        what: nf.what,
        count: nf.count,
        firstIndex: nf.firstIndex,
      });
    }
  }
  // Adam replayed from a complete gradient history where the optimizer state is missing.
  if (hyper.type !== 'sgd') await replayWhereStateMissing(grid, index, hyper, options, out.distributions);
}

async function replayWhereStateMissing(
  grid: FigureGrid,
  index: SnapshotIndex,
  hyper: ResolvedHyper,
  options: AnalyzeOptions,
  distributions: UpdateDistribution[],
): Promise<void> {
  const data = grid.data;
  // Layers whose gradients are known at steps 1..T without gaps.
  const gradsByLayer = new Map<string, Map<number, TensorRef>>();
  for (const [step, layers] of index) {
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
      if (grid.cell(t, layer).figures.adamUpdateRms == null) report.add(t);
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
      const c = grid.cell(r.step, layer);
      FigureGrid.set(c, 'adamUpdateRms', r.adamUpdateRms, 'replayed from gradients');
      FigureGrid.set(c, 'epsDominatedFraction', r.epsDominatedFraction, 'replayed from gradients');
      FigureGrid.set(c, 'sqrtVHatRms', r.sqrtVHatRms, 'replayed from gradients');
      distributions.push({ layer, step: r.step, edges: U_HISTOGRAM_EDGES, counts: r.uHistogram });
    }
  }
}
