// TOML front end: toml-eslint-parser's AST (ranges) and its comment list.
import { parseTOML, type AST } from 'toml-eslint-parser';
import { boundNesting, CONFIG_BUDGETS, entrySink } from './bounds';
import type { LineIndex } from './positions';
import type { ConfigComment, RawEntry, ScanIssue } from './types';

export function scanToml(original: string, idx: LineIndex) {
  const entries: RawEntry[] = [];
  const comments: ConfigComment[] = [];
  const bounded = boundNesting(original, 'toml', idx);
  const text = bounded.text;
  const issues: ScanIssue[] = [...bounded.issues];
  const { push, full } = entrySink(entries, issues);
  let program: AST.TOMLProgram;
  try {
    program = parseTOML(text);
  } catch (err) {
    const e = err as { lineNumber?: number; column?: number; index?: number; message?: string };
    const p = typeof e.index === 'number' ? idx.position(e.index) : { line: e.lineNumber ?? 1, column: (e.column ?? 0) + 1 };
    issues.push({ severity: 'error', line: p.line, column: p.column, message: `TOML: ${String(e.message ?? err).split('\n')[0]}` });
    return { entries, comments, issues };
  }
  for (const c of program.comments) comments.push({ text: text.slice(c.range[0], c.range[1]), range: idx.range(c.range[0], c.range[1]) });
  const r = (n: { range: [number, number] }) => idx.range(n.range[0], n.range[1]);
  const keyParts = (k: AST.TOMLKey) => k.keys.map((p) => (p.type === 'TOMLBare' ? p.name : p.value));
  const visitKV = (kv: AST.TOMLKeyValue, prefix: string[], depth: number) => {
    const path = [...prefix, ...keyParts(kv.key)];
    visitValue(kv.value, path, r(kv.key), depth);
  };
  // Nesting is bounded above; the depth guard is a second line of defence.
  const visitValue = (v: AST.TOMLContentNode, path: string[], keyRange: RawEntry['keyRange'], depth: number): void => {
    if (depth > CONFIG_BUDGETS.maxNesting + 2 || full() || bounded.cutAt.has(v.range[0])) return;
    const raw = text.slice(v.range[0], v.range[1]);
    if (v.type === 'TOMLValue') {
      let value: RawEntry['value'];
      if (v.kind === 'integer' || v.kind === 'float') value = v.value;
      else if (v.kind === 'string' || v.kind === 'boolean') value = v.value;
      else value = raw;
      push({ path, value, raw, valueRange: r(v), keyRange, context: 'mapping' });
    } else if (v.type === 'TOMLArray') {
      const nums = v.elements.every((e) => e.type === 'TOMLValue' && (e.kind === 'integer' || e.kind === 'float'));
      if (nums && v.elements.length > 0) {
        push({
          path,
          value: v.elements.map((e) => Number((e as AST.TOMLNumberValue).value)),
          raw,
          valueRange: r(v),
          keyRange,
          context: 'mapping',
          itemRanges: v.elements.length <= CONFIG_BUDGETS.maxListItems ? v.elements.map(r) : undefined,
        });
      } else v.elements.forEach((e, i) => visitValue(e, [...path, String(i)], undefined, depth + 1));
    } else if (v.type === 'TOMLInlineTable') {
      for (const kv of v.body) visitKV(kv, path, depth + 1);
    }
  };
  for (const item of program.body[0].body) {
    if (item.type === 'TOMLKeyValue') visitKV(item, [], 0);
    else for (const kv of item.body) visitKV(kv, item.resolvedKey.map(String), 0);
  }
  return { entries, comments, issues };
}
