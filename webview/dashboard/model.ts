// What the dashboard shows, indexed for quick lookups: the engine's figures as given (the report step's
// layers, the series at every other step), the findings per layer, each tensor's kind and block
// (src/shared/tensorKinds.ts), the optimizer as the run states it. Presentation-only aggregates (per-kind
// medians and percentile bands, per-block medians for the heatmap) are computed here, once per analysis.
// No DOM: unit-tested in Node.

import type { RunAnalysis } from '../../src/core/analysis';
import type { LayerStats } from '../../src/core/engine/types';
import type { Finding } from '../../src/core/rules/types';
import type { DashboardSettings, InputFacts } from '../../src/shared/protocol';
import { SERIES_FIGURES, type LayerSeries, type SeriesColumn, type SeriesFigure } from '../../src/shared/series';
import { normalizeOptimizer } from '../../src/shared/equivalence';
import { OPTIMIZER_NORMALIZATION, optimizerLabel, type OptimizerKind, type UpdateNormalization } from '../../src/shared/optimizers';
import { blockLabel, classifyTensors, compareKinds, kindKey, kindLabel, type TensorKindInfo } from '../../src/shared/tensorKinds';

/** Figures of a layer as the engine may emit them: with the optimizer's normalized direction RMS where it computes it. */
export type LayerFigures = LayerStats & { directionRms?: number | null };

export interface LayerRow extends LayerFigures {
  findings: Finding[];
  info: TensorKindInfo;
}

/** A block of the model (or a run of tensors outside blocks), in layer order. */
export interface BlockGroup {
  key: string;
  /** The block's path ("layers.3"), or where tensors outside blocks sit ("before the blocks", "after the blocks"). */
  label: string;
  /** Short row label of the heatmap ("3", "encoder 3"). */
  short: string;
  layers: string[];
  inBlock: boolean;
}

/** Tensors of one kind across the model (the per-kind bands). */
export interface KindGroup {
  key: string;
  label: string;
  layers: string[];
}

/** A heatmap column: one tensor of every block (its path inside the block). */
export interface SlotColumn {
  slot: string;
  label: string;
  info: TensorKindInfo;
}

export interface Quantiles {
  steps: number[];
  p10: (number | null)[];
  median: (number | null)[];
  p90: (number | null)[];
}

export interface OptimizerView {
  kind: OptimizerKind | null;
  /** As the input names it ("AdamW"), or what its state shows when no input names it; null: unknown. */
  label: string | null;
  normalization: UpdateNormalization | null;
  /** The run's figures are Adam's (RMS(u), √v̂ < ε): an Adam-family kind, or not stated. */
  adamLike: boolean;
  assumedFrom: string | null;
}

const DIRECTION_FIGURE = 'directionRms';

export class DashboardModel {
  readonly steps: number[];
  readonly layerNames: string[];
  readonly infos = new Map<string, TensorKindInfo>();
  readonly blocks: BlockGroup[];
  readonly kinds: KindGroup[];
  readonly optimizer: OptimizerView;
  /** Per-layer figures exist somewhere in the run (else the table explains what the input logs). */
  readonly hasLayers: boolean;
  private readonly stepIndex = new Map<number, number>();
  private readonly seriesByLayer = new Map<string, LayerSeries>();
  /** Per series step axis: for each run step index, the index into that axis (-1: no figure then). */
  private readonly byAxis = new WeakMap<ArrayLike<number>, Int32Array>();
  /** Positions that map every run step to the same index of the series (its columns are the run's). */
  private readonly everyStep = new WeakSet<Int32Array>();
  private readonly reportLayers = new Map<string, LayerFigures>();
  private readonly cache = new Map<string, unknown>();
  private lastRows: { step: number | null; rows: LayerRow[] } | null = null;

