import { formatNumber as fmt, formatStep } from '../../shared/format';
import { LR_NEAR_ZERO_FRACTION, type RunRuleContext } from './context';
import { describeAtReportStep, describeLayers, describeSteps, groupHits, groupedFinding, type RuleHit } from './grouping';
import type { Finding } from './types';
import { RUN_RULES } from './ruleIds';

// relative-step-high / relative-step-low over every layer and step: the measured relative step where the
// inputs have it, else the predicted one. A low step where the lr schedule has driven the lr to ~0 is its
// own finding with cause 'lr-near-zero': the schedule, not the layer, makes the step small.

export function relativeStepFindings(ctx: RunRuleContext): Finding[] {
  const th = ctx.thresholds;
  const high: RuleHit[] = [];
  const low: RuleHit[] = [];
  const lowNearZero: RuleHit[] = [];
  const kinds = new Set<'measured' | 'predicted'>();
  const peak = ctx.lrSchedule?.peak ?? null;
  const nearZero = (step: number): boolean => {
    if (peak === null || !(peak > 0)) return false;
    const lr = ctx.lrAt(step);
    return lr !== null && lr <= LR_NEAR_ZERO_FRACTION * peak;
  };
  for (const s of ctx.series) {
    if (ctx.frozenLayers?.has(s.layer)) continue;
    const measured = s.figures.relStep;
    const predicted = s.figures.relStepPredicted;
    for (let j = 0; j < s.steps.length; j++) {
      const m = measured[j];
      const rel = m ?? predicted[j];
      if (rel === null || rel === undefined) continue;
      const hit = { layer: s.layer, step: s.steps[j], value: rel };
      if (rel > th.relativeStepHigh) {
        high.push(hit);
        kinds.add(m !== null && m !== undefined ? 'measured' : 'predicted');
      } else if (rel < th.relativeStepLow) {
        (nearZero(hit.step) ? lowNearZero : low).push(hit);
        kinds.add(m !== null && m !== undefined ? 'measured' : 'predicted');
      }
    }
  }
  const order = ctx.series.map((s) => s.layer);
  const total = order.filter((l) => !ctx.frozenLayers?.has(l)).length;
  const kind = kinds.size === 1 ? [...kinds][0] : 'measured or predicted';
  const findings: Finding[] = [];

  const hi = groupHits(high, order, ctx.step, (a, b) => a > b);
  if (hi) {
    findings.push(
      groupedFinding(
        'relative-step-high',
        RUN_RULES['relative-step-high'],
        hi,
        ctx.step,
        `${describeLayers(hi.layers, total)}: ${kind} relative step above ${fmt(th.relativeStepHigh)} per step ${describeSteps(hi.steps)}, ` +
          `up to ${fmt(hi.worst.value)} (${hi.worst.layer}, step ${formatStep(hi.worst.step)})${describeAtReportStep(hi, ctx.step)}: each step changes these weights by more than ${fmt(th.relativeStepHigh * 100)}% of their size.`,
        { relStep: hi.worst.value, kind, threshold: th.relativeStepHigh, worst: hi.worst },
      ),
    );
  }
  const lo = groupHits(low, order, ctx.step, (a, b) => a < b);
  if (lo) {
    findings.push(
      groupedFinding(
        'relative-step-low',
        RUN_RULES['relative-step-low'],
        lo,
        ctx.step,
        `${describeLayers(lo.layers, total)}: ${kind} relative step below ${fmt(th.relativeStepLow)} per step ${describeSteps(lo.steps)}, ` +
          `down to ${fmt(lo.worst.value)} (${lo.worst.layer}, step ${formatStep(lo.worst.step)})${describeAtReportStep(lo, ctx.step)}: these weights barely move (float32 rounding may swallow such steps).`,
        { relStep: lo.worst.value, kind, threshold: th.relativeStepLow, worst: lo.worst },
      ),
    );
  }
  const lz = groupHits(lowNearZero, order, ctx.step, (a, b) => a < b);
  if (lz) {
    const sched = ctx.lrSchedule!;
    const lrThere = ctx.lrAt(lz.worst.step);
    const warmup = lz.steps.last <= sched.peakStep;
    findings.push(
      groupedFinding(
        'relative-step-low',
        RUN_RULES['relative-step-low'],
        lz,
        ctx.step,
        `${describeLayers(lz.layers, total)}: ${kind} relative step below ${fmt(th.relativeStepLow)} per step ${describeSteps(lz.steps)} — ` +
          (warmup
            ? `the lr schedule is still warming up there (lr ${fmt(lrThere)}, peak ${fmt(sched.peak)} at step ${formatStep(sched.peakStep)})`
            : `the lr schedule has decayed to ${fmt(lrThere)} there (peak ${fmt(sched.peak)} at step ${formatStep(sched.peakStep)})`) +
          `: the schedule, not these layers, makes the step small.`,
        { relStep: lz.worst.value, kind, threshold: th.relativeStepLow, worst: lz.worst, lr: lrThere, peakLr: sched.peak },
        'lr-near-zero',
      ),
    );
  }
  return findings;
}
