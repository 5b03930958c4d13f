// Apply an edit to a previous YAML scan without re-parsing the file (the hover after an edit: under
// 10 ms on a 2,000-line YAML where a full parse takes 30–70 ms).
//
// Only one kind of edit takes this path: the net difference between the previous text and the new one lies on
// one line, and on both sides that line is a simple `key: plain-scalar [# comment]` pair with the same
// indentation, key and comment, whose value the previous parse ended on that line. Such an edit changes one
// scalar and nothing else in the YAML tree, so the result equals a full scan (tested against it on every line
// of the fixtures and the bench file). Anything else — a new line, a key or comment edit, quotes, flow
// collections, anchors, Hydra/Lightning evidence, a file with parse errors — returns null: scan in full.
import { LineIndex } from './positions';
import { finishScan, loadYamlFront, type ScanState } from './scan';
import { emptyConfigScan, type ConfigScan, type RawEntry, type SourceRange, type YamlFloatString } from './types';

export type { ScanState } from './scan';

/** `indent key: value  # comment` with a plain key and a plain one-line scalar value. */
const SIMPLE_PAIR = /^( *)([A-Za-z_][A-Za-z0-9_.-]*)(: +)((?:-(?=[0-9.])|[^\s#'"[\]{},&*!|>%@`?:-])[^#\t]*?)((?: +#.*)?)\r?$/;

interface Pair {
  indent: string;
  key: string;
  sep: string;
  value: string;
  comment: string;
}

function simplePair(line: string): Pair | null {
  const m = SIMPLE_PAIR.exec(line);
  if (!m) return null;
  const [, indent, key, sep, value, comment] = m;
  // ': ' (a nested key), '${' (Hydra evidence), and flow indicators (inside a flow collection they end the scalar).
  if (value.includes(': ') || value.endsWith(':') || value.includes('${') || value.endsWith(' ') || /[,[\]{}]/.test(value)) return null;
  return { indent, key, sep, value, comment };
}

/** The one differing region of two texts: [start, oldEnd) in the old text became [start, newEnd) in the new. */
export function diffRegion(a: string, b: string): { start: number; oldEnd: number; newEnd: number } | null {
  if (a === b) return null;
  const n = Math.min(a.length, b.length);
  let p = 0;
  while (p < n && a.charCodeAt(p) === b.charCodeAt(p)) p++;
  let q = 0;
  while (q < n - p && a.charCodeAt(a.length - 1 - q) === b.charCodeAt(b.length - 1 - q)) q++;
  return { start: p, oldEnd: a.length - q, newEnd: b.length - q };
}

const hasNewline = (s: string) => s.includes('\n') || s.includes('\r');

/**
 * The scan of `text` from the scan of the previous text `prev`, when the edit between them is a one-line scalar
 * value change in YAML (see the file comment); null when a full scan is needed.
 */
export function rescanAfterEdit(prev: ScanState, text: string): ScanState | null {
  const old = prev.text;
  const s = prev.scan;
  if (s.language !== 'yaml' || s.skipped || s.issues.length) return null;
  if (old === text) return prev;
  const d = diffRegion(old, text);
  if (!d || hasNewline(old.slice(d.start, d.oldEnd)) || hasNewline(text.slice(d.start, d.newEnd))) return null;
  const delta = d.newEnd - d.oldEnd;
  const lineStart = Math.max(old.lastIndexOf('\n', d.start - 1), old.lastIndexOf('\r', d.start - 1)) + 1;
  let oldLineEnd = old.indexOf('\n', d.oldEnd);
  if (oldLineEnd < 0) oldLineEnd = old.length;
  const a = simplePair(old.slice(lineStart, oldLineEnd));
  const b = simplePair(text.slice(lineStart, oldLineEnd + delta));
  if (!a || !b || a.indent !== b.indent || a.key !== b.key || a.sep !== b.sep || a.comment !== b.comment) return null;
  // Loaded here (YAML only): scan.ts loads the YAML front end on the first YAML file, so this is already in memory.
  const { isYamlFloatString, YAML_LOADER_KEYS, yaml } = loadYamlFront();
  const { isScalar, parseDocument } = yaml;
  if (YAML_LOADER_KEYS.has(a.key) || a.comment.includes('optimizer-lens')) return null;
  const keyStart = lineStart + a.indent.length;
  const valueStart = keyStart + a.key.length + a.sep.length;
  const oldValueEnd = valueStart + a.value.length;
  const newValueEnd = valueStart + b.value.length;
  // The edited entry: its key at this line's key, its value ending on this line (not a multi-line scalar).
  const hits = prev.entries.filter((e) => e.keyRange?.start === keyStart);
  if (hits.length !== 1) return null;
  const entry = hits[0];
  if (
    Array.isArray(entry.value) ||
    entry.valueRange.start !== valueStart ||
    entry.valueRange.end !== oldValueEnd ||
    entry.context !== 'mapping'
  )
    return null;
  // The new value as the YAML parser reads a plain scalar (core schema: the same in any block context).
  const doc = parseDocument(b.value, { prettyErrors: false, uniqueKeys: false, strict: false });
  const node = doc.contents;
  if (
    doc.errors.length ||
    !isScalar(node) ||
    node.type !== 'PLAIN' ||
    !node.range ||
    node.range[0] !== 0 ||
    node.range[1] !== b.value.length
  )
    return null;
  const v = node.value;
  let value: RawEntry['value'];
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' || v === null) value = v;
  else if (typeof v === 'bigint') value = Number(v);
  else return null;

  const idx = new LineIndex(text);
  // The edit is inside one line, so line numbers do not change: ranges before the edited value stay as they are
  // (the same objects), later ones move by the length change (and by columns on the edited line).
  const editLine = entry.valueRange.line;
  const moved = (r: SourceRange): SourceRange => {
    if (r.end <= valueStart) return r;
    if (r.start < oldValueEnd) return idx.range(r.start <= valueStart ? r.start : r.start + delta, r.end + delta); // not reached for other items
    return {
      start: r.start + delta,
      end: r.end + delta,
      line: r.line,
      column: r.line === editLine ? r.column + delta : r.column,
      endLine: r.endLine,
      endColumn: r.endLine === editLine ? r.endColumn + delta : r.endColumn,
    };
  };
  const entries: RawEntry[] = prev.entries.map((e) => {
    if (e === entry) return { ...e, value, raw: b.value, valueRange: idx.range(valueStart, newValueEnd) };
    if (e.valueRange.end <= valueStart) return e;
    const m: RawEntry = {
      path: e.path,
      value: e.value,
      raw: e.raw,
      valueRange: moved(e.valueRange),
      keyRange: e.keyRange && moved(e.keyRange),
      context: e.context,
    };
    if (e.callee !== undefined) m.callee = e.callee;
    if (e.itemRanges) m.itemRanges = e.itemRanges.map(moved);
    return m;
  });
  const comments = prev.comments.map((c) => (c.range.end <= valueStart ? c : { text: c.text, range: moved(c.range) }));
  const floatStrings: YamlFloatString[] = [];
  let placed = false;
  const path = entry.path.join('.');
  const own: YamlFloatString | null = isYamlFloatString(value, node.type, b.value)
    ? { key: path, raw: b.value.trim(), value, range: idx.range(valueStart, newValueEnd) }
    : null;
  for (const f of s.yamlFloatStrings) {
    if (f.range.start === valueStart && f.range.end === oldValueEnd) continue; // the edited value's
    if (own && !placed && f.range.start > valueStart) {
      floatStrings.push(own);
      placed = true;
    }
    floatStrings.push({ ...f, range: moved(f.range) });
  }
  if (own && !placed) floatStrings.push(own);

  const scan: ConfigScan = { ...emptyConfigScan(s.path, 'yaml', idx.lineCount), yamlFloatStrings: floatStrings, yamlLoader: s.yamlLoader };
  finishScan(scan, text, idx, entries, comments);
  return { text, scan, entries, comments };
}
