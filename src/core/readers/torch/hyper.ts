import type { OptimizerHyper, ParamGroupHyper, ReadIssue } from '../../run/types';
import type { IdMapping, ParsedOptimizer } from './optimizerIds';

// The optimizer's type and hyper-parameters from its state dict: Adam/AdamW/SGD recognised by state
// and group keys (what was assumed is said), lr/betas/eps/weight decay/amsgrad per group and where
// uniform.

export function optimizerHyper(
  opt: ParsedOptimizer,
  mapping: IdMapping,
  path: string,
  issues: ReadIssue[],
  decoupledHint?: string,
  /** Adam or AdamW as another file of the run states it (HF training_args `optim`), for when the state cannot tell. */
  statedType?: 'adam' | 'adamw',
): { hyper: Partial<OptimizerHyper>; groups: ParamGroupHyper[] } {
  const keys = new Set<string>();
  for (const s of opt.state.values()) for (const k of s.keys) keys.add(k);
  const groupKeys = new Set<string>();
  for (const g of opt.groups) for (const k of g.raw.keys()) groupKeys.add(String(k));
  let type: OptimizerHyper['type'] = null;
  const wds = opt.groups.filter((g) => g.ids.length > 0).map((g) => g.weightDecay ?? 0);
  const anyDecay = wds.some((w) => w > 0);
  if (keys.has('exp_avg_sq') || (groupKeys.has('betas') && groupKeys.has('eps') && !keys.has('momentum_buffer'))) {
    const decoupled = opt.groups.map((g) => g.raw.get('decoupled_weight_decay'));
    if (decoupled.some((d) => d === true)) type = 'adamw';
    else if (decoupled.length > 0 && decoupled.every((d) => d === false)) type = 'adam';
    else if (!anyDecay) type = 'adam';
    else if (statedType) type = statedType;
    else {
      type = 'adamw';
      issues.push({
        severity: 'warning',
        path,
        message:
          `weight_decay > 0 but the state dict cannot tell torch.optim.Adam (L2 decay added to the gradient) from AdamW (decoupled decay): ` +
          `assumed AdamW${decoupledHint ? ` (${decoupledHint})` : ''}; set the optimizer type explicitly if the run used Adam with weight_decay`,
      });
    }
  } else if (keys.has('momentum_buffer') || (groupKeys.has('momentum') && groupKeys.has('nesterov'))) {
    type = 'sgd';
  } else if (opt.state.size > 0) {
    const ks = [...keys].filter((k) => k !== 'step');
    issues.push({
      severity: 'warning',
      path,
      message: `optimizer state keys (${ks.join(', ')}) are not Adam's or SGD's; optimizer type unknown`,
    });
  }
  // Groups that hold no parameters (HF's no-decay group of a LoRA run) state nothing about any layer.
  const live = opt.groups.filter((g) => g.ids.length > 0);
  const basis = live.length > 0 ? live : opt.groups;
  const uniform = <T>(vals: (T | null)[], eq: (a: T, b: T) => boolean = (a, b) => a === b): T | null => {
    if (vals.length === 0 || vals[0] === null) return null;
    return vals.every((v) => v !== null && eq(v, vals[0] as T)) ? vals[0] : null;
  };
  const hyper: Partial<OptimizerHyper> = {
    type,
    lr: uniform(basis.map((g) => g.lr)),
    betas:
      type === 'sgd'
        ? null
        : uniform(
            basis.map((g) => g.betas),
            (a, b) => a[0] === b[0] && a[1] === b[1],
          ),
    eps: type === 'sgd' ? null : uniform(basis.map((g) => g.eps)),
    weightDecay: uniform(basis.map((g) => g.weightDecay)),
    source: 'checkpoint',
  };
  // AMSGrad: stated per group by torch's Adam/AdamW; a max_exp_avg_sq in the state says so too.
  const stated = opt.groups.some((g) => g.amsgrad !== null);
  if (stated) hyper.amsgrad = uniform(basis.map((g) => g.amsgrad));
  else if (keys.has('max_exp_avg_sq')) hyper.amsgrad = true;
  const groups: ParamGroupHyper[] = opt.groups.map((g) => ({
    layers: g.ids.map((id) => mapping.names.get(id)).filter((x): x is string => x !== undefined),
    lr: g.lr,
    betas: type === 'sgd' ? null : g.betas,
    eps: type === 'sgd' ? null : g.eps,
    weightDecay: g.weightDecay,
    ...(stated ? { amsgrad: g.amsgrad } : {}),
  }));
  if (basis.length > 1 && (hyper.lr === null || hyper.weightDecay === null || hyper.eps === null)) {
    issues.push({
      severity: 'warning',
      path,
      message: `param groups differ in ${['lr', 'weightDecay', 'eps'].filter((k) => hyper[k as 'lr'] === null).join(', ')}; see paramGroups for per-group values`,
    });
  }
  return { hyper, groups };
}