  constructor(
    readonly analysis: RunAnalysis,
    readonly settings: DashboardSettings,
    readonly facts?: InputFacts,
  ) {
    const r = analysis.result;
    this.steps = r.steps;
    this.steps.forEach((s, i) => this.stepIndex.set(s, i));
    for (const l of r.layers) this.reportLayers.set(l.name, l);
    for (const s of analysis.series) this.seriesByLayer.set(s.layer, s);
    const names = r.layers.map((l) => l.name);
    for (const s of analysis.series) if (!this.reportLayers.has(s.layer)) names.push(s.layer);
    this.layerNames = names;
    const infos = classifyTensors(
      names,
      names.map((n) => this.reportLayers.get(n)?.shape ?? null),
    );
    names.forEach((n, i) => this.infos.set(n, infos[i]));
    this.blocks = groupBlocks(names, this.infos);
    this.kinds = groupKinds(names, this.infos);
    this.optimizer = optimizerView(r.optimizer.type, r.optimizer.typeAssumedFrom ?? null, facts?.stateRoles ?? []);
    this.hasLayers = r.layers.length > 0 || analysis.series.length > 0;
  }

  /** The table group (block, or run of tensors outside blocks) a layer is in. */
  groupOf(layer: string): BlockGroup | undefined {
    return this.blocks.find((b) => b.layers.includes(layer));
  }

  /** The step the dashboard opens at: the last step with full figures, else the report step, else the last. */
  get defaultStep(): number | null {
    const last = this.analysis.summary?.lastFullStep;
    if (last !== null && last !== undefined && this.stepIndex.has(last)) return last;
    const r = this.analysis.result;
    if (r.step !== null && this.stepIndex.has(r.step)) return r.step;
    return this.steps.length ? this.steps[this.steps.length - 1] : r.step;
  }

  get reportStep(): number | null {
    return this.analysis.result.step;
  }

  hasStep(step: number | null | undefined): step is number {
    return step !== null && step !== undefined && this.stepIndex.has(step);
  }

  indexOfStep(step: number): number {
    return this.stepIndex.get(step) ?? -1;
  }

  /** The nearest step the run has (for a step from an older state or another run). */
  nearestStep(step: number): number | null {
    let best: number | null = null;
    for (const s of this.steps) if (best === null || Math.abs(s - step) < Math.abs(best - step)) best = s;
    return best;
  }

  series(layer: string): LayerSeries | undefined {
    return this.seriesByLayer.get(layer);
  }

  /** A figure of a layer at a step, as the engine gives it (the report step's layers, the series elsewhere); null: not stated. */
  valueAt(layer: string, figure: SeriesFigure | typeof DIRECTION_FIGURE, step: number | null): number | null {
    if (step === null) return null;
    if (step === this.reportStep) {
      const l = this.reportLayers.get(layer);
      if (l) return (figure === DIRECTION_FIGURE ? l.directionRms : l[figure]) ?? null;
    }
    const s = this.seriesByLayer.get(layer);
    const i = this.stepIndex.get(step);
    if (!s || i === undefined) return null;
    const j = this.positionsOf(s)[i];
    if (j < 0) return null;
    const figures: Partial<Record<string, SeriesColumn>> = s.figures;
    const v = figures[figure]?.[j];
    return v === undefined || Number.isNaN(v) ? null : v;
  }

  /** The relative step to colour a tensor by: measured, else predicted (as the rules read it). */
  relStepAt(layer: string, step: number | null): { value: number | null; predicted: boolean } {
    const measured = this.valueAt(layer, 'relStep', step);
    if (measured !== null) return { value: measured, predicted: false };
    const predicted = this.valueAt(layer, 'relStepPredicted', step);
    return { value: predicted, predicted: predicted !== null };
  }

  /** Every layer's figures at a step, with the findings that hold for it there (the last step's rows are kept). */
  rowsAt(step: number | null): LayerRow[] {
    if (this.lastRows?.step === step) return this.lastRows.rows;
    const rows = this.computeRows(step);
    this.lastRows = { step, rows };
    return rows;
  }

