import { ReaderError } from '../../errors';
import { AUXILIARY_STATE_ROLES, type ReadIssue, type TensorRole } from '../../run/types';
import type { ReadOptions } from '../reader';
import { PyDict, TorchTensor, summarize, type PickleValue } from '../pickle/values';
import { asNumber } from './structure';
import { BNB_NESTED_STATE_KEY, OPTIMIZER_STATE_KEYS } from '../../run/optimizerKeys';

// An optimizer state dict's integer ids mapped to parameter names: by `param_names` when saved, else
// by position (one group, every shape checked), by shapes that occur once, or by the one order-preserving
// assignment consistent with named_parameters() order (warned) — skipping the parameters a subset
// optimizer does not hold, which are then known to be frozen.

/** Options of the checkpoint readers beyond the common ReadOptions. */
export interface TorchReadOptions extends ReadOptions {
  /**
   * Multi-group optimizer state without `param_names`: the ids that shapes alone cannot determine are
   * mapped by assuming each param group lists its parameters in named_parameters() order (true of
   * groups built by filtering named_parameters(), as Hugging Face Trainer, timm and most code do; false
   * of groups built from name-sorted lists), and only when that assumption yields exactly one
   * assignment. A warning lists every id mapped this way. Default true; false maps only what is
   * certain (param_names, the single-group positional mapping, shapes that occur once) and names the
   * rest in the warning.
   */
  assumeGroupOrder?: boolean;
}

// ---- The state dict, parsed ----------------------------------------------------------------------

export interface ParsedGroup {
  ids: number[];
  names: string[] | null;
  lr: number | null;
  betas: [number, number] | null;
  eps: number | null;
  weightDecay: number | null;
  momentum: number | null;
  raw: PyDict;
}

export interface ParsedOptimizer {
  groups: ParsedGroup[];
  /**
   * State per id: role → tensor (run/optimizerKeys.ts names the roles), the step value holder, the scalar state
   * (0-d tensors and numbers: NAdam's mu_product, transformers Adafactor's RMS, …) and the keys as saved.
   */
  state: Map<
    number,
    { tensors: Map<TensorRole, TorchTensor>; step: PickleValue | undefined; scalars: Map<string, PickleValue>; keys: string[] }
  >;
}

export function parseOptimizer(osd: PyDict, path: string, issues: ReadIssue[]): ParsedOptimizer {
  const groupsRaw = osd.get('param_groups');
  if (!Array.isArray(groupsRaw)) throw new ReaderError(path, `optimizer 'param_groups' is ${summarize(groupsRaw ?? null, 1)}, not a list`);
  const groups: ParsedGroup[] = [];
  groupsRaw.forEach((g, gi) => {
    if (!(g instanceof PyDict)) {
      issues.push({ severity: 'warning', path, message: `optimizer param_groups[${gi}] is not a dict; skipped` });
      return;
    }
    const paramsRaw = g.get('params');
    const ids: number[] = [];
    if (Array.isArray(paramsRaw))
      for (const p of paramsRaw) {
        const x = asNumber(p);
        if (x !== null && Number.isInteger(x)) ids.push(x);
      }
    const namesRaw = g.get('param_names');
    const names =
      Array.isArray(namesRaw) && namesRaw.length === ids.length && namesRaw.every((x) => typeof x === 'string')
        ? (namesRaw as string[])
        : null;
    const betasRaw = g.get('betas');
    let betas: [number, number] | null = null;
    if (Array.isArray(betasRaw) && betasRaw.length === 2) {
      const b1 = asNumber(betasRaw[0]);
      const b2 = asNumber(betasRaw[1]);
      if (b1 !== null && b2 !== null) betas = [b1, b2];
    }
    groups.push({
      ids,
      names,
      lr: asNumber(g.get('lr')),
      betas,
      eps: asNumber(g.get('eps')),
      weightDecay: asNumber(g.get('weight_decay')),
      momentum: asNumber(g.get('momentum')),
      raw: g,
    });
  });
  const state: ParsedOptimizer['state'] = new Map();
  const stateRaw = osd.get('state');
  if (stateRaw instanceof PyDict) {
    for (const [k, v] of stateRaw.map) {
      const id = typeof k === 'string' && /^\d+$/.test(k) ? Number(k) : asNumber(k as PickleValue);
      if (id === null || !(v instanceof PyDict)) continue;
      const tensors = new Map<TensorRole, TorchTensor>();
      const scalars = new Map<string, PickleValue>();
      const keys: string[] = [];
      // bitsandbytes ≥ 0.49.2 nests its quantization state one level down.
      const nested = v.get(BNB_NESTED_STATE_KEY);
      const entries = [...v.map, ...(nested instanceof PyDict ? nested.map : [])];
      for (const [name, value] of entries) {
        if (typeof name !== 'string' || name === BNB_NESTED_STATE_KEY) continue;
        keys.push(name);
        const role = OPTIMIZER_STATE_KEYS[name];
        if (value instanceof TorchTensor && role) tensors.set(role, value);
        else if (value instanceof TorchTensor ? value.numel === 1 : asNumber(value) !== null) scalars.set(name, value);
      }
      state.set(id, { tensors, step: v.get('step'), scalars, keys });
    }
  }
  return { groups, state };
}

