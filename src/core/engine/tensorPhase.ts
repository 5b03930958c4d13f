import type { AnalyzeOptions } from '../analysis';
import {
  OPTIMIZER_STATE_ROLES,
  type NonFiniteObservation,
  type ParamGroupHyper,
  type ReadIssue,
  type RunData,
  type TensorRef,
  type TensorRole,
} from '../run/types';
import type { UpdateDistribution } from './types';
import { FigureGrid } from './figureGrid';
import { layerHyper, type ResolvedHyper } from './hyper';
import { computeAllTensorFigures } from './parallel';
import { replayAdam } from './replay';
import { resolveDirectionSpec } from './optimizers/resolve';
import { U_HISTOGRAM_EDGES, type LayerTensorSet } from './tensorStats';

// Phase 1 of the engine: tensor snapshots. Tensors of one (step, layer) are grouped by role and reduced in
// one fused pass (on the worker pool for large inputs) with the layer's update rule (engine/optimizers/);
// consecutive checkpoints give the measured update (exact for steps s and s+1, a mean per step over k > 1 steps);
// where the optimizer state is missing but every gradient from step 1 is there, Adam is replayed. A tensor or a
// layer that cannot be read becomes an issue; the rest is analyzed.

type RoleMap = Partial<Record<TensorRole, TensorRef>>;
interface IndexEntry {
  roles: RoleMap;
  lr?: number;
  groups?: ParamGroupHyper[];
  layerState?: Record<string, number>;
}
export type SnapshotIndex = Map<number, Map<string, IndexEntry>>;

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
      if (entry.groups === undefined && snap.paramGroups?.some((g) => g.layers.includes(t.layer))) entry.groups = snap.paramGroups;
      if (entry.layerState === undefined && snap.layerState?.[t.layer]) entry.layerState = snap.layerState[t.layer];
    }
  }
  return byStep;
}

interface TensorWork {
  step: number;
  layer: string;
  set: LayerTensorSet;
  entry: IndexEntry;
  /** Consecutive checkpoints: the step of paramEarlier (the net change over step − earlierStep steps). */
  earlierStep?: number;
}

/** The parameter a snapshot holds as "after its step" (a checkpoint's, or a timing-free dump's). */
const savedParam = (r: RoleMap): TensorRef | undefined => (r.param_before ? undefined : (r.param ?? r.param_after));

/** The tensor sets to reduce: what step t consumed and left, per layer. */
function tensorWork(index: SnapshotIndex): TensorWork[] {
  const work: TensorWork[] = [];
  const lastSaved = new Map<string, { step: number; ref: TensorRef }>();
  for (const step of [...index.keys()].sort((a, b) => a - b)) {
    for (const [layer, entry] of index.get(step)!) {
      const r = entry.roles;
      const set: LayerTensorSet = { layer, step: step === UNKNOWN_STEP ? null : step };
      set.paramBefore = r.param_before;
      set.grad = r.grad;
      const state: LayerTensorSet['state'] = {};
      for (const role of OPTIMIZER_STATE_ROLES) if (r[role]) state[role] = r[role];
      set.state = state;
      set.paramAfter = r.param_after ?? (r.param_before ? r.param : undefined);
      if (!set.paramAfter && set.paramBefore) {
        // The parameter the next step consumed is the one this step left.
        set.paramAfter = index.get(step + 1)?.get(layer)?.roles.param_before;
      }
      // Without the parameter the step consumed, the saved one (after step t) is the scale, documented as such.
      const saved = savedParam(r);
      if (!set.paramBefore && saved) set.paramSaved = saved;
      let earlierStep: number | undefined;
      const prev = lastSaved.get(layer);
      if (!set.paramBefore && saved && prev && step !== UNKNOWN_STEP) {
        if (prev.step === step - 1) {
          // Consecutive checkpoints: the earlier one holds the parameter this step consumed.
          set.paramBefore = prev.ref;
          set.paramAfter = saved;
          set.paramSaved = undefined;
        } else {
          set.paramEarlier = prev.ref;
          set.stepsSpanned = step - prev.step;
          earlierStep = prev.step;
        }
      }
      if (saved && step !== UNKNOWN_STEP) lastSaved.set(layer, { step, ref: saved });
      if (!set.paramBefore && !set.paramSaved && !set.grad && Object.keys(state).length === 0) continue;
      work.push({ step, layer, set, entry, earlierStep });
    }
  }
  return work;
}

