import { formatNumber as fmt, formatStep } from '../../shared/format';
import { lrNearZero } from '../../shared/schedule';
import type { RunRuleContext } from './context';
import { describeAtReportStep, describeLayers, describeSteps, groupedFinding, HitGrouper } from './grouping';
import type { Finding } from './types';
import { RUN_RULES } from './ruleIds';

// relative-step-high / relative-step-low over every layer and step: the measured relative step where the
// inputs have it, else the predicted one. A low step where the lr schedule has driven the lr to ~0 is its
// own finding with cause 'lr-near-zero': the schedule, not the layer, makes the step small.

export function relativeStepFindings(ctx: RunRuleContext): Finding[] {
  const th = ctx.thresholds;
  const order = ctx.series.map((s) => s.layer);
  const hiHits = new HitGrouper(order, ctx.step, 'largest');
  const loHits = new HitGrouper(order, ctx.step, 'smallest');
  const lzHits = new HitGrouper(order, ctx.step, 'smallest');
  let anyMeasured = false;
  let anyPredicted = false;
  const peak = ctx.lrSchedule?.peak ?? null;
  const nearZero = (step: number): boolean => lrNearZero(ctx.lrAt(step), peak);
  // Whether the lr is near zero, per entry of a step axis (0 not yet asked, 1 no, 2 yes): layers share one
  // axis, so lrAt is asked once per step, not once per (layer, step).
  const nearZeroBySteps = new Map<Float64Array, Uint8Array>();
  for (const s of ctx.series) {
    if (ctx.frozenLayers?.has(s.layer)) continue;
    const measured = s.figures.relStep;
    const predicted = s.figures.relStepPredicted;
    const steps = s.steps;
    let near = nearZeroBySteps.get(steps);
    if (!near) nearZeroBySteps.set(steps, (near = new Uint8Array(steps.length)));
    for (let j = 0; j < steps.length; j++) {
      let rel = measured[j]!;
      let isMeasured = true;
      if (Number.isNaN(rel)) {
        rel = predicted[j]!;
        isMeasured = false;
        if (Number.isNaN(rel)) continue;
      }
      if (rel > th.relativeStepHigh) hiHits.add(s.layer, steps[j]!, rel);
      else if (rel < th.relativeStepLow) {
        if (near[j] === 0) near[j] = nearZero(steps[j]!) ? 2 : 1;
        (near[j] === 2 ? lzHits : loHits).add(s.layer, steps[j]!, rel);
      } else continue;
      if (isMeasured) anyMeasured = true;
      else anyPredicted = true;
    }
  }
  const total = order.filter((l) => !ctx.frozenLayers?.has(l)).length;
  const kind = anyMeasured !== anyPredicted ? (anyMeasured ? 'measured' : 'predicted') : 'measured or predicted';
  const findings: Finding[] = [];

  const hi = hiHits.group();
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
  const lo = loHits.group();
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
  const lz = lzHits.group();
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
