// Python front end: @lezer/python's syntax tree. Values are literals only (numbers, unary minus, tuples and
// lists of numbers, strings, True/False/None); nothing is evaluated, comments are comments.
import { parser } from '@lezer/python';
import type { SyntaxNode } from '@lezer/common';
import type { LineIndex } from './positions';
import type { ConfigComment, RawEntry } from './types';
import { OPTIMIZER_CTORS } from './classify';

export interface PythonFrontEnd {
  entries: RawEntry[];
  comments: ConfigComment[];
  /** Offsets where the model is cast to float16 (`.half()`, `.to(torch.float16)`, `set_default_dtype(torch.float16)`). */
  halfCasts: { start: number; end: number; what: string }[];
  /** Offsets of optimizer constructor calls. */
  optimizerCalls: { start: number; end: number; callee: string }[];
  issues: { severity: 'error' | 'warning'; line: number; column: number; message: string }[];
}

function children(n: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (let c = n.firstChild; c; c = c.nextSibling) out.push(c);
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
  const m = /^([rRbBuU]{0,2})('''|"""|'|")([\s\S]*)\2$/.exec(text);
  if (!m) return null;
  if (/[bB]/.test(m[1])) return null;
  // Escapes are rare in the strings we care about (names, dtypes, flags); keep the text between quotes.
  return m[3];
}

/** The literal value of an expression node, or undefined when it is not a plain literal. */
function literal(n: SyntaxNode, text: string, depth = 0): RawEntry['value'] | undefined {
  if (depth > 8) return undefined;
  const src = text.slice(n.from, n.to);
  switch (n.name) {
    case 'Number':
      return pythonNumber(src) ?? undefined;
    case 'UnaryExpression': {
      const [op, arg] = children(n);
      if (!op || !arg || op.name !== 'ArithOp') return undefined;
      const v = literal(arg, text, depth + 1);
      if (typeof v !== 'number') return undefined;
      const o = text.slice(op.from, op.to);
      return o === '-' ? -v : o === '+' ? v : undefined;
    }
    case 'String':
      return pythonString(src) ?? undefined;
    case 'Boolean':
      return src === 'True';
    case 'None':
      return null;
    case 'ParenthesizedExpression': {
      const inner = children(n).filter((c) => c.name !== '(' && c.name !== ')');
      return inner.length === 1 ? literal(inner[0], text, depth + 1) : undefined;
    }
    case 'TupleExpression':
    case 'ArrayExpression': {
      const items = children(n).filter((c) => !['(', ')', '[', ']', ','].includes(c.name));
      const vals = items.map((c) => literal(c, text, depth + 1));
      if (vals.length > 0 && vals.every((v) => typeof v === 'number')) return vals as number[];
      return undefined;
    }
    default:
      return undefined;
  }
}

/** 'torch.optim.AdamW' for a MemberExpression/VariableName callee; null for anything else. */
function dottedName(n: SyntaxNode, text: string): string | null {
  if (n.name === 'VariableName') return text.slice(n.from, n.to);
  if (n.name === 'MemberExpression') {
    const cs = children(n);
    const last = cs[cs.length - 1];
    const head = cs[0];
    if (!head || !last || last.name !== 'PropertyName') return null;
    const h = dottedName(head, text);
    return h === null ? null : `${h}.${text.slice(last.from, last.to)}`;
  }
  return null;
}

export function scanPython(text: string, idx: LineIndex): PythonFrontEnd {
  const out: PythonFrontEnd = { entries: [], comments: [], halfCasts: [], optimizerCalls: [], issues: [] };
  const tree = parser.parse(text);
  const r = (n: SyntaxNode) => idx.range(n.from, n.to);
  let errors = 0;
  tree.iterate({
    enter: (ref) => {
      const n = ref.node;
      if (n.type.isError) {
        if (errors++ < 5) {
          const p = idx.position(n.from);
          out.issues.push({
            severity: 'warning',
            line: p.line,
            column: p.column,
            message: 'Python: syntax error (values near it may be missed)',
          });
        }
        return;
      }
      switch (n.name) {
        case 'Comment':
          out.comments.push({ text: text.slice(n.from, n.to), range: r(n) });
          return;
        case 'AssignStatement': {
          const cs = children(n);
          // name [TypeDef] = value   (single target only; chained or tuple targets are skipped)
          const ops = cs.filter((c) => c.name === 'AssignOp');
          if (ops.length !== 1 || cs[0]?.name !== 'VariableName') return;
          const opIdx = cs.indexOf(ops[0]);
          const value = cs[opIdx + 1];
          if (!value || text.slice(ops[0].from, ops[0].to) !== '=') return;
          const v = literal(value, text);
          if (v === undefined) return;
          out.entries.push({
            path: [text.slice(cs[0].from, cs[0].to)],
            value: v,
            raw: text.slice(value.from, value.to),
            valueRange: r(value),
            keyRange: r(cs[0]),
            context: 'assign',
          });
          return;
        }
        case 'DictionaryExpression': {
          const cs = children(n).filter((c) => !['{', '}', ','].includes(c.name));
          for (let i = 0; i + 2 < cs.length + 1; i++) {
            const k = cs[i];
            if (k?.name === 'String' && cs[i + 1]?.name === ':' && cs[i + 2]) {
              const key = pythonString(text.slice(k.from, k.to));
              const v = literal(cs[i + 2], text);
              if (key !== null && v !== undefined) {
                out.entries.push({
                  path: [key],
                  value: v,
                  raw: text.slice(cs[i + 2].from, cs[i + 2].to),
                  valueRange: r(cs[i + 2]),
                  keyRange: r(k),
                  context: 'call-keyword',
                });
              }
              i += 2;
            }
          }
          return;
        }
        case 'CallExpression': {
          const cs = children(n);
          const calleeNode = cs[0];
          const args = cs[cs.length - 1];
          if (!calleeNode || !args || args.name !== 'ArgList') return;
          const argText = (x: SyntaxNode) => text.slice(x.from, x.to);
          const calleeParts = children(calleeNode);
          const lastProp = calleeNode.name === 'MemberExpression' ? calleeParts[calleeParts.length - 1] : undefined;
          if (lastProp?.name === 'PropertyName' && argText(lastProp) === 'half') {
            // model.half(), Net().half(), model.to(device).half(): the parameters (and so the optimizer) in float16.
            out.halfCasts.push({ start: n.from, end: n.to, what: '.half()' });
            return;
          }
          const callee = dottedName(calleeNode, text);
          if (callee === null) {
            if (lastProp?.name === 'PropertyName' && argText(lastProp) === 'to') {
              const txt = argText(args);
              if (/\b(torch\.)?(float16|half)\b/.test(txt)) out.halfCasts.push({ start: n.from, end: n.to, what: '.to(torch.float16)' });
            }
            return;
          }
          const last = callee.split('.').pop() ?? callee;
          const lastLower = last.toLowerCase();
          const argNodes = children(args).filter((c) => c.name !== '(' && c.name !== ')');
          // Split ArgList children into arguments at commas.
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
          if (lastLower === 'to' || lastLower === 'set_default_dtype') {
            const all = [...positional, ...keywords.filter((k) => argText(k.name) === 'dtype').map((k) => k.value)];
            if (all.some((x) => /^(torch\.)?(float16|half)$/.test(argText(x))))
              out.halfCasts.push({
                start: n.from,
                end: n.to,
                what: lastLower === 'to' ? '.to(torch.float16)' : 'set_default_dtype(torch.float16)',
              });
            return;
          }
          const isOptimizer = OPTIMIZER_CTORS.has(lastLower) && /^[A-Z]/.test(last);
          const isInit =
            /(^|\.)init$/.test(callee.slice(0, callee.length - last.length - 1)) ||
            (/^(normal_|trunc_normal_|normal|trunc_normal)$/.test(last) && callee.includes('init'));
          if (isOptimizer) {
            out.optimizerCalls.push({ start: n.from, end: n.to, callee });
            out.entries.push({
              path: ['optimizer'],
              value: callee,
              raw: argText(calleeNode),
              valueRange: r(calleeNode),
              context: 'optimizer-ctor',
              callee,
            });
          }
          if (lastLower === 'add_argument') {
            const flags = positional.map((p) => (p.name === 'String' ? pythonString(argText(p)) : null)).filter((s): s is string => !!s);
            const flag = flags.find((f) => f.startsWith('--')) ?? flags[0];
            const def = keywords.find((k) => argText(k.name) === 'default');
            if (flag && def) {
              const v = literal(def.value, text);
              if (v !== undefined) {
                const flagNode = positional.find((p) => p.name === 'String' && pythonString(argText(p)) === flag);
                out.entries.push({
                  path: [flag.replace(/^-+/, '')],
                  value: v,
                  raw: argText(def.value),
                  valueRange: r(def.value),
                  keyRange: flagNode ? r(flagNode) : undefined,
                  context: 'argparse',
                  callee,
                });
              }
            }
            return;
          }
          if (!isInit && last === 'normal_' && calleeNode.name === 'MemberExpression') {
            // tensor.normal_(mean=0.0, std=0.02) (Hugging Face _init_weights style): std is keyword or 2nd positional.
            const stdKw = keywords.find((k) => argText(k.name) === 'std');
            const stdNode = stdKw?.value ?? positional[1];
            const v = stdNode ? literal(stdNode, text) : undefined;
            if (stdNode && typeof v === 'number')
              out.entries.push({
                path: [callee, 'std'],
                value: v,
                raw: argText(stdNode),
                valueRange: r(stdNode),
                keyRange: stdKw ? r(stdKw.name) : undefined,
                context: 'init-call',
                callee,
              });
            return;
          }
          if (isInit) {
            // nn.init.normal_(tensor, mean=0.0, std=1.0) / trunc_normal_(tensor, mean, std, a, b): std is keyword or 3rd positional.
            const stdKw = keywords.find((k) => argText(k.name) === 'std');
            const stdNode = stdKw?.value ?? (/normal/.test(last) ? positional[2] : undefined);
            if (stdNode) {
              const v = literal(stdNode, text);
              if (typeof v === 'number')
                out.entries.push({
                  path: [`${callee}`, 'std'],
                  value: v,
                  raw: argText(stdNode),
                  valueRange: r(stdNode),
                  keyRange: stdKw ? r(stdKw.name) : undefined,
                  context: 'init-call',
                  callee,
                });
            }
            return;
          }
          for (const k of keywords) {
            const v = literal(k.value, text);
            if (v === undefined) continue;
            out.entries.push({
              path: [last, argText(k.name)],
              value: v,
              raw: argText(k.value),
              valueRange: r(k.value),
              keyRange: r(k.name),
              context: isOptimizer ? 'optimizer-ctor' : 'call-keyword',
              callee,
            });
          }
          return;
        }
        default:
          return;
      }
    },
  });
  return out;
}
