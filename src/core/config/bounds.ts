// The config scanner's budgets, and the linear pre-passes that enforce them before a parser sees the text.
//
// The parsers we build on recurse per nesting level (jsonc-parser's parseTree, the yaml composer,
// toml-eslint-parser) and overflow the stack somewhere between 800 and 10,000 levels; @lezer/python spends
// ~2 µs per byte on a pathological expression (measured: a 1.5 MB `1e-4+…` statement took 2.7 s). So each text is
// first scanned once, in linear time, with the format's string and comment rules: a container nested deeper than
// MAX_NESTING becomes the scalar `0` (Python: the whole statement is blanked), a Python statement longer than
// MAX_EXPRESSION_BYTES is blanked, and each such cut is an issue at its line and column. Blanking keeps every
// other offset, so ranges stay those of the original text. No configuration nests 128 levels deep or writes a
// 64 KiB statement; data that does is not a setting.
import type { LineIndex } from './positions';
import type { RawEntry, ScanIssue } from './types';

export const CONFIG_BUDGETS = {
  /** Biggest config file read. */
  maxBytes: 8 * 1024 * 1024,
  /** Deepest nesting of containers (brackets, YAML block levels) handed to a parser. */
  maxNesting: 128,
  /** Longest Python statement (one logical line) handed to the parser. */
  maxExpressionBytes: 64 * 1024,
  /** Most syntax nodes of one constant expression folded (`5e-4 * 1024 / 512`). */
  maxFoldNodes: 64,
  /** Most key/value entries read from one file. */
  maxEntries: 20_000,
  /** Most learning rates, scales, optimizers, … of one kind kept per file (then "… and N more"). */
  maxPerKind: 1_000,
  /** Longest list whose items keep their own positions (a piecewise schedule's peak is one of them). */
  maxListItems: 1_024,
  /** Most findings reported per file (then "… and N more"). */
  maxFindings: 1_000,
  /** Most parse issues reported per file (then "… and N more"). */
  maxIssues: 50,
  /** Most words read from one shell script (a launch script has hundreds). */
  maxShellWords: 100_000,
  /** Deepest chain of shell variables followed (`LR=$BASE_LR`, `BASE_LR=${X:-3e-4}` …). */
  maxVariableDepth: 8,
} as const;

export interface Bounded {
  /** The text to parse: the original, or a copy of the same length with over-budget parts blanked. */
  text: string;
  issues: ScanIssue[];
  /** Offsets where a cut container now reads `0`: a value there is not from the file. */
  cutAt: Set<number>;
}

const cutStarts = (cuts: { start: number; first: string }[]) => new Set(cuts.filter((c) => c.first === '0').map((c) => c.start));

/** Keep the first `max` issues and say how many more there were. */
export function capIssues(issues: ScanIssue[], max: number = CONFIG_BUDGETS.maxIssues): ScanIssue[] {
  if (issues.length <= max) return issues;
  const kept = issues.slice(0, max);
  const last = kept[kept.length - 1];
  kept.push({ severity: last.severity, line: last.line, column: last.column, message: `… and ${issues.length - max} more issues` });
  return kept;
}

/** Where a scanner puts its entries: up to maxEntries, then one warning at the first entry past the budget. */
export function entrySink(entries: RawEntry[], issues: ScanIssue[]): { push: (e: RawEntry) => void; full: () => boolean } {
  let full = false;
  const push = (e: RawEntry): void => {
    if (entries.length < CONFIG_BUDGETS.maxEntries) entries.push(e);
    else if (!full) {
      full = true;
      issues.push({
        severity: 'warning',
        line: e.valueRange.line,
        column: e.valueRange.column,
        message: `more than ${CONFIG_BUDGETS.maxEntries} values: the rest of the file is not read`,
      });
    }
  };
  return { push, full: () => full };
}

/** Replace [start, end) by `first` (or a blank) then blanks, keeping line breaks: offsets and lines stay. */
function blank(parts: string[], text: string, start: number, end: number, first: string): void {
  parts.push(first);
  let at = start + first.length;
  // Runs between line breaks become one repeat() each (a per-character loop over a 7.8 MB statement took seconds).
  while (at < end) {
    let nl = at;
    while (nl < end) {
      const c = text.charCodeAt(nl);
      if (c === 10 || c === 13) break;
      nl++;
    }
    if (nl > at) parts.push(' '.repeat(nl - at));
    if (nl < end) parts.push(text[nl]);
    at = nl + 1;
  }
}