/** One issue per distinct sentence, naming how many layers and which steps it covers. */
class IssueTally {
  private readonly byMessage = new Map<string, { path: string; layers: Set<string>; steps: Set<number> }>();
  add(message: string, path: string, layer: string, step: number): void {
    let e = this.byMessage.get(message);
    if (!e) this.byMessage.set(message, (e = { path, layers: new Set(), steps: new Set() }));
    e.layers.add(layer);
    if (step !== UNKNOWN_STEP) e.steps.add(step);
  }
  flush(issues: ReadIssue[]): void {
    for (const [message, e] of this.byMessage) {
      const layers = [...e.layers];
      const steps = [...e.steps].sort((a, b) => a - b);
      const where =
        `${layers.length === 1 ? layers[0] : `${layers.length} layers (${layers.slice(0, 4).join(', ')}${layers.length > 4 ? ', …' : ''})`}` +
        (steps.length
          ? ` at step${steps.length > 1 ? 's' : ''} ${steps.length > 6 ? `${steps.slice(0, 3).join(', ')}, …, ${steps[steps.length - 1]}` : steps.join(', ')}`
          : '');
      issues.push({ severity: 'warning', path: e.path, message: `${message} — ${where}` });
    }
  }
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
  const tally = new IssueTally();
  const specs = work.map((w) => {
    const roles = new Set<string>(Object.keys(w.set.state ?? {}));
    if (w.set.grad) roles.add('grad');
    const r = resolveDirectionSpec({
      data,
      hyper,
      options,
      layer: w.layer,
      step: w.set.step,
      snapshotLr: w.entry.lr,
      snapshotGroups: w.entry.groups,
      layerState: w.entry.layerState,
      roles,
    });
    const path = (w.set.paramBefore ?? w.set.paramSaved ?? w.set.grad ?? Object.values(w.set.state ?? {})[0])?.source.path ?? '';
    for (const a of r.assumptions) tally.add(a, path, w.layer, w.step);
    return r.spec;
  });
  const results = await computeAllTensorFigures(
    work.map((w, i) => ({
      set: { ...w.set, shape: data.layerShapes[w.layer] ?? w.set.paramBefore?.shape ?? w.set.paramSaved?.shape },
      spec: specs[i],
    })),
    {
      signal: options.signal,
      onDone: (done, job) => options.onProgress?.(done / Math.max(1, work.length), `${job.set.layer} @ step ${job.set.step}`),
    },
  );
  const set = FigureGrid.set;
  for (let wi = 0; wi < work.length; wi++) {
    const w = work[wi];
    const spec = specs[wi];
    const res = results[wi];
    const where = `${w.layer}${w.step === UNKNOWN_STEP ? '' : ` at step ${w.step}`}`;
    if (res.error) {
      const e = res.error;
      data.issues.push({
        severity: 'warning',
        path: e.path ?? (w.set.paramBefore ?? w.set.paramSaved ?? w.set.grad)?.source.path ?? '',
        ...(e.offset !== undefined ? { offset: e.offset } : {}),
        ...(e.line !== undefined ? { line: e.line } : {}),
        message: `${where}: ${e.message}; the figures of its tensors are unknown`,
      });
      continue;
    }
    const f = res.figures;
    for (const i of f.issues) {
      data.issues.push({
        severity: 'warning',
        path: i.path,
        ...(i.offset !== undefined ? { offset: i.offset } : {}),
        message: `${where}: ${i.what} not used (${i.message}); the figures that need it are unknown`,
      });
    }
    if (f.unknown) tally.add(f.unknown, (w.set.paramBefore ?? w.set.paramSaved ?? w.set.grad)?.source.path ?? '', w.layer, w.step);
    grid.addLayer(w.layer);
    grid.numelOf.set(w.layer, f.numel);
    if (spec) grid.optimizerOf.set(w.layer, spec.kind);
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
    set(c, 'zeroSecondMomentFraction', f.zeroSecondMomentFraction, src);
    set(c, 'sqrtVHatRms', f.sqrtVHatRms, src);
    set(c, 'exp_avgRms', f.expAvgRms, src);
    set(c, 'decayRms', f.decayRms, src);
    set(c, 'momentumBufferRms', f.momentumBufferRms, src);
    set(c, 'trustRatio', f.trustRatio, src);
    set(c, 'effectiveLr', f.effectiveLr, src);
    set(c, 'updateClip', f.updateClip, src);
    if (f.directionRms !== null) {
      set(
        c,
        'directionRms',
        f.directionRms,
        f.directionSource === 'measured' ? 'tensors (measured: (p_before − p_after)/lr, decay removed)' : `tensors (${f.directionLabel})`,
      );
    }
    set(c, 'lr', spec?.lr ?? layerHyper(data, hyper, options, w.layer, w.entry.lr).lr, 'hyper');
    if (f.updateRms !== null && f.paramRms !== null && f.paramTiming === 'before') {
      set(c, 'relStep', f.paramRms > 0 ? f.updateRms / f.paramRms : null, src);
    }
    if (f.spanUpdateRms !== null && f.earlierParamRms !== null && w.set.stepsSpanned && w.earlierStep !== undefined) {
      const k = w.set.stepsSpanned;
      const how = `tensors (checkpoints at steps ${w.earlierStep} and ${w.step}: the net change over ${k} steps ÷ ${k}, a mean per step)`;
      set(c, 'updateRms', f.spanUpdateRms / k, how);
      set(c, 'relStep', f.earlierParamRms > 0 ? f.spanUpdateRms / (k * f.earlierParamRms) : null, how);
    }
    if (f.predictedUpdateRms !== null && f.paramRms !== null) {
      set(c, 'relStepPredicted', f.paramRms > 0 ? f.predictedUpdateRms / f.paramRms : null, src);
    }
    if (f.uHistogram) out.distributions.push({ layer: w.layer, step: w.step, edges: U_HISTOGRAM_EDGES, counts: f.uHistogram });
    const refs: Record<string, TensorRef | undefined> = {
      param: w.set.paramBefore ?? w.set.paramSaved,
      grad: w.set.grad,
      param_after: w.set.paramAfter,
      param_earlier: w.set.paramEarlier,
      ...w.set.state,
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
  tally.flush(data.issues);
  // Adam replayed from a complete gradient history where the optimizer state is missing (Adam's rule only).
  if (hyper.type === null || hyper.type === 'adam' || hyper.type === 'adamw')
    await replayWhereStateMissing(grid, index, hyper, options, out.distributions);
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
    const kind = grid.optimizerOf.get(layer);
    if (kind !== undefined && kind !== 'adam' && kind !== 'adamw') continue;
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
      FigureGrid.set(c, 'zeroSecondMomentFraction', r.zeroSecondMomentFraction, 'replayed from gradients');
      FigureGrid.set(c, 'directionRms', r.adamUpdateRms, 'replayed from gradients (Adam)');
      FigureGrid.set(c, 'sqrtVHatRms', r.sqrtVHatRms, 'replayed from gradients');
      distributions.push({ layer, step: r.step, edges: U_HISTOGRAM_EDGES, counts: r.uHistogram });
    }
  }
}
