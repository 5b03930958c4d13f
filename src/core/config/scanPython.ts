// Python front end: @lezer/python's syntax tree over the budget-bounded text. Nothing is executed: values are
// literals, and constant arithmetic over literals and the file's own numeric constants is folded
// (`lr=5e-4 * 1024 / 512`, `lr = base_lr * batch_size / 256`); a value that needs a name the file does not state
// is reported as depending on it. Assignments (`lr = …`, `config.learning_rate = …`, `_C.TRAIN.BASE_LR = …`,
// class attributes) and dict literals / dict(…) calls nested under them give key paths
// (`optim_wrapper.optimizer.lr`); calls give `Callee.keyword`.
import { parser } from '@lezer/python';
import type { SyntaxNode } from '@lezer/common';
import { boundPython, capIssues, CONFIG_BUDGETS } from './bounds';
import { lrKey } from './lrKeys';
import type { LineIndex } from './positions';
import type { ConfigComment, RawEntry, ScanIssue, SourceRange, UnresolvedEntry } from './types';
import { OPTIMIZER_CTORS } from './classify';
import { formatNumber } from '../../shared/format';

export interface PythonFrontEnd {
  entries: RawEntry[];
  unresolved: UnresolvedEntry[];
  comments: ConfigComment[];
  /** Offsets where the model is cast to float16 (`.half()`, `.to(torch.float16)`, `set_default_dtype(torch.float16)`). */
  halfCasts: { start: number; end: number; what: string }[];
  /** Offsets of optimizer constructor calls. */
  optimizerCalls: { start: number; end: number; callee: string }[];
  issues: ScanIssue[];
}

/** An expression that depends on a name the file does not state. */
const DEP = Symbol('depends');

/** A node's children without comments (a comment inside a list or a call is not an item or an argument). */
function children(n: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (let c = n.firstChild; c; c = c.nextSibling) if (c.name !== 'Comment') out.push(c);
  return out;
}

export function pythonNumber(text: string): number | null {
  const t = text.replace(/_/g, '');
  if (/[jJ]$/.test(t)) return null;
  if (/^0[xX][0-9a-fA-F]+$/.test(t)) return parseInt(t.slice(2), 16);
  if (/^0[oO][0-7]+$/.test(t)) return parseInt(t.slice(2), 8);
  if (/^0[bB][01]+$/.test(t)) return parseInt(t.slice(2), 2);
  const n = Number(t);
  return Number.isFinite(n) ? n : null;
}