function assemble(text: string, cuts: { start: number; end: number; first: string }[]): string {
  if (!cuts.length) return text;
  const parts: string[] = [];
  let at = 0;
  for (const c of cuts) {
    parts.push(text.slice(at, c.start));
    blank(parts, text, c.start, c.end, c.first);
    at = c.end;
  }
  parts.push(text.slice(at));
  return parts.join('');
}

function tooDeep(idx: LineIndex, at: number, what: string): ScanIssue {
  const p = idx.position(at);
  return {
    severity: 'error',
    line: p.line,
    column: p.column,
    message: `${what} nested deeper than ${CONFIG_BUDGETS.maxNesting} levels: not read`,
  };
}

/** End of a string opened by `quote` at `i` (the offset after its closing quote), with backslash escapes. */
function skipQuoted(text: string, i: number, quote: number, escapes: boolean, stopAtNewline: boolean): number {
  const n = text.length;
  let k = i + 1;
  while (k < n) {
    const c = text.charCodeAt(k);
    if (escapes && c === 92) {
      k += 2;
      continue;
    }
    if (c === quote) return k + 1;
    if (stopAtNewline && c === 10) return k;
    k++;
  }
  return n;
}

/** End of a triple-quoted string opened at `i` (Python, TOML). */
function skipTriple(text: string, i: number, quote: number, escapes: boolean): number {
  const q = String.fromCharCode(quote).repeat(3);
  let k = i + 3;
  const n = text.length;
  while (k < n) {
    const c = text.charCodeAt(k);
    if (escapes && c === 92) {
      k += 2;
      continue;
    }
    if (c === quote && text.startsWith(q, k)) return k + 3;
    k++;
  }
  return n;
}

/**
 * JSON/JSONC and TOML: containers ([ {) deeper than the budget become `0`. Strings and comments are skipped by
 * the format's rules (JSON "…" and // /* *\/; TOML "…", '…', """…""", '''…''' and #).
 */
export function boundNesting(text: string, language: 'json' | 'jsonc' | 'toml', idx: LineIndex): Bounded {
  const n = text.length;
  const toml = language === 'toml';
  const issues: ScanIssue[] = [];
  const cuts: { start: number; end: number; first: string }[] = [];
  let depth = 0;
  let cutStart = -1;
  let cutDepth = 0;
  for (let i = 0; i < n;) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */ || (toml && c === 39) /* ' */) {
      if (toml && text.startsWith(c === 34 ? '"""' : "'''", i)) i = skipTriple(text, i, c, c === 34);
      else i = skipQuoted(text, i, c, c === 34, true);
      continue;
    }
    if (toml && c === 35 /* # */) {
      const e = text.indexOf('\n', i);
      i = e < 0 ? n : e;
      continue;
    }
    if (!toml && c === 47 /* / */ && text.charCodeAt(i + 1) === 47) {
      const e = text.indexOf('\n', i);
      i = e < 0 ? n : e;
      continue;
    }
    if (!toml && c === 47 && text.charCodeAt(i + 1) === 42) {
      const e = text.indexOf('*/', i + 2);
      i = e < 0 ? n : e + 2;
      continue;
    }
    if (c === 91 /* [ */ || c === 123 /* { */) {
      depth++;
      if (depth > CONFIG_BUDGETS.maxNesting && cutStart < 0) {
        cutStart = i;
        cutDepth = depth;
        issues.push(tooDeep(idx, i, language === 'toml' ? 'TOML: value' : 'JSON: value'));
      }
    } else if (c === 93 /* ] */ || c === 125 /* } */) {
      if (cutStart >= 0 && depth === cutDepth) {
        cuts.push({ start: cutStart, end: i + 1, first: '0' });
        cutStart = -1;
      }
      depth = Math.max(0, depth - 1);
    }
    i++;
  }
  if (cutStart >= 0) cuts.push({ start: cutStart, end: n, first: '0' });
  return { text: assemble(text, cuts), issues: capIssues(issues), cutAt: cutStarts(cuts) };
}

const isBlank = (c: number) => c === 32 || c === 9;

/**
 * YAML: flow collections and block levels together deeper than the budget are cut (a flow collection becomes `0`,
 * deeper block lines are blanked). Quoted scalars, comments and block scalars (| >) are skipped.
 */
