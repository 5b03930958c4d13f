import { formatNumber } from '../../shared/format';
import type { Finding, Thresholds } from './types';
import type { LayerStats } from '../engine/types';
import type { NonFiniteObservation } from '../run/types';

// Findings on a run's figures. One stable id per kind of finding; the same ids appear in the CLI's
// JSON, the Problems panel and the dashboard. Thresholds are options (README "Findings").

export const RUN_RULES = {
  'lr-without-scale': 'warning',
  'relative-step-high': 'warning',
  'relative-step-low': 'info',
  'eps-dominated': 'warning',
  'scale-spread': 'info',
  'non-finite': 'error',
} as const;

export type RunRuleId = keyof typeof RUN_RULES;

export interface RunRuleContext {
  step: number | null;
  layers: LayerStats[];
  thresholds: Thresholds;
  /** A learning rate known from any input or option. */
  lr: number | null;
  /** True when some layer has a parameter scale at some step of the run (not just the reported one). */
  anyParamScale: boolean;
  eps: number | null;
  nonFinite: NonFiniteObservation[];
}

const fmt = formatNumber;

export function evaluateRunRules(ctx: RunRuleContext): Finding[] {
  const findings: Finding[] = [];
  const { thresholds: th, step } = ctx;

  if (ctx.lr !== null && !ctx.anyParamScale) {
    findings.push({
      rule: 'lr-without-scale',
      severity: RUN_RULES['lr-without-scale'],
      layer: null,
      step,
      message:
        `Learning rate ${fmt(ctx.lr)} is known but no parameter scale is: under Adam each weight moves by about lr ` +
        `per step whatever the gradient's size, so the relative change is about lr/|w| and ${fmt(ctx.lr)} means ` +
        `${fmt(ctx.lr / 1)} per step for weights of scale 1 but ${fmt(ctx.lr / 0.02)} for weights of scale 0.02. ` +
        `Log per-layer param_rms (Insert Logging Snippet) or state the init scale to make it meaningful.`,
      evidence: { lr: ctx.lr },
    });
  }

  for (const layer of ctx.layers) {
    const measured = layer.relStep;
    const rel = measured ?? layer.relStepPredicted;
    const kind = measured !== null ? 'measured' : 'predicted';
    if (rel !== null && rel > th.relativeStepHigh) {
      findings.push({
        rule: 'relative-step-high',
        severity: RUN_RULES['relative-step-high'],
        layer: layer.name,
        step,
        message: `${layer.name}: ${kind} relative step ${fmt(rel)} per step is above ${fmt(th.relativeStepHigh)}: each step changes these weights by more than ${fmt(th.relativeStepHigh * 100)}% of their size.`,
        evidence: { relStep: rel, kind, threshold: th.relativeStepHigh, paramRms: layer.paramRms, updateRms: layer.updateRms },
      });
    } else if (rel !== null && rel < th.relativeStepLow) {
      findings.push({
        rule: 'relative-step-low',
        severity: RUN_RULES['relative-step-low'],
        layer: layer.name,
        step,
        message: `${layer.name}: ${kind} relative step ${fmt(rel)} per step is below ${fmt(th.relativeStepLow)}: these weights barely move (float32 rounding may swallow such steps).`,
        evidence: { relStep: rel, kind, threshold: th.relativeStepLow, paramRms: layer.paramRms, updateRms: layer.updateRms },
      });
    }
    const f = layer.epsDominatedFraction;
    if (f !== null && f > th.epsDominatedFraction) {
      findings.push({
        rule: 'eps-dominated',
        severity: RUN_RULES['eps-dominated'],
        layer: layer.name,
        step,
        message:
          `${layer.name}: ${fmt(f * 100)}% of elements have √v̂ below ε${ctx.eps !== null ? ` = ${fmt(ctx.eps)}` : ''}: ` +
          `there the update is m̂/ε, proportional to the gradient, not ≈ lr — Adam's scale invariance is lost` +
          (layer.adamUpdateRms !== null ? ` (RMS(u) = ${fmt(layer.adamUpdateRms)} instead of O(1))` : '') +
          `. Lower ε (rescale it with the gradients) or find why gradients are this small (loss scale, vanishing gradients).`,
        evidence: { epsDominatedFraction: f, threshold: th.epsDominatedFraction, adamUpdateRms: layer.adamUpdateRms, eps: ctx.eps },
      });
    }
  }

  const scaled = ctx.layers.filter((l) => l.paramRms !== null && l.paramRms > 0);
  if (scaled.length >= 2) {
    let lo = scaled[0];
    let hi = scaled[0];
    for (const l of scaled) {
      if (l.paramRms! < lo.paramRms!) lo = l;
      if (l.paramRms! > hi.paramRms!) hi = l;
    }
    const ratio = hi.paramRms! / lo.paramRms!;
    if (ratio > th.scaleSpread) {
      findings.push({
        rule: 'scale-spread',
        severity: RUN_RULES['scale-spread'],
        layer: null,
        step,
        message: `Parameter scales differ ${fmt(ratio)}× (${hi.name} ${fmt(hi.paramRms!)} vs ${lo.name} ${fmt(lo.paramRms!)}): one learning rate gives relative steps ${fmt(ratio)}× apart across these layers.`,
        evidence: {
          ratio,
          largest: hi.name,
          largestRms: hi.paramRms,
          smallest: lo.name,
          smallestRms: lo.paramRms,
          threshold: th.scaleSpread,
        },
      });
    }
  }

  if (ctx.nonFinite.length > 0) {
    const total = ctx.nonFinite.reduce((s, n) => s + n.count, 0);
    const first = ctx.nonFinite[0];
    const where = `${first.path}${first.line !== undefined ? `:${first.line}` : ''}${first.layer ? ` (${first.layer}` + (first.step !== null ? `, step ${first.step})` : ')') : first.step !== null ? ` (step ${first.step})` : ''}`;
    findings.push({
      rule: 'non-finite',
      severity: RUN_RULES['non-finite'],
      layer: first.layer,
      step: first.step,
      message: `${total} non-finite value${total === 1 ? '' : 's'} (NaN/Inf) in ${ctx.nonFinite.length} place${ctx.nonFinite.length === 1 ? '' : 's'}; first: ${first.what} at ${where}${first.firstIndex !== undefined ? `, element ${first.firstIndex}` : ''}.`,
      evidence: { count: total, places: ctx.nonFinite.slice(0, 20) },
    });
  }
  return findings;
}
