// Decoded events → run data: tags mapped through the shared tag rules (run/scalarTags.ts) onto per-layer
// figures, whole-model globals and histograms; ratio infinities and non-finite values handled as the
// text readers handle them.

import type {
  FigureName,
  HistogramObservation,
  LayerObservation,
  NonFiniteObservation,
  GlobalObservation,
  RunData,
  TensorRole,
} from '../../run/types';
import { emptyRunData } from '../../run/types';
import { classifyHistogramTag, classifyScalarTag } from '../../run/scalarTags';
import type { DecodedHistogram, EventVisitor } from './events';

/** Per-layer state of the builder; `gen` tells whether it belongs to the current RunData. */
interface LayerSlot {
  layer: string;
  gen: number;
  /** The observation the layer's figures of the current step go into. */
  last: LayerObservation | null;
  /** Figures already set in `last` (bit per figure, see figureBit). */
  mask: number;
}

const FIGURE_BITS = new Map<string, number>();
/** A bit per figure name (31 figures at most share bits; more fall back to bit 0 and a property check). */
function figureBit(figure: string): number {
  let b = FIGURE_BITS.get(figure);
  if (b === undefined) {
    b = FIGURE_BITS.size < 30 ? 1 << (FIGURE_BITS.size + 1) : 1;
    FIGURE_BITS.set(figure, b);
  }
  return b;
}

type ScalarMeaning =
  { kind: 'layer'; slot: LayerSlot; figure: FigureName; bit: number } | { kind: 'global'; key: string } | { kind: 'none' };

type HistogramMeaning = { kind: 'histogram'; layer: string; role: TensorRole | null; quantity: string } | { kind: 'none' };

/** Ratio figures: +inf is a division by a zero parameter RMS (zero-initialised layer), i.e. undefined. */
const RATIO_FIGURES: ReadonlySet<FigureName> = new Set<FigureName>(['relStep', 'relStepPredicted']);

/** Builds RunData from decoded events; merges a layer's figures of one step into one observation. */
export class RunDataBuilder implements EventVisitor {
  run: RunData = emptyRunData();
  path = '';
  private readonly scalarMeaning = new Map<string, ScalarMeaning>();
  /** Scalar meaning by the decoder's tag id: an array index instead of a string-keyed lookup per value. */
  private readonly meaningById: (ScalarMeaning | undefined)[] = [];
  private readonly histMeaning = new Map<string, HistogramMeaning>();
  private readonly slots = new Map<string, LayerSlot>();
  private gen = 0;
  private lastGlobal: GlobalObservation | null = null;
  private globalByStep = new Map<number, GlobalObservation>();
  private nonFiniteByTag = new Map<string, NonFiniteObservation>();

  /** Start a fresh RunData (tag caches are kept: they hold no per-run data). */
  startRun(): RunData {
    this.run = emptyRunData();
    this.gen++;
    this.lastGlobal = null;
    this.globalByStep = new Map();
    this.nonFiniteByTag = new Map();
    return this.run;
  }

  private slotOf(layer: string): LayerSlot {
    let slot = this.slots.get(layer);
    if (slot === undefined) {
      slot = { layer, gen: -1, last: null, mask: 0 };
      this.slots.set(layer, slot);
    }
    return slot;
  }

  /** Make the slot current for this RunData (first appearance: layer order). */
  private touch(slot: LayerSlot): void {
    if (slot.gen !== this.gen) {
      slot.gen = this.gen;
      slot.last = null;
      this.run.layerOrder.push(slot.layer);
    }
  }

  private meaningOf(tag: string): ScalarMeaning {
    let m = this.scalarMeaning.get(tag);
    if (m === undefined) {
      const c = classifyScalarTag(tag);
      if (c !== null && c.kind === 'layer') m = { kind: 'layer', slot: this.slotOf(c.layer), figure: c.figure, bit: figureBit(c.figure) };
      else if (c !== null && c.kind === 'global') {
        // Same key scheme as the JSONL/CSV readers: a learning rate of parameter group k > 0 is lr/pg<k>.
        m = { kind: 'global', key: c.key === 'lr' && c.paramGroup ? `lr/pg${c.paramGroup}` : c.key };
      } else m = { kind: 'none' };
      this.scalarMeaning.set(tag, m);
    }
    return m;
  }