export function boundYamlNesting(text: string, idx: LineIndex): Bounded {
  const n = text.length;
  const max = CONFIG_BUDGETS.maxNesting;
  const issues: ScanIssue[] = [];
  const cuts: { start: number; end: number; first: string }[] = [];
  const indents: number[] = []; // block levels: indentation of each open level
  let flow = 0;
  let cutStart = -1;
  let cutFlow = 0;
  let blockScalarIndent = -1; // lines more indented than this are a block scalar's text
  let blockCutIndent = -1; // lines more indented than this are cut (block nesting over the budget)
  let i = 0;
  while (i < n) {
    let e = text.indexOf('\n', i);
    if (e < 0) e = n;
    // Indentation and first content character of the line.
    let k = i;
    while (k < e && text.charCodeAt(k) === 32) k++;
    const indent = k - i;
    const empty = k >= e || text.charCodeAt(k) === 35 || (text.charCodeAt(k) === 13 && k + 1 >= e);
    if (blockScalarIndent >= 0 && (empty || indent > blockScalarIndent)) {
      i = e + 1;
      continue;
    }
    blockScalarIndent = -1;
    if (blockCutIndent >= 0) {
      if (empty || indent > blockCutIndent) {
        if (!empty) cuts.push({ start: i, end: e, first: ' ' });
        i = e + 1;
        continue;
      }
      blockCutIndent = -1;
    }
    if (!empty && flow === 0 && cutStart < 0) {
      while (indents.length && indents[indents.length - 1] >= indent) indents.pop();
      indents.push(indent);
      // '- - - x': each dash opens a level too.
      let dashes = 0;
      let d = k;
      while (d + 1 < e && text.charCodeAt(d) === 45 && isBlank(text.charCodeAt(d + 1))) {
        dashes++;
        d += 2;
        while (d < e && isBlank(text.charCodeAt(d))) d++;
      }
      if (indents.length + dashes > max) {
        issues.push(tooDeep(idx, k, 'YAML: block'));
        cuts.push({ start: i, end: e, first: ' ' });
        blockCutIndent = indent;
        i = e + 1;
        continue;
      }
    }
    // Characters of the line: quotes, comments, flow brackets.
    let prev = 32; // previous non-blank character (a quote opens a scalar only at a token start)
    for (let j = k; j < e;) {
      const c = text.charCodeAt(j);
      if (c === 35 /* # */ && (j === k || isBlank(text.charCodeAt(j - 1)))) break;
      const tokenStart =
        prev === 32 || prev === 58 /* : */ || prev === 45 /* - */ || prev === 44 || prev === 91 || prev === 123 || prev === 63;
      if ((c === 39 || c === 34) && (tokenStart || flow > 0)) {
        // A quoted scalar may span lines: continue after its end.
        const end = c === 39 ? skipSingleQuotedYaml(text, j) : skipQuoted(text, j, 34, true, false);
        if (end > e) {
          j = end;
          e = text.indexOf('\n', end);
          if (e < 0) e = n;
        } else j = end;
        prev = 97;
        continue;
      }
      if ((c === 91 || c === 123) && (tokenStart || flow > 0)) {
        flow++;
        if (cutStart < 0 && indents.length + flow > max) {
          cutStart = j;
          cutFlow = flow;
          issues.push(tooDeep(idx, j, 'YAML: flow collection'));
        }
      } else if ((c === 93 || c === 125) && flow > 0) {
        if (cutStart >= 0 && flow === cutFlow) {
          cuts.push({ start: cutStart, end: j + 1, first: '0' });
          cutStart = -1;
        }
        flow--;
      }
      if (!isBlank(c)) prev = c;
      j++;
    }
    // A block scalar header ends the line: `key: |`, `- >-`, `key: |2 # comment`.
    if (flow === 0 && /(?:^|[\s:-])[|>][-+0-9]*\s*(?:#.*)?$/.test(text.slice(k, e).replace(/\r$/, ''))) blockScalarIndent = indent;
    i = e + 1;
  }
  if (cutStart >= 0) cuts.push({ start: cutStart, end: n, first: '0' });
  return { text: assemble(text, cuts), issues: capIssues(issues), cutAt: cutStarts(cuts) };
}

function skipSingleQuotedYaml(text: string, i: number): number {
  const n = text.length;
  let k = i + 1;
  while (k < n) {
    if (text.charCodeAt(k) === 39) {
      if (text.charCodeAt(k + 1) === 39) {
        k += 2;
        continue;
      }
      return k + 1;
    }
    k++;
  }
  return n;
}

export interface BoundedPython extends Bounded {
  /**
   * Float literals @lezer/python does not read (`4.`, `0.`, `1.e-3`) are rewritten in place to a same-length
   * form it reads (`4 `, `1e-3 `): start offset → end offset of the literal as written.
   */
  numberEnds: Map<number, number>;
}

const isIdent = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c > 127;
const isDigit = (c: number) => c >= 48 && c <= 57;

/**
 * Python: one linear pass over the tokens that matter (strings with their prefixes, comments, brackets, line
 * continuations): a logical line longer than the expression budget or nested deeper than the nesting budget is
 * blanked, with an issue at its start; trailing-dot float literals are rewritten for the parser.
 */
export function boundPython(text: string, idx: LineIndex): BoundedPython {
  const n = text.length;
  const issues: ScanIssue[] = [];
  const cuts: { start: number; end: number; first: string }[] = [];
  const rewrites: { at: number; text: string }[] = [];
  const numberEnds = new Map<number, number>();
  let depth = 0;
  let stmtStart = 0;
  let deepAt = -1;
  let content = false; // the statement has something besides blanks (a blanked statement is not re-cut)
  const endStatement = (end: number) => {
    const long = content && end - stmtStart > CONFIG_BUDGETS.maxExpressionBytes;
    if (long || deepAt >= 0) {
      const p = idx.position(stmtStart);
      issues.push({
        severity: 'error',
        line: p.line,
        column: p.column,
        message: long
          ? `Python: statement of ${end - stmtStart} bytes exceeds the ${CONFIG_BUDGETS.maxExpressionBytes}-byte budget for one config expression: not read`
          : `Python: brackets nested deeper than ${CONFIG_BUDGETS.maxNesting} levels: statement not read`,
      });
      cuts.push({ start: stmtStart, end, first: ' ' });
      // Rewrites inside a blanked statement are moot.
      while (rewrites.length && rewrites[rewrites.length - 1].at >= stmtStart) {
        const r = rewrites.pop()!;
        numberEnds.delete(r.at);
      }
    }
    stmtStart = end + 1;
    deepAt = -1;
    content = false;
  };
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 35 /* # */) {
      const e = text.indexOf('\n', i);
      i = e < 0 ? n : e;
      continue;
    }
    if (c !== 32 && c !== 9 && c !== 13 && c !== 10) content = true;
    if (c === 39 || c === 34) {
      // A prefix (r, b, f, u, rb, …) is part of the string; a backslash escapes the next character in every form.
      i = text.startsWith(c === 34 ? '"""' : "'''", i) ? skipTriple(text, i, c, true) : skipQuoted(text, i, c, true, true);
      continue;
    }
    if (c === 92 /* \ */ && (text.charCodeAt(i + 1) === 10 || (text.charCodeAt(i + 1) === 13 && text.charCodeAt(i + 2) === 10))) {
      i += text.charCodeAt(i + 1) === 13 ? 3 : 2;
      continue;
    }
    if (c === 40 || c === 91 || c === 123) {
      depth++;
      if (depth > CONFIG_BUDGETS.maxNesting && deepAt < 0) deepAt = i;
    } else if (c === 41 || c === 93 || c === 125) depth = Math.max(0, depth - 1);
    else if (c === 10 && depth === 0) endStatement(i);
    else if (isDigit(c) && (i === 0 || (!isIdent(text.charCodeAt(i - 1)) && text.charCodeAt(i - 1) !== 46))) {
      let k = i + 1;
      while (k < n && (isDigit(text.charCodeAt(k)) || text.charCodeAt(k) === 95)) k++;
      if (text.charCodeAt(k) === 46 /* . */ && !(text.charCodeAt(i) === 48 && /[xXoObB]/.test(text[i + 1] ?? ''))) {
        const after = text.charCodeAt(k + 1);
        if (!isIdent(after) && after !== 46) {
          // `4.` → `4 `
          rewrites.push({ at: k, text: ' ' });
          numberEnds.set(i, k + 1);
          i = k + 1;
          continue;
        }
        const m = /^[eE][-+]?\d[\d_]*/.exec(text.slice(k + 1, k + 1 + 40));
        if (m && !isIdent(text.charCodeAt(k + 1 + m[0].length))) {
          // `1.e-3` → `1e-3 `
          rewrites.push({ at: k, text: `${m[0]} ` });
          numberEnds.set(i, k + 1 + m[0].length);
          i = k + 1 + m[0].length;
          continue;
        }
      }
      i = k;
      continue;
    }
    i++;
  }
  endStatement(n);
  let out = assemble(text, cuts);
  if (rewrites.length) {
    const parts: string[] = [];
    let at = 0;
    for (const r of rewrites) {
      parts.push(out.slice(at, r.at), r.text);
      at = r.at + r.text.length;
    }
    parts.push(out.slice(at));
    out = parts.join('');
  }
  return { text: out, issues: capIssues(issues), cutAt: new Set(), numberEnds };
}
