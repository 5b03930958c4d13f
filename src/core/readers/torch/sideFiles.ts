import { echo } from '../../errors';
import { emptyRunData, type OptimizerHyper, type RunData } from '../../run/types';
import { optimizerKindFromName } from '../../../shared/optimizers';

import type { CheckpointParts, ScheduleState, TrainingArgsState } from './structure';

// The files of a Hugging Face checkpoint folder that hold no tensors to analyze, read for what they say:
// scheduler.pt (the lr schedule: base_lrs, _last_lr, last_epoch = the global step), training_args.bin
// (the configured lr, betas, eps, weight decay and optimizer name, read from the pickled
// TrainingArguments' fields as data), rng_state.pth (nothing: RNG states). Never an error.

/** Hyper-parameters a TrainingArguments states, as the run model holds them. */
export function trainingArgsHyper(args: TrainingArgsState): Partial<OptimizerHyper> {
  const hyper: Partial<OptimizerHyper> = { source: 'config' };
  const type = optimizerKindFromName(args.optim);
  if (type) hyper.type = type;
  if (args.lr !== null) hyper.lr = args.lr;
  if (args.betas) hyper.betas = args.betas;
  if (args.eps !== null) hyper.eps = args.eps;
  if (args.weightDecay !== null) hyper.weightDecay = args.weightDecay;
  return hyper;
}

function describeSchedule(s: ScheduleState): string {
  const lrs = s.lastLr.length > 0 ? `lr ${s.lastLr.join(', ')}` : 'no lr';
  const base = s.baseLrs.length > 0 ? ` (base ${s.baseLrs.join(', ')})` : '';
  return `${lrs}${base} after ${s.lastEpoch ?? '?'} scheduler steps`;
}

/** RunData of a side file (scheduler, RNG state, training arguments): what it states and a note saying what it is. */
export function sideFileRun(path: string, format: string, parts: CheckpointParts): RunData | null {
  const run = emptyRunData();
  run.inputs.push({ path, format });
  if (parts.kind === 'scheduler' && parts.schedule) {
    const s = parts.schedule;
    const lr = s.lastLr.length > 0 && s.lastLr.every((x) => x === s.lastLr[0]) ? s.lastLr[0] : null;
    if (s.lastEpoch !== null && lr !== null) run.scalars.setGlobal(s.lastEpoch, 'lr', lr);
    run.issues.push({ severity: 'warning', path, message: `LR scheduler state (${describeSchedule(s)}): no tensors to analyze` });
    return run;
  }
  if (parts.kind === 'rng-state') {
    run.issues.push({ severity: 'warning', path, message: 'random-number-generator states (rng_state): nothing to analyze; skipped' });
    return run;
  }
  if (parts.kind === 'training-args' && parts.trainingArgs) {
    const a = parts.trainingArgs;
    run.hyper = trainingArgsHyper(a);
    const said = [
      a.optim ? `optim ${echo(a.optim, 40)}` : null,
      a.lr !== null ? `learning_rate ${a.lr}` : null,
      a.weightDecay !== null ? `weight_decay ${a.weightDecay}` : null,
    ].filter(Boolean);
    run.issues.push({
      severity: 'warning',
      path,
      message: `training arguments (${echo(a.type, 80)}, read as data, never instantiated): ${said.join(', ') || 'no hyper-parameters'}; no tensors to analyze`,
    });
    return run;
  }
  return null;
}