function pythonString(text: string): string | null {
  const m = /^([rRbBuUfF]{0,2})('''|"""|'|")([\s\S]*)\2$/.exec(text);
  if (!m) return null;
  if (/[bBfF]/.test(m[1])) return null;
  // Escapes are rare in the strings we care about (names, dtypes, flags); keep the text between quotes.
  return m[3];
}

/** Calls that build a plain mapping: their keywords are keys under the enclosing path. */
const CONTAINER_CALLS = new Set([
  'dict',
  'OrderedDict',
  'ConfigDict',
  'FrozenConfigDict',
  'EasyDict',
  'edict',
  'CN',
  'CfgNode',
  'SimpleNamespace',
  'Config',
]);

type Folded =
  | { kind: 'value'; value: RawEntry['value']; refs: { name: string; value: number; line: number }[]; ref?: Constant }
  | { kind: 'deps'; names: string[] }
  | null;

/** A numeric module/class/function-level constant: where its value is written. */
interface Constant {
  value: number;
  range: SourceRange;
  raw: string;
  via?: string;
}

interface Ctx {
  /** Key path the value sits under. */
  path: string[];
  keyRange?: SourceRange;
  context: RawEntry['context'];
  ctorStart?: number;
  callee?: string;
  groupName?: string;
  depth: number;
}

export function scanPython(original: string, idx: LineIndex): PythonFrontEnd {
  const out: PythonFrontEnd = { entries: [], unresolved: [], comments: [], halfCasts: [], optimizerCalls: [], issues: [] };
  const bounded = boundPython(original, idx);
  out.issues.push(...bounded.issues);
  const src = original; // same length as the parsed text: slices of it are the source as written
  const tree = parser.parse(bounded.text);
  const r = (n: SyntaxNode) => idx.range(n.from, numEnd(n));
  const text = (n: SyntaxNode) => src.slice(n.from, numEnd(n));
  function numEnd(n: SyntaxNode): number {
    return n.name === 'Number' ? (bounded.numberEnds.get(n.from) ?? n.to) : n.to;
  }
  const constants = new Map<string, Constant>();
  const argDefaults = new Map<string, Constant & { flag: string }>();
  let full = false;
  /** Entries by the first name of their path (the variable they are assigned under). */
  const byRoot = new Map<string, RawEntry[]>();
  const push = (e: RawEntry) => {
    if (out.entries.length < CONFIG_BUDGETS.maxEntries) {
      out.entries.push(e);
      if (e.context === 'assign' || e.context === 'mapping') {
        const list = byRoot.get(e.path[0]);
        if (list) list.push(e);
        else byRoot.set(e.path[0], [e]);
      }
    } else if (!full) {
      full = true;
      out.issues.push({
        severity: 'warning',
        line: e.valueRange.line,
        column: e.valueRange.column,
        message: `more than ${CONFIG_BUDGETS.maxEntries} values: the rest of the file is not read`,
      });
    }
  };

  /** 'torch.optim.AdamW' for a MemberExpression/VariableName chain; null for anything else. Iterative: chains can be long. */
  const dottedName = (n: SyntaxNode): string | null => {
    const parts: string[] = [];
    let cur: SyntaxNode | null = n;
    for (let k = 0; cur && k < 64; k++) {
      if (cur.name === 'VariableName') {
        parts.push(text(cur));
        return parts.reverse().join('.');
      }
      if (cur.name !== 'MemberExpression') return null;
      const last = cur.lastChild;
      if (last?.name === ']') {
        // config["lr"]: a dict constant's key, read as config.lr.
        const key = last.prevSibling?.name === 'String' ? pythonString(text(last.prevSibling)) : null;
        if (key === null || last.prevSibling?.prevSibling?.name !== '[') return null;
        parts.push(key);
      } else if (last?.name === 'PropertyName') parts.push(text(last));
      else return null;
      cur = cur.firstChild;
    }
    return null;
  };

  const lookup = (name: string): (Constant & { note?: string }) | null => {
    const c = constants.get(name);
    if (c) return c;
    // `args.lr`, `opt.learning_rate`: an argparse default of this file (dest from the flag).
    const dot = name.indexOf('.');
    if (dot > 0 && name.indexOf('.', dot + 1) < 0) {
      const a = argDefaults.get(name.slice(dot + 1));
      if (a) return { ...a, via: `${name}: the ${a.flag} default (line ${a.range.line})` };
    }
    return null;
  };

  /** Fold a constant expression within the node budget. */
  const fold = (root: SyntaxNode): Folded => {
    let nodes = 0;
    const refs: { name: string; value: number; line: number }[] = [];
    const deps = new Set<string>();
    const ev = (n: SyntaxNode, depth: number): number | string | boolean | null | number[] | undefined | typeof DEP => {
      if (++nodes > CONFIG_BUDGETS.maxFoldNodes || depth > 32) return undefined;
      switch (n.name) {
        case 'Number':
          return pythonNumber(text(n)) ?? undefined;
        case 'String':
          return pythonString(text(n)) ?? undefined;
        case 'Boolean':
          return text(n) === 'True';
        case 'None':
          return null;
        case 'ParenthesizedExpression': {
          const inner = children(n).filter((c) => c.name !== '(' && c.name !== ')');
          return inner.length === 1 ? ev(inner[0], depth + 1) : undefined;
        }
        case 'UnaryExpression': {
          const [op, arg] = children(n);
          if (!op || !arg || op.name !== 'ArithOp') return undefined;
          const v = ev(arg, depth + 1);
          if (v === DEP) return DEP;
          if (typeof v !== 'number') return undefined;
          const o = text(op);
          return o === '-' ? -v : o === '+' ? v : undefined;
        }
        case 'BinaryExpression': {
          const cs = children(n);
          if (cs.length !== 3 || cs[1].name !== 'ArithOp') return undefined;
          const a = ev(cs[0], depth + 1);
          const b = ev(cs[2], depth + 1);
          if ((a === DEP || typeof a === 'number') && (b === DEP || typeof b === 'number') && (a === DEP || b === DEP)) return DEP;
          if (typeof a !== 'number' || typeof b !== 'number') return undefined;
          const v = arith(text(cs[1]), a, b);
          return v === null || !Number.isFinite(v) ? undefined : v;
        }
        case 'VariableName':
        case 'MemberExpression': {
          const name = dottedName(n);
          if (name === null) return undefined;
          const c = lookup(name);
          if (c) {
            refs.push({ name, value: c.value, line: c.range.line });
            return c.value;
          }
          deps.add(name);
          return DEP;
        }
        case 'TupleExpression':
        case 'ArrayExpression': {
          const items = children(n).filter((c) => !['(', ')', '[', ']', ','].includes(c.name));
          const vals = items.map((c) => ev(c, depth + 1));
          if (vals.length > 0 && vals.every((v) => typeof v === 'number')) return vals as number[];
          return undefined;
        }
        case 'CallExpression': {
          // float(…) / int(…) of a constant.
          const [callee, args] = children(n);
          const name = callee ? dottedName(callee) : null;
          if (!args || (name !== 'float' && name !== 'int')) return undefined;
          const inner = children(args).filter((c) => c.name !== '(' && c.name !== ')');
          if (inner.length !== 1) return undefined;
          const v = ev(inner[0], depth + 1);
          if (v === DEP) return DEP;
          const x = typeof v === 'string' ? pythonNumber(v.trim()) : typeof v === 'number' ? v : null;
          if (x === null) return undefined;
          return name === 'int' ? Math.trunc(x) : x;
        }
        default:
          return undefined;
      }
    };
    const v = ev(root, 0);
    if (v === DEP) return { kind: 'deps', names: [...deps] };
    if (v === undefined) return null;
    // A bare reference to a constant: the value is written where the constant is.
    const single = (root.name === 'VariableName' || root.name === 'MemberExpression') && refs.length === 1 ? lookup(refs[0].name) : null;
    return { kind: 'value', value: v as RawEntry['value'], refs, ref: single ?? undefined };
  };

  /** Record a value under a path (an entry, a constant for later folding, or an unresolved lr). */
  /** Values that need a name not (yet) stated: folded again after the walk (a function can read a constant defined below it). */
  const later: { node: SyntaxNode; ctx: Ctx }[] = [];
  const emit = (valueNode: SyntaxNode, ctx: Ctx, final = false) => {
    if (!ctx.path.length) return;
    const f = fold(valueNode);
    const key = ctx.path[ctx.path.length - 1];
    if (f === null) return;
    if (f.kind === 'deps') {
      if (!final) {
        if (later.length < CONFIG_BUDGETS.maxEntries) later.push({ node: valueNode, ctx });
      } else if (lrKey(key) && out.unresolved.length < CONFIG_BUDGETS.maxPerKind)
        out.unresolved.push({
          path: ctx.path,
          raw: text(valueNode),
          dependsOn: f.names,
          valueRange: r(valueNode),
          keyRange: ctx.keyRange,
          ctorStart: ctx.ctorStart,
        });
      return;
    }
    const literalRaw = text(valueNode);
    let valueRange = r(valueNode);
    let raw = literalRaw;
    let via: string | undefined;
    let useRange: SourceRange | undefined;
    if (f.ref) {
      // `lr=lr`, `lr=args.lr`: the value is where the constant (or the argparse default) is written.
      valueRange = f.ref.range;
      raw = f.ref.raw;
      useRange = r(valueNode);
      via = f.ref.via
        ? f.ref.via.startsWith(literalRaw)
          ? f.ref.via
          : `${literalRaw} = ${f.ref.via}`
        : `${literalRaw} = ${f.ref.raw} (line ${f.ref.range.line})`;
    } else if (typeof f.value === 'number' && !isPlainNumber(valueNode)) {
      const names = f.refs.map((x) => `${x.name} = ${formatNumber(x.value)} (line ${x.line})`).join(', ');
      via = `${literalRaw}${names ? ` with ${names}` : ''} = ${formatNumber(f.value)}`;
    }
    const e: RawEntry = { path: ctx.path, value: f.value, raw, valueRange, keyRange: ctx.keyRange, context: ctx.context };
    if (ctx.callee) e.callee = ctx.callee;
    if (ctx.ctorStart !== undefined) e.ctorStart = ctx.ctorStart;
    if (ctx.groupName) e.groupName = ctx.groupName;
    if (via) e.via = via;
    if (useRange) e.useRange = useRange;
    if (f.refs.length) e.refs = f.refs.map((x) => x.name);
    if (
      Array.isArray(f.value) &&
      f.value.length <= CONFIG_BUDGETS.maxListItems &&
      (valueNode.name === 'ArrayExpression' || valueNode.name === 'TupleExpression')
    )
      e.itemRanges = children(valueNode)
        .filter((c) => !['(', ')', '[', ']', ','].includes(c.name))
        .map(r);
    push(e);
    if (typeof f.value === 'number') constants.set(ctx.path.join('.'), { value: f.value, range: valueRange, raw, via });
  };

  /** Walk a value: containers give nested keys, calls are read by what they are, the rest is folded. */
  const walk = (n: SyntaxNode, ctx: Ctx): void => {
    if (ctx.depth > CONFIG_BUDGETS.maxNesting || full) return;
    const deeper = (o: Partial<Ctx>): Ctx => ({ ...ctx, ...o, depth: ctx.depth + 1 });
    switch (n.name) {
      case 'DictionaryExpression': {
        const cs = children(n).filter((c) => !['{', '}', ','].includes(c.name));
        const pairs: { key: string; k: SyntaxNode; v: SyntaxNode }[] = [];
        for (let i = 0; i + 2 < cs.length + 1; i++) {
          if (cs[i]?.name === 'String' && cs[i + 1]?.name === ':' && cs[i + 2]) {
            const key = pythonString(text(cs[i]));
            if (key !== null) pairs.push({ key, k: cs[i], v: cs[i + 2] });
            i += 2;
          }
        }
        const group = paramGroupName(pairs.map((p) => ({ name: p.key, value: p.v })));
        for (const p of pairs)
          walk(p.v, deeper({ path: [...ctx.path, p.key], keyRange: r(p.k), context: 'mapping', groupName: group ?? ctx.groupName }));
        return;
      }
      case 'ArrayExpression':
      case 'TupleExpression': {
        const items = children(n).filter((c) => !['(', ')', '[', ']', ','].includes(c.name));
        if (items.length && items.every((c) => c.name === 'Number' || c.name === 'UnaryExpression')) {
          emit(n, ctx);
          return;
        }
        items.forEach((c, i) => walk(c, deeper({ path: ctx.path.length ? [...ctx.path, String(i)] : [], keyRange: undefined })));
        return;
      }
      case 'CallExpression':
        walkCall(n, ctx);
        return;
      default:
        emit(n, ctx);
    }
  };

  /** The name of a param group dict: its 'name', else the expression of its 'params' (`model.head.parameters()` → model.head). */
  const paramGroupName = (kws: { name: string; value: SyntaxNode }[]): string | undefined => {
    const params = kws.find((k) => k.name === 'params');
    if (!params) return undefined;
    const named = kws.find((k) => k.name === 'name' && k.value.name === 'String');
    if (named) return pythonString(text(named.value)) ?? undefined;
    return text(params.value)
      .replace(/\.parameters\(\)$/, '')
      .replace(/\s+/g, ' ')
      .slice(0, 60);
  };

  const walkCall = (n: SyntaxNode, ctx: Ctx): void => {
    const cs = children(n);
    const calleeNode = cs[0];
    const args = cs[cs.length - 1];
    if (!calleeNode || !args || args.name !== 'ArgList') return;
    const calleeParts = children(calleeNode);
    const lastProp = calleeNode.name === 'MemberExpression' ? calleeParts[calleeParts.length - 1] : undefined;
    const argNodes = children(args).filter((c) => c.name !== '(' && c.name !== ')');
    const argGroups: SyntaxNode[][] = [[]];
    for (const a of argNodes) {
      if (a.name === ',') argGroups.push([]);
      else argGroups[argGroups.length - 1].push(a);
    }
    const positional: SyntaxNode[] = [];
    const keywords: { name: SyntaxNode; value: SyntaxNode }[] = [];
    for (const g of argGroups) {
      if (g.length === 1) positional.push(g[0]);
      else if (g.length === 3 && g[0].name === 'VariableName' && g[1].name === 'AssignOp') keywords.push({ name: g[0], value: g[2] });
    }
    const deeper = (o: Partial<Ctx>): Ctx => ({ ...ctx, ...o, depth: ctx.depth + 1 });
    const walkArgs = () => {
      // Calls nested in the arguments (a constructor passed to a Trainer, a dict passed to a function).
      for (const p of positional) if (p.name === 'CallExpression' || p.name === 'DictionaryExpression') walk(p, deeper({ path: [] }));
    };
    if (lastProp?.name === 'PropertyName' && text(lastProp) === 'half') {
      // model.half(), Net().half(), model.to(device).half(): the parameters (and so the optimizer) in float16.
      out.halfCasts.push({ start: n.from, end: n.to, what: '.half()' });
      return;
    }
    const callee = dottedName(calleeNode);
    if (callee === null) {
      if (lastProp?.name === 'PropertyName' && text(lastProp) === 'to' && /\b(torch\.)?(float16|half)\b/.test(text(args)))
        out.halfCasts.push({ start: n.from, end: n.to, what: '.to(torch.float16)' });
      return;
    }
    const last = callee.split('.').pop() ?? callee;
    const lastLower = last.toLowerCase();
    if (lastLower === 'to' || lastLower === 'set_default_dtype') {
      const all = [...positional, ...keywords.filter((k) => text(k.name) === 'dtype').map((k) => k.value)];
      if (all.some((x) => /^(torch\.)?(float16|half)$/.test(text(x))))
        out.halfCasts.push({
          start: n.from,
          end: n.to,
          what: lastLower === 'to' ? '.to(torch.float16)' : 'set_default_dtype(torch.float16)',
        });
      return;
    }
    if (CONTAINER_CALLS.has(last) && ctx.path.length) {
      const group = paramGroupName(keywords.map((k) => ({ name: text(k.name), value: k.value })));
      for (const k of keywords)
        walk(
          k.value,
          deeper({ path: [...ctx.path, text(k.name)], keyRange: r(k.name), context: 'mapping', groupName: group ?? ctx.groupName }),
        );
      for (const p of positional) if (p.name === 'DictionaryExpression') walk(p, deeper({}));
      return;
    }
    if (last === 'field' && ctx.path.length) {
      // dataclasses.field(default=…): the default is the value.
      const def = keywords.find((k) => text(k.name) === 'default');
      if (def) walk(def.value, deeper({}));
      return;
    }
    if (lastLower === 'add_argument') {
      const flags = positional.map((p) => (p.name === 'String' ? pythonString(text(p)) : null)).filter((s): s is string => !!s);
      const flag = flags.find((f) => f.startsWith('--')) ?? flags[0];
      const def = keywords.find((k) => text(k.name) === 'default');
      if (flag && def) {
        const destKw = keywords.find((k) => text(k.name) === 'dest' && k.value.name === 'String');
        const dest = destKw ? (pythonString(text(destKw.value)) ?? '') : flag.replace(/^-+/, '').replace(/-/g, '_');
        const flagNode = positional.find((p) => p.name === 'String' && pythonString(text(p)) === flag);
        const before = out.entries.length;
        emit(def.value, {
          path: [flag.replace(/^-+/, '')],
          keyRange: flagNode ? r(flagNode) : undefined,
          context: 'argparse',
          callee,
          depth: ctx.depth + 1,
        });
        const e = out.entries.length > before ? out.entries[out.entries.length - 1] : null;
        if (e && typeof e.value === 'number' && dest) argDefaults.set(dest, { value: e.value, range: e.valueRange, raw: e.raw, flag });
      }
      return;
    }
    const isOptimizer = OPTIMIZER_CTORS.has(lastLower) && /^[A-Z]/.test(last);
    const isInit =
      /(^|\.)init$/.test(callee.slice(0, callee.length - last.length - 1)) ||
      (/^(normal_|trunc_normal_|normal|trunc_normal)$/.test(last) && callee.includes('init'));
    if (!isInit && last === 'normal_' && calleeNode.name === 'MemberExpression') {
      // tensor.normal_(mean=0.0, std=0.02) (Hugging Face _init_weights style): std is keyword or 2nd positional.
      const stdKw = keywords.find((k) => text(k.name) === 'std');
      const stdNode = stdKw?.value ?? positional[1];
      if (stdNode)
        emit(stdNode, {
          path: [callee, 'std'],
          keyRange: stdKw ? r(stdKw.name) : undefined,
          context: 'init-call',
          callee,
          depth: ctx.depth + 1,
        });
      return;
    }
    if (isInit) {
      // nn.init.normal_(tensor, mean=0.0, std=1.0) / trunc_normal_(tensor, mean, std, a, b): std is keyword or 3rd positional.
      const stdKw = keywords.find((k) => text(k.name) === 'std');
      const stdNode = stdKw?.value ?? (/normal/.test(last) ? positional[2] : undefined);
      if (stdNode)
        emit(stdNode, {
          path: [callee, 'std'],
          keyRange: stdKw ? r(stdKw.name) : undefined,
          context: 'init-call',
          callee,
          depth: ctx.depth + 1,
        });
      return;
    }
    if (isOptimizer) {
      out.optimizerCalls.push({ start: n.from, end: n.to, callee });
      // Param groups assigned to a name first (`adam_params = [dict(params=…, lr=…)]; Adam(adam_params)`) are this call's.
      const first = positional[0];
      if (first?.name === 'VariableName') for (const e of byRoot.get(text(first)) ?? []) e.ctorStart ??= n.from;
      push({
        path: ['optimizer'],
        value: callee,
        raw: text(calleeNode),
        valueRange: r(calleeNode),
        context: 'optimizer-ctor',
        callee,
        ctorStart: n.from,
      });
      const octx = (o: Partial<Ctx>): Ctx => deeper({ ...o, context: 'optimizer-ctor', callee, ctorStart: n.from });
      for (const k of keywords) walk(k.value, octx({ path: [last, text(k.name)], keyRange: r(k.name) }));
      // Param groups: a list of dicts as the first argument; torch.optim's second positional argument is lr.
      positional.forEach((p, i) => {
        if (p.name === 'ArrayExpression' || p.name === 'TupleExpression') walk(p, octx({ path: [last, String(i)], keyRange: undefined }));
        else if (i === 1 && !keywords.some((k) => text(k.name) === 'lr')) walk(p, octx({ path: [last, 'lr'], keyRange: undefined }));
      });
      return;
    }
    for (const k of keywords) walk(k.value, deeper({ path: [last, text(k.name)], keyRange: r(k.name), context: 'call-keyword', callee }));
    walkArgs();
  };

  let errors = 0;
  tree.iterate({
    enter: (ref) => {
      const n = ref.node;
      if (n.type.isError) {
        if (errors++ < CONFIG_BUDGETS.maxIssues) {
          const p = idx.position(n.from);
          out.issues.push({
            severity: 'error',
            line: p.line,
            column: p.column,
            message: 'Python: syntax error (values near it may be missed)',
          });
        }
        return;
      }
      switch (n.name) {
        case 'AssignStatement': {
          const cs = children(n);
          // target [TypeDef] = value   (one target; chained or tuple targets are skipped)
          const ops = cs.filter((c) => c.name === 'AssignOp');
          if (ops.length !== 1 || text(ops[0]) !== '=') return false;
          const target = cs[0] ? dottedName(cs[0]) : null;
          const value = cs[cs.indexOf(ops[0]) + 1];
          if (!target || !value) return false;
          walk(value, { path: target.split('.'), keyRange: r(cs[0]), context: 'assign', depth: 0 });
          return false;
        }
        case 'CallExpression':
        case 'DictionaryExpression':
          walk(n, { path: [], context: 'call-keyword', depth: 0 });
          return false;
        default:
          return;
      }
    },
  });
  // Late binding: once every constant of the file is known, fold what needed one (in source order, so a chain
  // `lr = config["lr"]` → `AdamW(lr=lr)` resolves in one round); what still needs an unknown name is unresolved.
  for (const { node, ctx } of later) emit(node, ctx, true);
  // Comments anywhere, also inside the statements walked above (an annotation inside a dict(...) call).
  tree.iterate({
    enter: (ref) => {
      if (ref.name === 'Comment') out.comments.push({ text: src.slice(ref.from, ref.to), range: idx.range(ref.from, ref.to) });
    },
  });
  out.issues = capIssues(out.issues);
  return out;
}

/** A number as written (`3e-4`, `-1e-3`, `4.`), not an expression to explain. */
function isPlainNumber(n: SyntaxNode): boolean {
  if (n.name === 'Number') return true;
  return n.name === 'UnaryExpression' && n.lastChild?.name === 'Number' && n.firstChild?.name === 'ArithOp';
}

function arith(op: string, a: number, b: number): number | null {
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      return b === 0 ? null : a / b;
    case '//':
      return b === 0 ? null : Math.floor(a / b);
    case '%':
      return b === 0 ? null : a - b * Math.floor(a / b);
    case '**':
      return Math.abs(b) > 1024 ? null : a ** b;
    default:
      return null;
  }
}

export type { SourceRange };
