import { formatNumber as fmt, formatStep } from '../../shared/format';
import { lrMeaning, OPTIMIZER_NORMALIZATION } from '../../shared/optimizers';
import type { RunRuleContext } from './context';
import { RUN_RULES } from './ruleIds';
import type { Finding } from './types';

// lr-without-scale: a learning rate is known but no parameter scale is. Quotes the run's peak (or stated)
// learning rate and the schedule it saw — never only the last, decayed value — and what the lr means under
// the run's optimizer.

export function lrWithoutScaleFindings(ctx: RunRuleContext): Finding[] {
  if (ctx.anyParamScale) return [];
  const sched = ctx.lrSchedule;
  const lr = sched ? sched.peak : ctx.lr;
  if (lr === null || !Number.isFinite(lr)) return [];
  // Under LAMB/LARS the trust ratio makes lr a relative step already: the scale is not needed to read it.
  if (ctx.optimizer && OPTIMIZER_NORMALIZATION[ctx.optimizer] === 'trust-ratio') return [];
  const quoted =
    sched && sched.points > 1 && sched.last !== sched.peak
      ? `peak ${fmt(sched.peak)} at step ${formatStep(sched.peakStep)}, ${sched.lastStep > sched.peakStep ? 'decayed' : 'then'} to ${fmt(sched.last)} at step ${formatStep(sched.lastStep)}`
      : fmt(lr);
  const adamLike = ctx.optimizer === null || OPTIMIZER_NORMALIZATION[ctx.optimizer] === 'second-moment';
  const example = adamLike
    ? ` At the first steps (RMS(u) ≈ 1) lr ${fmt(lr)} means a relative step of ${fmt(lr)} for weights of scale 1 but ${fmt(lr / 0.02)} for weights of scale 0.02.`
    : '';
  return [
    {
      rule: 'lr-without-scale',
      severity: RUN_RULES['lr-without-scale'],
      layer: null,
      step: ctx.step,
      message:
        `Learning rate ${quoted} is known but no parameter scale is. ${lrMeaning(ctx.optimizer)}${example} ` +
        `Log per-layer param_rms (Insert Logging Snippet) or state the init scale to make it meaningful.`,
      evidence: {
        lr,
        ...(sched ? { lrSchedule: sched } : {}),
        optimizer: ctx.optimizer,
      },
    },
  ];
}