export function shapeKey(s: number[]): string {
  return s.join('x');
}

/** The parameter's shape as its state shows it (factored moments and quantization blocks are not its shape). */
export function stateShape(opt: ParsedOptimizer, id: number): number[] | null {
  const s = opt.state.get(id);
  if (!s) return null;
  const own = [...s.tensors].filter(([role]) => !AUXILIARY_STATE_ROLES.has(role)).map(([, t]) => t);
  for (const t of own) if (t.shape.length > 0 || t.numel > 1) return t.shape;
  // 0-d parameters have 0-d state tensors
  for (const t of own) return t.shape;
  // Adafactor's factored moments only: rows [..., R] (torch: [..., R, 1]) and columns [..., C] (torch: [..., 1, C]).
  const row = s.tensors.get('exp_avg_sq_row');
  const col = s.tensors.get('exp_avg_sq_col');
  if (row && col && col.shape.length > 0) {
    const n = row.shape.length;
    const keepdim = n >= 2 && col.shape.length === n && row.shape[n - 1] === 1 && col.shape[n - 2] === 1;
    return [...(keepdim ? row.shape.slice(0, -1) : row.shape), col.shape[col.shape.length - 1]];
  }
  return null;
}

// ---- Ids → names ---------------------------------------------------------------------------------

export interface IdMapping {
  /** id → parameter name, for what could be mapped. */
  names: Map<number, string>;
  /** How: 'param_names', 'positional', 'shape', 'group-order', 'group-position' per id. */
  how: Map<number, string>;
  /** Ids that could not be mapped. */
  unmapped: number[];
  /**
   * Parameters the optimizer certainly does not hold (frozen: PEFT base weights, a frozen backbone):
   * every id is mapped and these names are left over. Empty when the mapping is incomplete.
   */
  frozen: string[];
}

/**
 * Map optimizer state ids to parameter names. `params` is the model's parameters in named_parameters()
 * order (buffers and tied aliases removed) when `orderKnown` (a torch state dict; an order inferred from
 * the names for a PEFT adapter), else in an unknown order (safetensors sorts by name). See
 * TorchReadOptions.assumeGroupOrder.
 */