  private noteNonFinite(tag: string, step: number, layer: string | null): void {
    // One observation per tag (first step, count of values), not one per value.
    const key = `${this.path}\u0000${tag}`;
    const seen = this.nonFiniteByTag.get(key);
    if (seen) {
      seen.count++;
      return;
    }
    const rec: NonFiniteObservation = { path: this.path, step, layer, what: tag, count: 1 };
    this.nonFiniteByTag.set(key, rec);
    this.run.nonFinite.push(rec);
  }

  scalar(tag: string, step: number, value: number, _offset = 0, tagId = -1): void {
    let m = tagId >= 0 ? this.meaningById[tagId] : undefined;
    if (m === undefined) {
      m = this.meaningOf(tag);
      if (tagId >= 0) this.meaningById[tagId] = m;
    }
    if (m.kind === 'none') return;
    if (m.kind === 'global') {
      if (!Number.isFinite(value)) {
        this.noteNonFinite(tag, step, null);
        return;
      }
      let g = this.lastGlobal;
      if (g === null || g.step !== step) g = this.globalByStep.get(step) ?? null;
      if (g === null || m.key in g.values) {
        g = { step, values: {} };
        this.globalByStep.set(step, g);
        this.run.globals.push(g);
      }
      this.lastGlobal = g;
      g.values[m.key] = value;
      return;
    }
    const slot = m.slot;
    const layer = slot.layer;
    const figure = m.figure;
    let v: number | null = value;
    this.touch(slot);
    if (!Number.isFinite(value)) {
      // rel_step = |Δp| / |p| is +inf exactly when the parameter was all zeros: undefined (null), not a
      // blow-up. Any other NaN/inf is reported as non-finite and not stored as a figure.
      if (value === Infinity && RATIO_FIGURES.has(figure)) v = null;
      else {
        this.noteNonFinite(tag, step, layer);
        return;
      }
    }
    let o = slot.last;
    const bit = m.bit;
    if (o === null || o.step !== step || ((slot.mask & bit) !== 0 && (bit !== 1 || figure in o.figures))) {
      o = { step, layer, figures: {} };
      slot.last = o;
      slot.mask = 0;
      this.run.observations.push(o);
    }
    slot.mask |= bit;
    (o.figures as Record<string, number | null>)[figure] = v;
  }

  /** Tags that mean something to the analysis (scalars and histograms), first-seen order, at most `max`. */
  tagsRead(max: number): string[] {
    const out: string[] = [];
    for (const [tag, m] of this.scalarMeaning) if (m.kind !== 'none' && out.length < max) out.push(tag);
    for (const [tag, m] of this.histMeaning) if (m.kind !== 'none' && out.length < max) out.push(tag);
    return out;
  }

  histogram(tag: string, step: number, h: DecodedHistogram, offset = 0): void {
    let m = this.histMeaning.get(tag);
    if (m === undefined) {
      const c = classifyHistogramTag(tag);
      m =
        c !== null && c.kind === 'histogram' ? { kind: 'histogram', layer: c.layer, role: c.role, quantity: c.quantity } : { kind: 'none' };
      this.histMeaning.set(tag, m);
    }
    if (m.kind === 'none') return;
    this.touch(this.slotOf(m.layer));
    // A tensor with NaN/inf elements gives NaN/inf sums: reported as non-finite, not turned into an RMS.
    if (!Number.isFinite(h.sumSquares) || !Number.isFinite(h.sum) || !Number.isFinite(h.num)) {
      this.noteNonFinite(tag, step, m.layer);
      return;
    }
    if (h.num < 0 || h.sumSquares < 0) {
      this.run.issues.push({
        severity: 'warning',
        path: this.path,
        offset,
        message: `histogram ${tag} at step ${step} has num ${h.num} and sum_squares ${h.sumSquares}: ignored`,
      });
      return;
    }
    const obs: HistogramObservation = {
      step,
      layer: m.layer,
      // adam_u/<L>, updates/<L> are not tensor roles: role null (types.ts says TensorRole; the engine
      // reads `quantity` for them), never a made-up role that would pass for a parameter.
      role: m.role as TensorRole,
      num: h.num,
      sum: h.sum,
      sumSquares: h.sumSquares,
      min: h.min,
      max: h.max,
      bucketLimits: h.bucketLimits,
      bucketCounts: h.bucketCounts,
      approximate: h.approximate,
    };
    obs.quantity = m.quantity;
    this.run.histograms.push(obs);
  }
}

/** RMS of a histogram (exact for `histo` summaries; approximate when `approximate`); null when empty. */
export function histogramRms(h: Pick<HistogramObservation, 'num' | 'sumSquares'>): number | null {
  return h.num > 0 ? Math.sqrt(h.sumSquares / h.num) : null;
}