  private computeRows(step: number | null): LayerRow[] {
    const findings = this.findingsByLayer(step);
    return this.layerNames.map((name) => {
      const report = this.reportLayers.get(name);
      const info = this.infos.get(name)!;
      const base: LayerFigures = report ?? emptyLayer(name);
      if (step === this.reportStep && report) return { ...report, findings: findings.get(name) ?? [], info };
      const row: LayerRow = { ...base, findings: findings.get(name) ?? [], info, provenance: undefined };
      for (const f of SERIES_FIGURES) row[f] = this.valueAt(name, f, step);
      row.directionRms = this.valueAt(name, DIRECTION_FIGURE, step);
      return row;
    });
  }

  /** Findings per layer at a step: a grouped finding flags each of its layers at the steps that layer's range covers. */
  findingsByLayer(step: number | null): Map<string, Finding[]> {
    const out = new Map<string, Finding[]>();
    for (const f of this.analysis.result.findings) {
      const perLayer = (f.evidence as { perLayer?: { layer: string; first: number; last: number }[] }).perLayer;
      const covered = perLayer
        ? perLayer.filter((p) => step !== null && p.first <= step && step <= p.last).map((p) => p.layer)
        : f.layer !== null && (f.step === null || f.step === step)
          ? [f.layer]
          : [];
      for (const layer of covered) out.set(layer, [...(out.get(layer) ?? []), f]);
    }
    return out;
  }

  /** Per tensor kind, the 10th/50th/90th percentile of a figure over its tensors at each step (positive values: log charts). */
  kindQuantiles(figure: SeriesFigure): Map<string, Quantiles> {
    return this.cached(`q:${figure}`, () => {
      const out = new Map<string, Quantiles>();
      const n = this.steps.length;
      for (const kind of this.kinds) {
        const q: Quantiles = {
          steps: this.steps,
          p10: new Array(n).fill(null),
          median: new Array(n).fill(null),
          p90: new Array(n).fill(null),
        };
        const columns = kind.layers.map((l) => this.column(l, figure));
        const buf = new Float64Array(columns.length);
        for (let i = 0; i < n; i++) {
          let m = 0;
          for (const c of columns) {
            const v = c[i];
            if (v > 0 && Number.isFinite(v)) buf[m++] = v;
          }
          if (!m) continue;
          const sorted = buf.subarray(0, m).sort();
          q.p10[i] = quantile(sorted, 0.1);
          q.median[i] = quantile(sorted, 0.5);
          q.p90[i] = quantile(sorted, 0.9);
        }
        out.set(kind.key, q);
      }
      return out;
    });
  }

  /**
   * Tensors that stray from their kind: outside its 10–90% band at most of their steps, and by more than
   * 2× from its median (the median over steps of the log ratio); the `max` furthest, furthest first.
   */
  outliers(figure: SeriesFigure, max = 8): string[] {
    return this.cached(`o:${figure}:${max}`, () => {
      const bands = this.kindQuantiles(figure);
      const scored: { layer: string; score: number }[] = [];
      const ratios = new Float64Array(this.steps.length);
      for (const kind of this.kinds) {
        if (kind.layers.length < 3) continue;
        const q = bands.get(kind.key)!;
        for (const layer of kind.layers) {
          const c = this.column(layer, figure);
          let m = 0;
          let outside = 0;
          for (let i = 0; i < c.length; i++) {
            const v = c[i];
            const med = q.median[i];
            if (!(v > 0) || med === null) continue;
            ratios[m++] = Math.abs(Math.log10(v / med));
            if (v < q.p10[i]! || v > q.p90[i]!) outside++;
          }
          if (!m || outside < m / 2) continue;
          const score = ratios.subarray(0, m).sort()[m >> 1];
          if (score > Math.log10(2)) scored.push({ layer, score });
        }
      }
      return scored
        .sort((a, b) => b.score - a.score)
        .slice(0, max)
        .map((s) => s.layer);
    });
  }