export function mapOptimizerIds(
  opt: ParsedOptimizer,
  params: { name: string; shape: number[] }[],
  path: string,
  issues: ReadIssue[],
  options: { assumeGroupOrder?: boolean; orderKnown?: boolean } = {},
): IdMapping {
  const orderKnown = options.orderKnown ?? true;
  const names = new Map<number, string>();
  const how = new Map<number, string>();
  const allIds = opt.groups.flatMap((g) => g.ids);
  const shapeOf = (id: number) => stateShape(opt, id);
  const same = (a: number[] | null, b: number[]) => a === null || shapeKey(a) === shapeKey(b);
  const result = (frozenOk: boolean): IdMapping => {
    const unmapped = allIds.filter((id) => !names.has(id));
    const used = new Set(names.values());
    const frozen = frozenOk && unmapped.length === 0 ? params.filter((p) => !used.has(p.name)).map((p) => p.name) : [];
    return { names, how, unmapped, frozen };
  };

  if (opt.groups.length > 0 && opt.groups.every((g) => g.names)) {
    const byName = new Map(params.map((p) => [p.name, p] as const));
    const bad: string[] = [];
    for (const g of opt.groups) {
      g.ids.forEach((id, i) => {
        const name = g.names![i];
        const p = byName.get(name);
        if (params.length > 0 && p && !same(shapeOf(id), p.shape)) bad.push(name);
        names.set(id, name);
        how.set(id, 'param_names');
      });
    }
    if (bad.length)
      issues.push({
        severity: 'warning',
        path,
        message: `optimizer state shapes differ from the model's for ${bad.join(', ')} (param_names used as stated)`,
      });
    return result(params.length > 0);
  }
  if (params.length === 0) return result(false);

  // 1. Positional: the k-th id over all groups ↔ the k-th named parameter, every shape checked.
  if (orderKnown && allIds.length === params.length && allIds.every((id, k) => same(shapeOf(id), params[k].shape))) {
    const known = allIds.filter((id) => shapeOf(id) !== null).length;
    if (opt.groups.length === 1 || solveGroupOrder(opt, params, 0).count === 1) {
      allIds.forEach((id, k) => {
        names.set(id, params[k].name);
        how.set(id, 'positional');
      });
      if (known < allIds.length) {
        issues.push({
          severity: 'warning',
          path,
          message: `${allIds.length - known} optimizer ids have no state; mapped by position only`,
        });
      }
      return result(true);
    }
  }

  // 2. Shapes that occur exactly once among the parameters and once among the state ids are certain.
  const paramsByShape = new Map<string, string[]>();
  for (const p of params) {
    const k = shapeKey(p.shape);
    const list = paramsByShape.get(k);
    if (list) list.push(p.name);
    else paramsByShape.set(k, [p.name]);
  }
  const idsByShape = new Map<string, number[]>();
  for (const id of allIds) {
    const s = shapeOf(id);
    if (!s) continue;
    const k = shapeKey(s);
    const list = idsByShape.get(k);
    if (list) list.push(id);
    else idsByShape.set(k, [id]);
  }
  for (const [sk, ids] of idsByShape) {
    const ps = paramsByShape.get(sk) ?? [];
    if (ids.length === 1 && ps.length === 1) {
      names.set(ids[0], ps[0]);
      how.set(ids[0], 'shape');
    }
  }
  const unmappedBefore = allIds.filter((id) => !names.has(id) && opt.state.has(id));

  // 3. Order-preserving: each group lists its parameters in named_parameters() order; parameters the
  //    optimizer does not hold (fewer ids than parameters) are skipped as frozen.
  const skips = params.length - allIds.length;
  const solution: OrderSolution = orderKnown && skips >= 0 ? solveGroupOrder(opt, params, skips) : { count: 0 };
  const single = opt.groups.length === 1;
  const apply = unmappedBefore.length > 0 || (skips > 0 && names.size < allIds.length);
  if (apply && (single || (options.assumeGroupOrder ?? true)) && solution.count === 1) {
    const guessed: number[] = [];
    for (const [id, name] of solution.assignment) {
      if (!names.has(id)) {
        names.set(id, name);
        how.set(id, 'group-order');
        if (opt.state.has(id)) guessed.push(id);
      }
    }
    const out = result(true);
    const frozenNote =
      out.frozen.length > 0
        ? `; ${out.frozen.length} parameters are not in the optimizer (frozen): ${out.frozen.slice(0, 8).join(', ')}${out.frozen.length > 8 ? ', …' : ''}`
        : '';
    issues.push({
      severity: 'warning',
      path,
      message: single
        ? `the optimizer holds ${allIds.length} of the ${params.length} parameters and no param_names: ids mapped by assuming it lists them in named_parameters() order (the only assignment consistent with the shapes)${frozenNote}`
        : `ambiguous optimizer-state mapping: ${opt.groups.length} param groups without param_names; ` +
          `${guessed.length} state ids mapped by assuming each group lists its parameters in named_parameters() order ` +
          `(the only assignment consistent with the shapes): ${guessed.map((id) => `${id}→${names.get(id)}`).join(', ')}${frozenNote}. ` +
          `This is wrong if the groups were built from name-sorted lists; save param_names in the param groups to make the mapping certain.`,
    });
    return out;
  } else if (unmappedBefore.length > 0) {
    const layers = [
      ...new Set(
        unmappedBefore
          .map((id) => shapeOf(id))
          .filter((s): s is number[] => s !== null)
          .flatMap((s) => paramsByShape.get(shapeKey(s)) ?? []),
      ),
    ];
    const hint =
      solution.count === 1
        ? ' (assuming each group lists its parameters in named_parameters() order would determine them uniquely; assumeGroupOrder is off)'
        : solution.count === 2
          ? ' (even assuming named_parameters() order within each group, several assignments fit)'
          : '';
    issues.push({
      severity: 'warning',
      path,
      message:
        `ambiguous optimizer-state mapping: ${allIds.length} state ids in ${opt.groups.length} param group(s), ${params.length} model parameters, no param_names; ` +
        `mapped ${names.size} by unique shape; ${unmappedBefore.length} ids (${unmappedBefore.join(', ')}) share shapes with several parameters ` +
        `(${layers.join(', ')}) and are left unmapped${hint}${orderKnown ? '' : ' (the model file does not record parameter order)'}. ` +
        `Save param_names in the param groups to make the mapping certain.`,
    });
  }
  return result(true);
}

