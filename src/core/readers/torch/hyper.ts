import type { OptimizerHyper, OptimizerOptionValue, ParamGroupHyper, ReadIssue } from '../../run/types';
import { recognizeOptimizer } from '../../run/optimizerKeys';
import { TorchTensor, type PickleValue } from '../pickle/values';
import type { IdMapping, ParsedOptimizer } from './optimizerIds';
import { asNumber } from './structure';

// The optimizer's type and hyper-parameters from its state dict: the optimizer recognised by state and group keys
// (run/optimizerKeys.ts; what was assumed is said), lr/betas/eps/weight decay per group and where uniform, each
// group's other settings by their names (amsgrad, momentum, nesterov, centered, Adafactor's flags, Muon's
// use_muon and adjust_lr_fn, …) and, where it differs by group, the group's optimizer (Muon's AdamW groups).

/** A group setting as data: numbers, flags, names, None, and tuples of numbers (betas, Adafactor's eps pair). */
function optionValue(v: PickleValue | undefined, scalars: ReadonlyMap<TorchTensor, number>): OptimizerOptionValue | undefined {
  if (v === null) return null;
  if (typeof v === 'boolean' || typeof v === 'string') return v;
  if (v instanceof TorchTensor) return scalars.get(v);
  const n = asNumber(v);
  if (n !== null) return n;
  if (Array.isArray(v)) {
    const items = v.map((x) => (x === null ? null : x instanceof TorchTensor ? (scalars.get(x) ?? undefined) : asNumber(x)));
    return items.every((x) => x !== undefined && (x === null || typeof x === 'number')) ? (items as (number | null)[]) : undefined;
  }
  return undefined;
}

export function optimizerHyper(
  opt: ParsedOptimizer,
  mapping: IdMapping,
  path: string,
  issues: ReadIssue[],
  decoupledHint?: string,
  /** Adam or AdamW as another file of the run states it (HF training_args `optim`), for when the state cannot tell. */
  statedType?: 'adam' | 'adamw',
  /** Values of the one-element tensors in the groups (torch 2.x lr/betas, timm LAMB's group step). */
  scalars: ReadonlyMap<TorchTensor, number> = new Map(),
): { hyper: Partial<OptimizerHyper>; groups: ParamGroupHyper[] } {
  const keys = new Set<string>();
  for (const s of opt.state.values()) for (const k of s.keys) keys.add(k);
  const options = opt.groups.map((g) => {
    const o: Record<string, OptimizerOptionValue> = {};
    for (const [k, v] of g.raw.map) {
      if (typeof k !== 'string' || k === 'params' || k === 'param_names') continue;
      const x = optionValue(v, scalars);
      if (x !== undefined) o[k] = x;
    }
    return o;
  });
  const recognized = recognizeOptimizer({
    stateKeys: keys,
    groups: opt.groups.map((g, i) => ({
      keys: new Set(g.raw.keys().map(String)),
      weightDecay: g.weightDecay,
      betasLength: Array.isArray(g.raw.get('betas')) ? (g.raw.get('betas') as unknown[]).length : null,
      useMuon: typeof options[i].use_muon === 'boolean' ? (options[i].use_muon as boolean) : null,
      decoupled: typeof options[i].decoupled_weight_decay === 'boolean' ? (options[i].decoupled_weight_decay as boolean) : null,
    })),
    className: statedType ?? null,
  });
  const type = recognized.kind;
  for (const a of recognized.assumptions) {
    issues.push({
      severity: 'warning',
      path,
      message: decoupledHint && /assumed AdamW/.test(a) ? a.replace('assumed AdamW', `assumed AdamW (${decoupledHint})`) : a,
    });
  }
  if (type === null && opt.state.size > 0 && recognized.assumptions.length === 0) {
    const ks = [...keys].filter((k) => k !== 'step');
    issues.push({
      severity: 'warning',
      path,
      message: `optimizer state keys (${ks.join(', ')}) are not of an optimizer Optimizer Lens knows; optimizer type unknown`,
    });
  }
  // Groups that hold no parameters (HF's no-decay group of a LoRA run) state nothing about any layer.
  const live = opt.groups.filter((g) => g.ids.length > 0);
  const basis = live.length > 0 ? live : opt.groups;
  const uniform = <T>(vals: (T | null)[], eq: (a: T, b: T) => boolean = (a, b) => a === b): T | null => {
    if (vals.length === 0 || vals[0] === null) return null;
    return vals.every((v) => v !== null && eq(v, vals[0] as T)) ? vals[0] : null;
  };
  const noBetas = type === 'sgd' || type === 'lars';
  const noEps = type === 'sgd';
  const hyper: Partial<OptimizerHyper> = {
    type,
    lr: uniform(basis.map((g) => g.lr)),
    betas: noBetas
      ? null
      : uniform(
          basis.map((g) => g.betas),
          (a, b) => a[0] === b[0] && a[1] === b[1],
        ),
    eps: noEps ? null : uniform(basis.map((g) => g.eps)),
    weightDecay: uniform(basis.map((g) => g.weightDecay)),
    source: 'checkpoint',
  };
  const groups: ParamGroupHyper[] = opt.groups.map((g, i) => ({
    layers: g.ids.map((id) => mapping.names.get(id)).filter((x): x is string => x !== undefined),
    lr: g.lr ?? (typeof options[i].lr === 'number' ? (options[i].lr as number) : null),
    betas: noBetas ? null : g.betas,
    eps: noEps ? null : g.eps,
    weightDecay: g.weightDecay,
    ...(recognized.groupKinds[i] !== type ? { kind: recognized.groupKinds[i] } : {}),
    options: options[i],
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
