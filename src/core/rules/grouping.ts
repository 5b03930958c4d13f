import { mergeUnique, within } from '../arrays';
import { formatStep } from '../../shared/format';
import type { Finding, Severity } from './types';

// One finding per rule and cause, over layers and time: a rule reports hits (layer, step, value) and they
// are grouped here into one finding that lists its layers and the steps it holds at — "all 291 tensors:
// relative step below 1e-5 at steps 19,500–19,990", not 291 rows.

export interface RuleHit {
  layer: string;
  step: number;
  value: number;
}

export interface HitGroup {
  /** Layers in the run's layer order. */
  layers: string[];
  steps: { first: number; last: number; count: number };
  /** The hit with the most extreme value (the first of equals). */
  worst: RuleHit;
  /** Per layer: the steps it holds at and its most extreme value. */
  perLayer: { layer: string; first: number; last: number; count: number; worst: number }[];
  /** Holds at the report step. */
  atReportStep: boolean;
  /** The layers it holds for at the report step (layer order). */
  layersAtReportStep: string[];
}

interface LayerHits {
  layer: string;
  first: number;
  last: number;
  count: number;
  worst: number;
  atReport: boolean;
}

/**
 * Hits grouped as they are found, without an object per hit: a rule over a 52,721-step × 24-layer run
 * finds ~1M of them. Per layer the running first/last/count/worst; the distinct steps kept sorted, the new
 * hits' steps gathered in a bounded buffer and merged in when it fills (a column of every hit's step was
 * 10 MB on that run, 15 MB allocated as it doubled, at the analysis' peak of memory). Hits may come in any
 * order; a rule walking one layer after another takes the last-layer fast path.
 */
/** The most hits' steps buffered before they are merged (512 KB). */
const MAX_BUFFER = 65536;

export class HitGrouper {
  private readonly byLayer = new Map<string, LayerHits>();
  private last: LayerHits | null = null;
  /** New hits' steps, not yet merged into `distinct`. */
  private buffer = new Float64Array(1024);
  private buffered = 0;
  /** The buffered steps are ascending (no sort before the merge). */
  private ascending = true;
  /** The distinct steps of the hits merged so far, ascending. */
  private distinct: Float64Array = new Float64Array(0);
  private n = 0;
  private worstLayer = '';
  private worstStep = 0;
  private worstValue = 0;

  /** +1: the largest value is the most extreme, -1: the smallest (compared as sign·value, exact). */
  private readonly sign: number;

  /** `layerOrder` orders the group's layers; `extreme`: which end of the values is the worst. */
  constructor(
    private readonly layerOrder: readonly string[],
    private readonly reportStep: number | null,
    extreme: 'largest' | 'smallest',
  ) {
    this.sign = extreme === 'largest' ? 1 : -1;
  }

  get size(): number {
    return this.n;
  }

  add(layer: string, step: number, value: number): void {
    let l = this.last;
    if (l === null || l.layer !== layer) {
      l = this.byLayer.get(layer) ?? null;
      if (l === null) {
        l = { layer, first: step, last: step, count: 0, worst: value, atReport: false };
        this.byLayer.set(layer, l);
      }
      this.last = l;
    }
    if (step < l.first) l.first = step;
    if (step > l.last) l.last = step;
    l.count++;
    const sign = this.sign;
    if (sign * value > sign * l.worst) l.worst = value;
    if (step === this.reportStep) l.atReport = true;
    if (this.n === 0 || sign * value > sign * this.worstValue) {
      this.worstLayer = layer;
      this.worstStep = step;
      this.worstValue = value;
    }
    this.n++;
    const k = this.buffered;
    if (k > 0) {
      const last = this.buffer[k - 1]!;
      if (step === last) return; // the step just buffered (step after step across layers)
      if (step < last) {
        // A rule walking layer after layer: one layer's ascending steps end; merged as they are, unsorted.
        if (this.ascending && k >= 4096) this.mergeBuffer();
        else this.ascending = false;
      }
    }
    if (this.buffered === this.buffer.length) {
      if (this.buffer.length < MAX_BUFFER) {
        const grown = new Float64Array(this.buffer.length * 2);
        grown.set(this.buffer);
        this.buffer = grown;
      } else this.mergeBuffer();
    }
    this.buffer[this.buffered++] = step;
  }