  /** The heatmap's columns: each distinct in-block path, in the order a block computes them. */
  get slotColumns(): SlotColumn[] {
    return this.cached('slots', () => {
      const seen = new Map<string, TensorKindInfo>();
      for (const b of this.blocks)
        if (b.inBlock)
          for (const l of b.layers) if (!seen.has(this.infos.get(l)!.slot)) seen.set(this.infos.get(l)!.slot, this.infos.get(l)!);
      const columns = [...seen.entries()].map(([slot, info]) => ({ slot, info, label: kindLabel(info) }));
      columns.sort((a, b) => compareKinds(a.info, b.info));
      // Several tensors of one kind in a block (ResNet conv1..conv3): label them by their path instead.
      const counts = new Map<string, number>();
      for (const c of columns) counts.set(c.label, (counts.get(c.label) ?? 0) + 1);
      for (const c of columns)
        if (counts.get(c.label)! > 1) c.label = c.slot.replace(/\.(weight|bias)$/, (_m, p: string) => (p === 'bias' ? ' bias' : ''));
      return columns;
    });
  }

  /** Per row (kind or block) the median relative step over its tensors at each step, rows × steps; NaN: none. */
  timeGrid(by: 'kinds' | 'blocks'): { rows: { key: string; label: string; layers: string[] }[]; values: Float64Array } {
    return this.cached(`t:${by}`, () => {
      const rows =
        by === 'kinds'
          ? this.kinds.map((k) => ({ key: k.key, label: k.label, layers: k.layers }))
          : this.blocks.map((b) => ({ key: b.key, label: b.inBlock ? b.short : b.label, layers: b.layers }));
      const n = this.steps.length;
      const values = new Float64Array(rows.length * n).fill(NaN);
      rows.forEach((row, r) => {
        const measured = row.layers.map((l) => this.column(l, 'relStep'));
        const predicted = row.layers.map((l) => this.column(l, 'relStepPredicted'));
        const buf = new Float64Array(row.layers.length);
        for (let i = 0; i < n; i++) {
          let m = 0;
          for (let k = 0; k < measured.length; k++) {
            const v = Number.isNaN(measured[k][i]) ? predicted[k][i] : measured[k][i];
            if (v > 0 && Number.isFinite(v)) buf[m++] = v;
          }
          if (m) values[r * n + i] = quantile(buf.subarray(0, m).sort(), 0.5)!;
        }
      });
      return { rows, values };
    });
  }

  /**
   * A figure of a layer at every run step (NaN where absent): the columns the aggregates read. A layer with a
   * figure at every run step (a logged layer, mostly) gives its own column, not a copy.
   */
  column(layer: string, figure: SeriesFigure): SeriesColumn {
    return this.cached(`c:${layer}:${figure}`, () => {
      const s = this.seriesByLayer.get(layer);
      const values = s?.figures[figure];
      if (!s || !values) return new Float64Array(this.steps.length).fill(NaN);
      const pos = this.positionsOf(s);
      if (this.everyStep.has(pos) && values.length === pos.length) return values;
      const out = new Float64Array(this.steps.length).fill(NaN);
      for (let i = 0; i < pos.length; i++) {
        const j = pos[i];
        if (j >= 0) out[i] = values[j];
      }
      return out;
    });
  }

  /**
   * For each run step, the index of that step in the layer's series (-1: none). Layers that share a step axis
   * share one array (the webview's series arrive with one axis per distinct set of steps, src/shared/packing.ts).
   */
  private positionsOf(s: LayerSeries): Int32Array {
    let pos = this.byAxis.get(s.steps);
    if (!pos) {
      pos = this.axisPositions(s.steps);
      this.byAxis.set(s.steps, pos);
    }
    return pos;
  }

  private axisPositions(axis: ArrayLike<number>): Int32Array {
    const n = this.steps.length;
    const pos = new Int32Array(n).fill(-1);
    let ascending = true;
    for (let j = 1; j < axis.length && ascending; j++) ascending = axis[j - 1] < axis[j];
    if (!ascending) {
      for (let j = 0; j < axis.length; j++) {
        const i = this.stepIndex.get(axis[j]);
        if (i !== undefined) pos[i] = j;
      }
      return pos;
    }
    // Both ascending (the run's steps and a series' steps): one merge, no lookups (291 × 2,000 map lookups
    // were a tenth of a live update's render).
    let found = 0;
    for (let i = 0, j = 0; i < n && j < axis.length; i++) {
      const step = this.steps[i];
      while (j < axis.length && axis[j] < step) j++;
      if (j < axis.length && axis[j] === step) {
        pos[i] = j++;
        found++;
      }
    }
    if (found === n && axis.length === n) this.everyStep.add(pos);
    return pos;
  }

