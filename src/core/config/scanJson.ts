// JSON / JSONC front end: jsonc-parser's tree (offsets) and scanner (comments), over the nesting-bounded text.
import {
  createScanner,
  parseTree,
  printParseErrorCode,
  type SyntaxKind,
  type Node as JsonNode,
  type ParseError,
} from 'jsonc-parser/lib/esm/main.js';
import { boundNesting, capIssues, CONFIG_BUDGETS, entrySink } from './bounds';
import type { LineIndex } from './positions';
import type { ConfigComment, RawEntry, ScanIssue } from './types';

export function scanJson(original: string, idx: LineIndex) {
  const entries: RawEntry[] = [];
  const comments: ConfigComment[] = [];
  const bounded = boundNesting(original, 'jsonc', idx);
  const text = bounded.text;
  const issues: ScanIssue[] = [...bounded.issues];
  // SyntaxKind is a const enum (not importable under isolatedModules): LineComment 12, BlockComment 13, EOF 17.
  const LINE_COMMENT = 12 as SyntaxKind;
  const BLOCK_COMMENT = 13 as SyntaxKind;
  const EOF = 17 as SyntaxKind;
  const scanner = createScanner(text, false);
  for (let k = scanner.scan(); k !== EOF; k = scanner.scan()) {
    if (k === LINE_COMMENT || k === BLOCK_COMMENT) {
      const s = scanner.getTokenOffset();
      const e = s + scanner.getTokenLength();
      comments.push({ text: text.slice(s, e), range: idx.range(s, e) });
    }
  }
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, { allowTrailingComma: true, disallowComments: false });
  for (const e of errors.slice(0, CONFIG_BUDGETS.maxIssues + 1)) {
    const p = idx.position(e.offset);
    issues.push({ severity: 'error', line: p.line, column: p.column, message: `JSON: ${printParseErrorCode(e.error)}` });
  }
  const r = (n: JsonNode) => idx.range(n.offset, n.offset + n.length);
  const { push, full } = entrySink(entries, issues);
  // Nesting is bounded above, so this recursion is too.
  const visit = (node: JsonNode | undefined, path: string[], keyNode: JsonNode | undefined): void => {
    if (!node || full() || bounded.cutAt.has(node.offset)) return;
    switch (node.type) {
      case 'object':
        for (const prop of node.children ?? []) {
          const [k, v] = prop.children ?? [];
          if (!k || typeof k.value !== 'string') continue;
          visit(v, [...path, k.value], k);
        }
        return;
      case 'array': {
        const items = node.children ?? [];
        if (items.length > 0 && items.every((i) => i.type === 'number')) {
          push({
            path,
            value: items.map((i) => Number(i.value)),
            raw: text.slice(node.offset, node.offset + node.length),
            valueRange: r(node),
            keyRange: keyNode ? r(keyNode) : undefined,
            context: 'mapping',
            itemRanges: items.length <= CONFIG_BUDGETS.maxListItems ? items.map(r) : undefined,
          });
          return;
        }
        items.forEach((i, n) => visit(i, [...path, String(n)], undefined));
        return;
      }
      case 'number':
      case 'string':
      case 'boolean':
      case 'null':
        push({
          path,
          value: node.value as RawEntry['value'],
          raw: text.slice(node.offset, node.offset + node.length),
          valueRange: r(node),
          keyRange: keyNode ? r(keyNode) : undefined,
          context: 'mapping',
        });
        return;
      default:
        return;
    }
  };
  visit(root, [], undefined);
  const topKeys =
    root?.type === 'object'
      ? (root.children ?? []).map((p) => p.children?.[0]?.value).filter((k): k is string => typeof k === 'string')
      : [];
  return { entries, comments, issues: capIssues(issues), topKeys };
}