  /** The buffered steps sorted (when they are not), and merged into the distinct ones. */
  private mergeBuffer(): void {
    const b = this.buffer.subarray(0, this.buffered);
    if (!this.ascending) b.sort();
    // The layers of a run mostly share their steps: no merge. (A copy: the merge's array is longer than its
    // distinct values.)
    if (!within(b, this.distinct)) this.distinct = mergeUnique(this.distinct, b).slice();
    this.buffered = 0;
    this.ascending = true;
  }

  group(): HitGroup | null {
    if (this.n === 0) return null;
    this.mergeBuffer();
    const sorted = this.distinct;
    const distinct = sorted.length;
    const rank = new Map(this.layerOrder.map((l, i) => [l, i]));
    const per = [...this.byLayer.values()].sort((a, b) => (rank.get(a.layer) ?? Infinity) - (rank.get(b.layer) ?? Infinity));
    const layers = per.map((l) => l.layer);
    return {
      layers,
      steps: { first: sorted[0]!, last: sorted[sorted.length - 1]!, count: distinct },
      worst: { layer: this.worstLayer, step: this.worstStep, value: this.worstValue },
      perLayer: per.map(({ layer, first, last, count, worst }) => ({ layer, first, last, count, worst })),
      atReportStep: per.some((l) => l.atReport),
      layersAtReportStep: per.filter((l) => l.atReport).map((l) => l.layer),
    };
  }
}

/** "pos_embed", "3 tensors (a, b, c)", "all 291 tensors", "14 of 291 tensors (a, b, c, …)". */
export function describeLayers(layers: readonly string[], total: number): string {
  if (layers.length === 1) return layers[0];
  const names = layers.length <= 3 ? layers.join(', ') : `${layers.slice(0, 3).join(', ')}, …`;
  if (layers.length === total) return `all ${total} tensors (${names})`;
  return `${layers.length} of ${total} tensors (${names})`;
}

/** "at step 120", "at steps 1–120 (120 steps with figures)". */
export function describeSteps(steps: HitGroup['steps']): string {
  if (steps.count === 1) return `at step ${formatStep(steps.first)}`;
  return `at steps ${formatStep(steps.first)}–${formatStep(steps.last)} (${formatStep(steps.count)} steps with figures)`;
}

/** "; at step 120 (the report step): 3 of them (a, b, c)" when the group spans more steps and layers than that. */
export function describeAtReportStep(group: HitGroup, reportStep: number | null): string {
  if (reportStep === null || group.steps.count === 1 || group.layers.length === 1) return '';
  const at = group.layersAtReportStep;
  if (!at.length) return `; not at step ${formatStep(reportStep)} (the report step)`;
  if (at.length === group.layers.length) return `; all of them at step ${formatStep(reportStep)} (the report step)`;
  const names = at.length <= 3 ? at.join(', ') : `${at.length} of them (${at.slice(0, 3).join(', ')}, …)`;
  return `; at step ${formatStep(reportStep)} (the report step): ${names}`;
}

/** A grouped finding: one layer → `layer` set; several → `layer` null and `layers` listing them. */
export function groupedFinding(
  rule: string,
  severity: Severity,
  group: HitGroup,
  reportStep: number | null,
  message: string,
  evidence: Record<string, unknown>,
  cause?: string,
): Finding {
  return {
    rule,
    severity,
    layer: group.layers.length === 1 ? group.layers[0] : null,
    step: group.atReportStep ? reportStep : group.steps.last,
    message,
    evidence: { ...evidence, perLayer: group.perLayer },
    layers: group.layers,
    steps: group.steps,
    ...(cause ? { cause } : {}),
  };
}