type OrderSolution = { count: 0 } | { count: 1; assignment: Map<number, string> } | { count: 2 };

/** Search states (positions in the groups per parameter) beyond which the order is left undetermined. */
const MAX_ORDER_STATES = 500_000;

/**
 * Count (up to 2) the ways to assign the named parameters, in order, to the groups' ids so that each
 * group's ids follow named_parameters() order, every id's state shape equals its parameter's shape, and
 * exactly `skips` parameters are held by no id. Iterative over the parameters (no recursion), with the
 * reachable states of each step kept in a map; beyond MAX_ORDER_STATES the order counts as undetermined.
 */
export function solveGroupOrder(opt: ParsedOptimizer, params: { name: string; shape: number[] }[], skips: number): OrderSolution {
  const groups = opt.groups.map((g) => g.ids.map((id) => ({ id, shape: stateShape(opt, id) })));
  const n = params.length;
  if (groups.reduce((a, g) => a + g.length, 0) + skips !== n || skips < 0) return { count: 0 };
  const pshape = params.map((p) => shapeKey(p.shape));
  const gshape = groups.map((g) => g.map((x) => (x.shape ? shapeKey(x.shape) : null)));
  interface Node {
    pos: number[];
    count: number;
    /** The state this one was first reached from, and which group moved (-1: the parameter was skipped). */
    prev: Node | null;
    move: number;
  }
  let layer = new Map<string, Node>([['', { pos: groups.map(() => 0), count: 1, prev: null, move: -1 }]]);
  let states = 1;
  for (let i = 0; i < n; i++) {
    const next = new Map<string, Node>();
    const reach = (from: Node, pos: number[], move: number) => {
      const key = pos.join(',');
      const node = next.get(key);
      if (node) node.count = Math.min(2, node.count + from.count);
      else {
        next.set(key, { pos, count: from.count, prev: from, move });
        states++;
      }
    };
    for (const node of layer.values()) {
      const used = node.pos.reduce((a, b) => a + b, 0);
      for (let g = 0; g < groups.length; g++) {
        const p = node.pos[g];
        if (p >= groups[g].length) continue;
        const s = gshape[g][p];
        if (s !== null && s !== pshape[i]) continue;
        const pos = node.pos.slice();
        pos[g]++;
        reach(node, pos, g);
      }
      if (i - used < skips) reach(node, node.pos, -1);
    }
    if (states > MAX_ORDER_STATES) return { count: 2 };
    layer = next;
    if (layer.size === 0) return { count: 0 };
  }
  const end = layer.get(groups.map((g) => g.length).join(','));
  if (!end) return { count: 0 };
  if (end.count >= 2) return { count: 2 };
  // The unique solution: walk back through the first predecessors (each has count 1 on this path).
  const assignment = new Map<number, string>();
  let node: Node | null = end;
  for (let i = n - 1; node && node.prev; i--, node = node.prev) {
    if (node.move >= 0) assignment.set(groups[node.move][node.pos[node.move] - 1].id, params[i].name);
  }
  return { count: 1, assignment };
}
