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
  /** The hit with the most extreme value (by `worse`). */
  worst: RuleHit;
  /** Per layer: the steps it holds at and its most extreme value. */
  perLayer: { layer: string; first: number; last: number; count: number; worst: number }[];
  /** Holds at the report step. */
  atReportStep: boolean;
  /** The layers it holds for at the report step (layer order). */
  layersAtReportStep: string[];
}

/** Group hits (any order) by layer; `layerOrder` orders the result, `worse(a, b)` is true when a is more extreme. */
export function groupHits(
  hits: RuleHit[],
  layerOrder: readonly string[],
  reportStep: number | null,
  worse: (a: number, b: number) => boolean,
): HitGroup | null {
  if (!hits.length) return null;
  const byLayer = new Map<string, { first: number; last: number; count: number; worst: number }>();
  const steps = new Set<number>();
  let worst = hits[0];
  let atReportStep = false;
  const atReport = new Set<string>();
  for (const h of hits) {
    steps.add(h.step);
    if (h.step === reportStep) {
      atReportStep = true;
      atReport.add(h.layer);
    }
    if (worse(h.value, worst.value)) worst = h;
    const l = byLayer.get(h.layer);
    if (!l) byLayer.set(h.layer, { first: h.step, last: h.step, count: 1, worst: h.value });
    else {
      l.first = Math.min(l.first, h.step);
      l.last = Math.max(l.last, h.step);
      l.count++;
      if (worse(h.value, l.worst)) l.worst = h.value;
    }
  }
  const rank = new Map(layerOrder.map((l, i) => [l, i]));
  const layers = [...byLayer.keys()].sort((a, b) => (rank.get(a) ?? Infinity) - (rank.get(b) ?? Infinity));
  const sorted = [...steps].sort((a, b) => a - b);
  return {
    layers,
    steps: { first: sorted[0], last: sorted[sorted.length - 1], count: sorted.length },
    worst,
    perLayer: layers.map((layer) => ({ layer, ...byLayer.get(layer)! })),
    atReportStep,
    layersAtReportStep: layers.filter((l) => atReport.has(l)),
  };
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
