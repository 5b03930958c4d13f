// Decoded events → run data: tags mapped through the shared tag rules (run/scalarTags.ts) onto per-layer
// figures and whole-model values in the columnar store (run/scalars.ts), and histograms; ratio
// infinities and non-finite values handled as the text readers handle them.

import type { HistogramObservation, NonFiniteObservation, RunData, TensorRole } from '../../run/types';
import { emptyRunData } from '../../run/types';
import { IssueLimiter } from '../../run/issueLimit';
import type { StepCounter } from '../../io/growingFile';
import { figureColumn, type ScalarTable } from '../../run/scalars';
import { classifyHistogramTag, classifyScalarTag } from '../../run/scalarTags';
import { RATIO_FIGURES } from '../scalarRecords';
import type { DecodedHistogram, EventVisitor } from './events';

/** What a scalar tag means, resolved once per tag: the table and column its values go into. */
type ScalarMeaning =
  | { kind: 'layer'; layer: string; col: number; ratio: boolean; table: ScalarTable | null; gen: number }
  | { kind: 'global'; key: string; col: number; gen: number }
  | { kind: 'none' };

type HistogramMeaning = { kind: 'histogram'; layer: string; role: TensorRole | null; quantity: string } | { kind: 'none' };

/** Builds RunData from decoded events, one RunData per `startRun()` (a tail starts one per increment). */
export class RunDataBuilder implements EventVisitor {
  run: RunData = emptyRunData();
  /** Set by a live tail: every scalar and histogram value is counted by step (at its record's offset). */
  steps: StepCounter | null = null;
  path = '';
  /** Where problems go, bounded per kind (set by the reader for each scan; run.issues itself by default). */
  issues = new IssueLimiter(this.run.issues);
  private readonly scalarMeaning = new Map<string, ScalarMeaning>();
  /** Scalar meaning by the decoder's tag id: an array index instead of a string-keyed lookup per value. */
  private readonly meaningById: (ScalarMeaning | undefined)[] = [];
  private readonly histMeaning = new Map<string, HistogramMeaning>();
  private readonly layersSeen = new Set<string>();
  private gen = 0;
  private nonFiniteByTag = new Map<string, NonFiniteObservation>();

  /** Start a fresh RunData (tag caches are kept: they hold no per-run data). */
  startRun(): RunData {
    this.run = emptyRunData();
    this.issues = new IssueLimiter(this.run.issues);
    this.gen++;
    this.layersSeen.clear();
    this.nonFiniteByTag = new Map();
    return this.run;
  }

  private noteLayer(layer: string): void {
    if (!this.layersSeen.has(layer)) {
      this.layersSeen.add(layer);
      this.run.layerOrder.push(layer);
    }
  }

  private meaningOf(tag: string): ScalarMeaning {
    let m = this.scalarMeaning.get(tag);
    if (m === undefined) {
      const c = classifyScalarTag(tag);
      if (c !== null && c.kind === 'layer') {
        m = { kind: 'layer', layer: c.layer, col: figureColumn(c.figure), ratio: RATIO_FIGURES.has(c.figure), table: null, gen: -1 };
      } else if (c !== null && c.kind === 'global') {
        // Same key scheme as the JSONL/CSV readers: a learning rate of parameter group k > 0 is lr/pg<k>.
        m = { kind: 'global', key: c.key === 'lr' && c.paramGroup ? `lr/pg${c.paramGroup}` : c.key, col: -1, gen: -1 };
      } else m = { kind: 'none' };
      this.scalarMeaning.set(tag, m);
    }
    return m;
  }

  private noteNonFinite(tag: string, step: number, layer: string | null): void {
    // One observation per tag (first step, count of values), not one per value.
    const seen = this.nonFiniteByTag.get(tag);
    if (seen) {
      seen.count++;
      return;
    }
    const rec: NonFiniteObservation = { path: this.path, step, layer, what: tag, count: 1 };
    this.nonFiniteByTag.set(tag, rec);
    this.run.nonFinite.push(rec);
  }

  scalar(tag: string, step: number, value: number, offset = 0, tagId = -1): void {
    this.steps?.record(step, offset);
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
      if (m.gen !== this.gen) {
        m.col = this.run.scalars.globalKeyColumn(m.key);
        m.gen = this.gen;
      }
      this.run.scalars.globals.set(step, m.col, value);
      return;
    }
    if (m.gen !== this.gen) {
      m.table = this.run.scalars.layer(m.layer);
      m.gen = this.gen;
      this.noteLayer(m.layer);
    }
    if (!Number.isFinite(value)) {
      // rel_step = |Δp| / |p| is +inf exactly when the parameter was all zeros: stated as undefined (the
      // store keeps the +inf, the engine reads it as null), not a blow-up. Any other NaN/inf is reported as
      // non-finite and not stored as a figure.
      if (value !== Infinity || !m.ratio) {
        this.noteNonFinite(tag, step, m.layer);
        return;
      }
    }
    m.table!.set(step, m.col, value);
  }

  /** Tags that mean something to the analysis (scalars and histograms), first-seen order, at most `max`. */
  tagsRead(max: number): string[] {
    const out: string[] = [];
    for (const [tag, m] of this.scalarMeaning) if (m.kind !== 'none' && out.length < max) out.push(tag);
    for (const [tag, m] of this.histMeaning) if (m.kind !== 'none' && out.length < max) out.push(tag);
    return out;
  }

  histogram(tag: string, step: number, h: DecodedHistogram, offset = 0): void {
    this.steps?.record(step, offset);
    let m = this.histMeaning.get(tag);
    if (m === undefined) {
      const c = classifyHistogramTag(tag);
      m =
        c !== null && c.kind === 'histogram' ? { kind: 'histogram', layer: c.layer, role: c.role, quantity: c.quantity } : { kind: 'none' };
      this.histMeaning.set(tag, m);
    }
    if (m.kind === 'none') return;
    this.noteLayer(m.layer);
    // A tensor with NaN/inf elements gives NaN/inf sums: reported as non-finite, not turned into an RMS.
    if (!Number.isFinite(h.sumSquares) || !Number.isFinite(h.sum) || !Number.isFinite(h.num)) {
      this.noteNonFinite(tag, step, m.layer);
      return;
    }
    if (h.num < 0 || h.sumSquares < 0) {
      this.issues.push('histograms with negative counts (ignored)', {
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