  private cached<T>(key: string, make: () => T): T {
    if (!this.cache.has(key)) this.cache.set(key, make());
    return this.cache.get(key) as T;
  }
}

/** The q-quantile of sorted values (linear interpolation between ranks). */
export function quantile(sorted: ArrayLike<number>, q: number): number | null {
  const n = sorted.length;
  if (!n) return null;
  const at = (n - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

function emptyLayer(name: string): LayerFigures {
  return {
    name,
    shape: null,
    numel: null,
    paramRms: null,
    gradRms: null,
    updateRms: null,
    relStep: null,
    adamUpdateRms: null,
    relStepPredicted: null,
    epsDominatedFraction: null,
  };
}

function groupBlocks(names: string[], infos: Map<string, TensorKindInfo>): BlockGroup[] {
  const stacks = new Set([...infos.values()].filter((i) => i.blockKey !== null).map((i) => i.stack));
  const byKey = new Map<string, BlockGroup>();
  const groups: BlockGroup[] = [];
  let outside: BlockGroup | null = null;
  for (const name of names) {
    const info = infos.get(name)!;
    if (info.blockKey === null) {
      // Consecutive tensors outside blocks are one group (the embeddings before the blocks, the head after).
      if (!outside) {
        outside = { key: `outside:${groups.length}`, label: 'outside blocks', short: '—', layers: [], inBlock: false };
        groups.push(outside);
      }
      outside.layers.push(name);
      continue;
    }
    outside = null;
    let g = byKey.get(info.blockKey);
    if (!g) {
      g = { key: info.blockKey, label: info.blockKey, short: blockLabel(info, stacks.size > 1), layers: [], inBlock: true };
      byKey.set(info.blockKey, g);
      groups.push(g);
    }
    g.layers.push(name);
  }
  // Where a run of tensors outside blocks sits (the table shows two such groups in a Llama: the embeddings, the final norm and head).
  groups.forEach((g, i) => {
    if (g.inBlock) return;
    const before = groups.slice(0, i).some((x) => x.inBlock);
    const after = groups.slice(i + 1).some((x) => x.inBlock);
    g.label = before && after ? 'between blocks' : after ? 'before the blocks' : before ? 'after the blocks' : 'outside blocks';
  });
  return groups;
}

function groupKinds(names: string[], infos: Map<string, TensorKindInfo>): KindGroup[] {
  const byKey = new Map<string, KindGroup & { info: TensorKindInfo }>();
  for (const name of names) {
    const info = infos.get(name)!;
    const key = kindKey(info);
    let g = byKey.get(key);
    if (!g) byKey.set(key, (g = { key, label: kindLabel(info), layers: [], info }));
    g.layers.push(name);
  }
  return [...byKey.values()].sort((a, b) => compareKinds(a.info, b.info)).map(({ key, label, layers }) => ({ key, label, layers }));
}

function optimizerView(type: string | null, assumedFrom: string | null, stateRoles: string[]): OptimizerView {
  const kind = normalizeOptimizer(type);
  const normalization = kind ? OPTIMIZER_NORMALIZATION[kind] : null;
  let label = optimizerLabel(kind) ?? type;
  if (!type) {
    // No input names it: say what its state tensors show, and that it is not stated.
    if (stateRoles.includes('exp_avg') && stateRoles.includes('exp_avg_sq')) label = 'Adam-family (class not stated)';
    else if (stateRoles.includes('momentum_buffer')) label = 'SGD with momentum (class not stated)';
    else label = null;
  }
  return { kind, label, normalization, adamLike: kind === null || normalization === 'second-moment', assumedFrom };
}
