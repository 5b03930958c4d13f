// CSV scalar logs (RFC 4180: quoted fields with embedded commas, doubled quotes and newlines), streamed.
//   wide form  W&B run.history() export: `_step`, `train/loss`, `<metric>/<layer>` columns
//              (also the W&B UI export: `Step`, `<run> - <metric>`, `… __MIN`/`… __MAX` columns skipped)
//   long form  a `layer` column + `step` + figure columns (`param_rms`, …), optional `shape`/`numel`
//   per epoch  an `epoch` column and no step column (Ultralytics results.csv with its space-padded
//              headers and cells, Lightning metrics.csv variants): the epoch is the x-axis, and the
//              input says so (`seen[].xAxis`). Ultralytics' `lr/pg0..2` are the lrs of its three
//              parameter groups; its `args.yaml` beside results.csv names the optimizer when set.
//   runs table a W&B runs-table export (Name, State, Runtime, … config and summary columns, one row per
//              run): recognised and reported, not read as a series.
// Cells: empty = absent; `inf` in a ratio column (rel_step: zero parameter RMS) = undefined;
// other nan/inf cells are non-finite observations. A row whose field count differs from the header's
// is reported with its 1-based file line and skipped.

import { StringDecoder } from 'node:string_decoder';
import { openSync, readSync, closeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { optimizerKindFromName } from '../../shared/optimizers';
import type { FigureName, RunData } from '../run/types';
import type { ReadOptions, Reader } from './reader';
import { ReaderError } from '../errors';
import { figureColumn, type LayerScalars } from '../run/scalars';
import { classifyScalarTag, LAYER_METRICS, STEP_KEYS, type TagMeaning } from '../run/scalarTags';
import { openForStreaming } from '../io/fileBytes';
import { LAYER_KEYS, sameShape, ScalarRecordSink, toNumber, toShape, toStep, wideNumelLayer } from './scalarRecords';
import { numberRead, numberValue, readNumber, readNumberAt, sameText } from './flatJson';
import { sameBytes } from '../arrays';

export const CSV_FORMAT = 'csv';

/** Longest record (in characters) the parser holds; longer ones (a stray quote) are reported and dropped. */
export const MAX_RECORD_CHARS = 16 * 1024 * 1024;
/** Most fields a record may have (a W&B wide export has thousands of columns; this is far above). */
export const MAX_RECORD_FIELDS = 100_000;
const CHUNK_BYTES = 1024 * 1024;

/** Lines readCsv has read in one pass over their bytes (see onLine there), for the tests: a count, no more. */
export const csvLinesInOnePass = { count: 0 };

export interface CsvRecord {
  fields: string[];
  /** 1-based file line where the record starts. */
  line: number;
}

/**
 * Incremental RFC 4180 parser. Feed text with `push`, then call `end`. Records are delivered through the
 * callback; problems (unterminated quote, over-long record, stray characters after a closing quote) through
 * `onProblem`. Blank lines are skipped.
 */
export class CsvParser {
  private fields: string[] = [];
  private field = '';
  private state: 'start' | 'unquoted' | 'quoted' | 'quoteInQuoted' = 'start';
  private line = 1;
  private recordLine = 1;
  private recordChars = 0;
  private dropping = false;
  private quoteLine = 0;

  constructor(
    private readonly onRecord: (r: CsvRecord) => void,
    private readonly onProblem: (line: number, message: string) => void,
    private readonly delimiter = ',',
  ) {
    this.delimiterCode = delimiter.charCodeAt(0);
  }

  /**
   * Offered each line pushLine is given, before it is split, when the parser is between records: the line's
   * bytes [start, end) (a final CR excluded) and its 1-based file line. True: taken (no split, no record);
   * false: nothing may have been done with it, and pushLine goes on as without the hook.
   */
  onLine: ((b: Buffer, start: number, end: number, line: number) => boolean) | null = null;

  private readonly delimiterCode: number;

  push(text: string): void {
    const d = this.delimiter;
    const n = text.length;
    let i = 0;
    while (i < n) {
      const c = text[i];
      if (this.pendingCr) {
        // A CR outside quotes ends the line; CRLF counts once.
        this.pendingCr = false;
        if (c !== '\n') {
          this.endRecord();
          this.line++;
        }
      }
      switch (this.state) {
        case 'start':
        case 'unquoted': {
          if (this.state === 'start' && c === '"') {
            this.state = 'quoted';
            this.quoteLine = this.line;
            i++;
            break;
          }
          // Fast path: take a run of ordinary characters at once.
          let j = i;
          while (j < n) {
            const cj = text[j];
            if (cj === d || cj === '\n' || cj === '\r') break;
            j++;
          }
          if (j > i) {
            this.append(text.slice(i, j));
            this.state = 'unquoted';
            i = j;
          } else if (c === d) {
            this.endField();
            i++;
          } else if (c === '\n') {
            this.endRecord();
            this.line++;
            i++;
          } else {
            this.pendingCr = true;
            i++;
          }
          break;
        }
        case 'quoted': {
          const q = text.indexOf('"', i);
          const end = q < 0 ? n : q;
          const piece = text.slice(i, end);
          for (let k = piece.indexOf('\n'); k >= 0; k = piece.indexOf('\n', k + 1)) this.line++;
          this.append(piece);
          if (q < 0) {
            i = n;
          } else {
            this.state = 'quoteInQuoted';
            i = q + 1;
          }
          break;
        }
        case 'quoteInQuoted': {
          if (c === '"') {
            this.append('"');
            this.state = 'quoted';
            i++;
          } else if (c === d || c === '\n' || c === '\r') {
            this.state = 'unquoted';
          } else {
            this.problem(`unexpected character ${JSON.stringify(c)} after a closing quote`);
            this.state = 'unquoted';
          }
          break;
        }
      }
    }
  }

  private pendingCr = false;

  /**
   * A whole line (bytes[start, end), without its '\n') as one record, split on the bytes without decoding
   * the line as text first, when the parser is between records and the line is simple: quoted fields hold
   * no quote, unquoted ones no quote or CR (a final CR is the CRLF's), at most MAX_RECORD_FIELDS fields.
   * Returns false, consuming nothing, otherwise: the caller then pushes the line's text. On the 117 MB
   * long-form log this replaced the UTF-8 decoding of every chunk and the character loop (0.9 s of 2.9 s).
   */
  pushLine(b: Buffer, start: number, end: number): boolean {
    if (this.state !== 'start' || this.fields.length > 0 || this.field !== '' || this.pendingCr || this.dropping) return false;
    if (end - start > MAX_RECORD_CHARS) return false;
    if (end > start && b[end - 1] === 0x0d) end--;
    if (this.onLine !== null && this.onLine(b, start, end, this.line)) {
      this.line++;
      this.recordLine = this.line;
      return true;
    }
    const d = this.delimiterCode;
    // Field bounds first, then the strings: an ASCII line is decoded once and its fields are substrings
    // of it (V8 slices, no copies), 0.3 s less than a Buffer#toString per field on the 117 MB log.
    const bounds = this.bounds;
    let count = 0;
    let ascii = true;
    let i = start;
    for (;;) {
      let fs = i;
      let fe: number;
      scan.nonAscii = false;
      if (i < end && b[i] === 0x22) {
        const j = closingQuote(b, i, end);
        if (j < 0) return false; // the quoted field goes on past this line
        fs = i + 1;
        fe = j;
        i = j + 1;
        if (i < end && b[i] !== d) return false; // a doubled quote, or a character after the closing quote
      } else {
        const j = unquotedEnd(b, i, end, d);
        if (j < 0) return false;
        fe = j;
        i = j;
      }
      if (scan.nonAscii) ascii = false;
      if (count >= MAX_RECORD_FIELDS) return false;
      bounds[2 * count] = fs;
      bounds[2 * count + 1] = fe;
      count++;
      if (i >= end) break;
      i++; // the delimiter
    }
    const fields: string[] = new Array<string>(count);
    if (ascii) {
      const text = b.toString('latin1', start, end);
      for (let k = 0; k < count; k++) fields[k] = text.slice(bounds[2 * k]! - start, bounds[2 * k + 1]! - start);
    } else {
      for (let k = 0; k < count; k++) fields[k] = b.toString('utf8', bounds[2 * k]!, bounds[2 * k + 1]!);
    }
    const line = this.line++;
    this.recordLine = this.line;
    if (count === 1 && fields[0] === '') return true; // blank line
    this.onRecord({ fields, line });
    return true;
  }

  /** Field bounds of the line pushLine is splitting (start, end per field; reused). */
  private readonly bounds: number[] = [];

  /** Finish: deliver the last record (a file need not end with a newline). */
  end(): void {
    if (this.state === 'quoted') {
      this.onProblem(this.quoteLine, `unterminated quoted field starting at line ${this.quoteLine}; rest of the file ignored`);
      this.reset();
      return;
    }
    this.pendingCr = false;
    if (this.fields.length > 0 || this.field !== '' || this.state !== 'start') this.endRecord();
  }

  /** Current 1-based line (for messages). */
  get currentLine(): number {
    return this.line;
  }

  private append(s: string): void {
    if (this.dropping) return;
    this.recordChars += s.length;
    if (this.recordChars > MAX_RECORD_CHARS) {
      this.onProblem(this.recordLine, `record starting at line ${this.recordLine} is longer than ${MAX_RECORD_CHARS} characters; dropped`);
      this.dropping = true;
      this.field = '';
      this.fields = [];
      return;
    }
    this.field += s;
  }

  private endField(): void {
    if (!this.dropping) {
      // Delimiters count: a line of 60 MB of commas is 60M empty fields (measured 4.2 GB before this bound).
      this.recordChars++;
      if (this.fields.length >= MAX_RECORD_FIELDS || this.recordChars > MAX_RECORD_CHARS) {
        this.onProblem(
          this.recordLine,
          `record starting at line ${this.recordLine} has more than ${this.fields.length >= MAX_RECORD_FIELDS ? `${MAX_RECORD_FIELDS} fields` : `${MAX_RECORD_CHARS} characters`}; dropped`,
        );
        this.dropping = true;
        this.fields = [];
      } else this.fields.push(this.field);
    }
    this.field = '';
    this.state = 'start';
  }

  private endRecord(): void {
    const dropped = this.dropping;
    if (!dropped) this.fields.push(this.field);
    const fields = this.fields;
    const line = this.recordLine;
    this.reset();
    this.recordLine = this.line + 1;
    if (dropped) return;
    if (fields.length === 1 && fields[0] === '') return; // blank line
    this.onRecord({ fields, line });
  }

  private reset(): void {
    this.fields = [];
    this.field = '';
    this.state = 'start';
    this.recordChars = 0;
    this.dropping = false;
    this.pendingCr = false;
  }

  private problem(message: string): void {
    this.onProblem(this.line, `line ${this.line}: ${message}`);
  }
}

/** A data row's cells for longFormRow: as strings, or as the line's bytes. */
interface Cells {
  text(i: number): string;
  empty(i: number): boolean;
  /** What toNumber gives for the cell's text. */
  number(i: number): number | undefined | 'invalid';
  /** The cell's text is `s`. */
  is(i: number, s: string): boolean;
}

class TextCells implements Cells {
  fields: string[] = [];
  text(i: number): string {
    return this.fields[i]!;
  }
  empty(i: number): boolean {
    return this.fields[i] === '';
  }
  number(i: number): number | undefined | 'invalid' {
    const cell = this.fields[i]!;
    return cell !== '' ? toNumber(cell) : undefined;
  }
  is(i: number, s: string): boolean {
    return this.fields[i] === s;
  }
}

interface NameEntry {
  text: string;
  /** A copy of its bytes. */
  view: DataView;
  /** Its bytes hold no delimiter nor CR: the same bytes unquoted, followed by a delimiter, are one cell of this text. */
  plain: boolean;
  next: NameEntry | null;
  /** The layer's table, once readCsv has noted the layer. */
  table: LayerScalars | null;
}

/**
 * The cells of an ASCII line as its bytes: numbers parsed from the digits (readNumber: what Number() gives
 * for a JSON-shaped number; any other cell through toNumber on its text), names found again without a new
 * string (a long-form log repeats its layer names in the same order every step). Measured on the 117 MB
 * long-form CSV: see bench/logs.ts.
 */
class ByteCells implements Cells {
  b: Buffer = Buffer.alloc(0);
  bounds: readonly number[] = [];
  /** Names by their text (bounded), each with its bytes and the name that followed it last time. */
  private readonly names = new Map<string, NameEntry>();
  private lastName: NameEntry | null = null;
  private view: DataView = new DataView(new ArrayBuffer(0));
  private viewOf: Buffer | null = null;
  /**
   * Set by readCsv's one-pass reader of a long-form line: 1 where `values` holds the number the cell's
   * bytes were read as (the cells' bytes were read once, as numbers where they are; see onLine there).
   */
  parsed: Uint8Array | null = null;
  values: Float64Array = new Float64Array(0);

  constructor(private readonly delimiter: number) {}

  text(i: number): string {
    return this.b.toString('latin1', this.bounds[2 * i]!, this.bounds[2 * i + 1]!);
  }
  empty(i: number): boolean {
    return this.bounds[2 * i] === this.bounds[2 * i + 1];
  }
  number(i: number): number | undefined | 'invalid' {
    const a = this.bounds[2 * i]!;
    const e = this.bounds[2 * i + 1]!;
    if (a === e) return undefined;
    if (this.parsed !== null && this.parsed[i] === 1) return this.values[i]!;
    const v = readNumber(this.b, a, e);
    return v === v && numberRead.end === e ? v : toNumber(this.text(i));
  }
  is(i: number, s: string): boolean {
    return sameText(s, this.b, this.bounds[2 * i]!, this.bounds[2 * i + 1]!);
  }
  /**
   * The name the cell at byte `a` of `b` is without splitting it first: the one that followed the last name
   * (or the last name again) when its bytes are those at `a`, followed by the delimiter or `end`, and it is
   * plain. Null otherwise. Nothing is changed until `take`.
   */
  predict(b: Buffer, a: number, end: number): NameEntry | null {
    const last = this.lastName;
    if (last === null) return null;
    this.viewFor(b);
    const next = last.next;
    if (next !== null && next.plain && this.follows(next, a, end)) return next;
    if (last.plain && this.follows(last, a, end)) return last;
    return null;
  }

  /** The name last found (by `name` or `take`). */
  get current(): NameEntry | null {
    return this.lastName;
  }

  /** The predicted name taken (what `name` does when it finds it). */
  take(entry: NameEntry): string {
    this.lastName = entry;
    return entry.text;
  }

  /** Bytes from a of the line are the name's, then the delimiter or the line's end. */
  private follows(name: NameEntry, a: number, end: number): boolean {
    const n = name.view.byteLength;
    const e = a + n;
    return e <= end && (e === end || this.b[e] === this.delimiter) && sameBytes(name.view, 0, this.view, a, n);
  }

  private viewFor(b: Buffer): void {
    this.b = b;
    if (this.viewOf !== b) {
      this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
      this.viewOf = b;
    }
  }

  /** The cell's text, the same string as the last time this text came. */
  name(i: number): string {
    const a = this.bounds[2 * i]!;
    const e = this.bounds[2 * i + 1]!;
    this.viewFor(this.b);
    const last = this.lastName;
    if (last !== null) {
      // the one that followed first: a long-form log changes layer on every row
      const next = last.next;
      if (next !== null && this.sameName(next, a, e)) return (this.lastName = next).text;
      if (this.sameName(last, a, e)) return last.text;
    }
    const text = this.b.toString('latin1', a, e);
    let entry = this.names.get(text);
    if (entry === undefined) {
      const bytes = Uint8Array.prototype.slice.call(this.b, a, e);
      const plain = bytes.indexOf(this.delimiter) < 0 && bytes.indexOf(0x0d) < 0;
      entry = { text, view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), plain, next: null, table: null };
      if (this.names.size < 65536) this.names.set(text, entry);
    }
    if (last !== null) last.next = entry;
    this.lastName = entry;
    return text;
  }

  /** Bytes [a, e) of the line are the name's (four at a time). */
  private sameName(name: NameEntry, a: number, e: number): boolean {
    return name.view.byteLength === e - a && sameBytes(name.view, 0, this.view, a, e - a);
  }
}

type FigureColumn = { kind: 'figure'; figure: FigureName; col: number; read: boolean };
type Column =
  | { kind: 'skip' }
  | { kind: 'step' }
  | { kind: 'tag'; meaning: NonNullable<TagMeaning> }
  | FigureColumn
  | { kind: 'layer' }
  | { kind: 'shape' }
  | { kind: 'numel' }
  | { kind: 'wideNumel'; layer: string };

/** Column plan from the header: which column is the step, the layer, and what every other column means. */
/** What the field scanners saw besides the field's end: a byte ≥ 0x80 (the line is not ASCII). */
const scan = { nonAscii: false };

/** The closing quote of the quoted field opened at `q`, or -1 when the field goes on past `end`. */
function closingQuote(b: Buffer, q: number, end: number): number {
  for (let j = q + 1; j < end; j++) {
    const c = b[j]!;
    if (c === 0x22) return j;
    if (c >= 0x80) scan.nonAscii = true;
  }
  return -1;
}

/**
 * The end of the unquoted field starting at `j`: the delimiter `d` or `end`; -1 at a quote or a CR (not a line
 * the byte paths split).
 */
function unquotedEnd(b: Buffer, j: number, end: number, d: number): number {
  while (j < end) {
    const c = b[j]!;
    // Above ',' and below 0x80 (digits, letters, '.', '-', '_'), not the delimiter: none of the bytes that end or
    // spoil a field.
    if (c > 0x2c && c < 0x80 && c !== d) {
      j++;
      continue;
    }
    if (c === d) break;
    if (c === 0x22 || c === 0x0d) return -1;
    if (c >= 0x80) scan.nonAscii = true;
    j++;
  }
  return j;
}

function planColumns(
  header: string[],
  sink: ScalarRecordSink,
): { columns: Column[]; longForm: boolean; stepIndex: number; byEpoch: boolean } {
  const names = header.map((h, i) => (i === 0 ? h.replace(/^\uFEFF/, '') : h).trim());
  // W&B UI export: "<run name> - <metric>", plus "<…>__MIN" / "<…>__MAX" band columns.
  const runPrefixes = new Set<string>();
  const bare = names.map((h) => {
    const m = /^(.*?) - (.+)$/.exec(h);
    if (m && !STEP_KEYS.includes(h)) {
      runPrefixes.add(m[1]);
      return { name: m[2], run: m[1] };
    }
    return { name: h, run: null as string | null };
  });
  const firstRun = runPrefixes.size ? [...runPrefixes][0] : null;
  if (runPrefixes.size > 1) {
    sink.issue(
      'multi-run',
      'warning',
      `columns of ${runPrefixes.size} runs (${[...runPrefixes].slice(0, 3).join(', ')}…); only run "${firstRun}" is read`,
      1,
    );
  }
  let stepIndex = names.findIndex((h) => STEP_KEYS.includes(h));
  if (stepIndex < 0) stepIndex = names.findIndex((h) => h.toLowerCase() === 'step');
  const byEpoch = stepIndex < 0 && (stepIndex = names.findIndex((h) => h.toLowerCase() === 'epoch')) >= 0;
  const longForm = names.some((h) => LAYER_KEYS.includes(h));
  const columns: Column[] = bare.map(({ name, run }, i) => {
    if (i === stepIndex) return { kind: 'step' };
    if (run !== null && run !== firstRun) return { kind: 'skip' };
    if (/__(MIN|MAX)$/.test(name)) return { kind: 'skip' };
    if (longForm) {
      if (LAYER_KEYS.includes(name)) return { kind: 'layer' };
      if (name === 'shape') return { kind: 'shape' };
      if (name === 'numel') return { kind: 'numel' };
      const figure = Object.prototype.hasOwnProperty.call(LAYER_METRICS, name) ? LAYER_METRICS[name] : undefined;
      return figure ? { kind: 'figure', figure, col: figureColumn(figure), read: false } : { kind: 'skip' };
    }
    const numelLayer = wideNumelLayer(name);
    if (numelLayer !== null) return { kind: 'wideNumel', layer: numelLayer };
    const meaning = classifyScalarTag(name);
    if (!meaning) return { kind: 'skip' };
    if (meaning.kind === 'layer') sink.noteLayer(meaning.layer);
    return { kind: 'tag', meaning };
  });
  // A long-form file's first layer column wins; later layer-ish columns are plain data.
  if (longForm) {
    let seen = false;
    for (let i = 0; i < columns.length; i++) {
      if (columns[i].kind === 'layer') {
        if (seen) columns[i] = { kind: 'skip' };
        seen = true;
      }
    }
  }
  return { columns, longForm, stepIndex, byEpoch };
}

/** A W&B runs-table export: one row per run, its header starts with the run columns the UI writes. */
function isWandbRunsTable(header: string[]): boolean {
  const names = new Set(header.map((h, i) => (i === 0 ? h.replace(/^\uFEFF/, '') : h).trim()));
  return names.has('Name') && names.has('State') && (names.has('Runtime') || names.has('Created') || names.has('User'));
}

const ARGS_YAML_MAX_BYTES = 64 * 1024;

/**
 * The optimizer an Ultralytics run states in the `args.yaml` beside its results.csv (`optimizer: SGD`);
 * null when absent, unreadable or `auto` (Ultralytics then picks SGD or AdamW by the iteration count,
 * which the folder does not state).
 */
function ultralyticsOptimizer(csvPath: string): { name: string; line: number } | null {
  if (basename(csvPath) !== 'results.csv') return null;
  let text: string;
  try {
    const fd = openSync(join(dirname(csvPath), 'args.yaml'), 'r');
    try {
      const buf = Buffer.alloc(ARGS_YAML_MAX_BYTES);
      text = buf.subarray(0, readSync(fd, buf, 0, buf.length, 0)).toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return null;
  }
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^optimizer:\s*['"]?([A-Za-z0-9_]+)['"]?\s*(?:#.*)?$/.exec(lines[i].replace(/\r$/, ''));
    if (m) return m[1].toLowerCase() === 'auto' ? null : { name: m[1], line: i + 1 };
  }
  return null;
}

/** Read a whole CSV (or TSV) log. Throws ReaderError when it cannot be opened or holds no usable row. */
export async function readCsv(path: string, options: ReadOptions = {}): Promise<RunData> {
  const sink = new ScalarRecordSink(path, CSV_FORMAT);
  const delimiter = /\.tsv$/i.test(path) ? '\t' : ',';
  let header: string[] | null = null;
  let plan: ReturnType<typeof planColumns> | null = null;
  let rows = 0;
  let runsTable = false;
  const lastShape = new Map<string, string>();

  /** A long-form plan's figure columns (index, column) and its shape and numel columns, in column order. */
  let figureAt: number[] = [];
  let figureColumns: FigureColumn[] = [];
  let sizeAt: number[] = [];

  /**
   * A long-form row's figure cell (the f-th figure column) into the layer's table, from the cell as a string
   * or as the line's bytes (the same outcome either way: a cell the bytes path cannot take becomes its
   * text); true when a value was stored. A finite number goes straight into the table (its column's name
   * noted once); anything else (empty, nan/inf, not a number) through layerValue, which reports it.
   */
  const figureCell = (cells: Cells, f: number, step: number, l: string, line: number, table: LayerScalars): boolean => {
    const i = figureAt[f]!;
    const c = figureColumns[f]!;
    const v = cells.number(i);
    if (typeof v === 'number' && v - v === 0) {
      // (the row of the table's last step when that is this one: the row a record's values share)
      table.put(table.rowFor(step), c.col, v);
      if (!c.read) {
        c.read = true;
        sink.noteRead(header![i]!);
      }
      return true;
    }
    return sink.layerValue(step, l, c.figure, cells.text(i), line, header![i]!);
  };
  /** A long-form row's shape and numel cells: the layer's size, where they state one not known yet. */
  const sizeCells = (cells: Cells, step: number, l: string, table: LayerScalars): void => {
    let shape: number[] | null = null;
    let numel: number | undefined;
    for (let s = 0; s < sizeAt.length; s++) {
      const i = sizeAt[s]!;
      if (cells.empty(i)) continue;
      if (plan!.columns[i]!.kind === 'shape') {
        // Long-form rows restate the layer's shape: the text last stated for the layer is not parsed again.
        // Only a text that states the layer's first shape (or none) is remembered: a changed shape is
        // reported on every row that states it.
        const last = lastShape.get(l);
        if (last === undefined || !cells.is(i, last)) {
          const cell = cells.text(i);
          shape = toShape(cell);
          const known = sink.data.layerShapes[l];
          if ((shape === null || known === undefined || sameShape(known, shape)) && lastShape.size < 100_000) lastShape.set(l, cell);
        }
      } else {
        const n = cells.number(i);
        if (typeof n === 'number' && Number.isInteger(n) && n >= 0) numel = n;
      }
    }
    if (shape || (numel !== undefined && table.numel === null)) sink.layerSize(step, l, shape, numel);
  };
  /**
   * A long-form row into the layer's table (the caller noted the layer): its figures, then its shape and
   * numel (neither touches what the other does).
   */
  const longFormRow = (cells: Cells, step: number, l: string, line: number, table: LayerScalars): boolean => {
    let stored = false;
    for (let f = 0; f < figureAt.length; f++) if (figureCell(cells, f, step, l, line, table)) stored = true;
    sizeCells(cells, step, l, table);
    return stored;
  };
  /** The layer's table, the layer noted; once per name the bytes path found (the entry keeps the table). */
  const layerOf = (entry: NameEntry): LayerScalars => {
    if (entry.table === null) {
      sink.noteLayer(entry.text);
      entry.table = sink.layerTable(entry.text);
    }
    return entry.table;
  };
  /** The last layer column whose cell is not empty (-1: none). */
  const layerColumn = (cells: Cells): number => {
    const cols = plan!.columns;
    let at = -1;
    for (let i = 0; i < cols.length; i++) if (cols[i]!.kind === 'layer' && !cells.empty(i)) at = i;
    return at;
  };
  const textCells = new TextCells();
  const delimiterCode = delimiter.charCodeAt(0);
  const byteCells = new ByteCells(delimiterCode);

  // One pass over a long-form line: each number cell (step, figures, numel) read as a number where it
  // starts, the layer name found by comparing the predicted name's bytes, the other cells split as pushLine
  // splits them: no bounds found first and digits read again. Any cell it cannot take so (a quote inside
  // a field, non-ASCII, a CR, a field count other than the header's, a row longFormRow would not take
  // from the bytes) and the line is left to pushLine untouched.
  /** Per column: 0 a number (step, figure, numel), 1 the layer, 2 any other; null until a long-form plan. */
  let cellKinds: Uint8Array | null = null;
  /** The plan's layer column (planColumns keeps one; a later layer-ish column is a skipped one). */
  let layerIndex = -1;
  const lineBounds: number[] = [];
  let lineParsed = new Uint8Array(0);
  const onLine = (b: Buffer, start: number, end: number, line: number): boolean => {
    if (runsTable || plan === null || !plan.longForm) return false;
    const p = plan;
    if (cellKinds === null) {
      cellKinds = Uint8Array.from(p.columns, (c) =>
        c.kind === 'step' || c.kind === 'figure' || c.kind === 'numel' ? 0 : c.kind === 'layer' ? 1 : 2,
      );
      lineParsed = new Uint8Array(cellKinds.length);
      layerIndex = cellKinds.indexOf(1);
      byteCells.values = new Float64Array(cellKinds.length);
    }
    const kinds = cellKinds;
    const n = kinds.length;
    const d = delimiterCode;
    const bounds = lineBounds;
    const parsed = lineParsed;
    const values = byteCells.values;
    let predicted: NameEntry | null = null;
    let q = start;
    for (let i = 0; ;) {
      const k = kinds[i]!;
      const a = q;
      let taken = false;
      parsed[i] = 0;
      if (k === 0) {
        if (q === end || b[q] === d)
          taken = true; // empty
        else {
          // (a number followed by anything but the delimiter fails the field's end check below)
          const e = readNumberAt(b, q, end);
          if (e >= 0) {
            values[i] = numberValue[0]!;
            parsed[i] = 1;
            q = e;
            taken = true;
          }
        }
      } else if (k === 1) {
        predicted = byteCells.predict(b, q, end);
        if (predicted !== null) {
          q += predicted.view.byteLength;
          taken = true;
        }
      }
      if (taken) {
        bounds[2 * i] = a;
        bounds[2 * i + 1] = q;
      } else if (q < end && b[q] === 0x22) {
        scan.nonAscii = false;
        const j = closingQuote(b, q, end);
        if (j < 0 || scan.nonAscii) return false;
        bounds[2 * i] = q + 1;
        bounds[2 * i + 1] = j;
        q = j + 1;
      } else {
        scan.nonAscii = false;
        const j = unquotedEnd(b, q, end, d);
        if (j < 0 || scan.nonAscii) return false;
        bounds[2 * i] = q;
        bounds[2 * i + 1] = j;
        q = j;
      }
      if (++i === n) {
        if (q !== end) return false;
        break;
      }
      if (q >= end || b[q] !== d) return false;
      q++;
    }
    byteCells.b = b;
    byteCells.bounds = bounds;
    byteCells.parsed = parsed;
    const step = toStep(byteCells.number(p.stepIndex));
    // (what layerColumn finds: the one layer column, when its cell is not empty)
    const layerAt = layerIndex >= 0 && bounds[2 * layerIndex] !== bounds[2 * layerIndex + 1] ? layerIndex : -1;
    if (step === null || layerAt < 0) {
      byteCells.parsed = null;
      return false; // the string path reports it
    }
    rows++;
    const l = predicted !== null ? byteCells.take(predicted) : byteCells.name(layerAt);
    const table = layerOf(byteCells.current!);
    // longFormRow, with the numbers read above stored without a look at their cells again
    let stored = false;
    let row = -1;
    for (let f = 0; f < figureAt.length; f++) {
      const i = figureAt[f]!;
      const v = values[i]!;
      if (parsed[i] === 1 && v - v === 0) {
        if (row < 0) row = table.rowFor(step);
        const c = figureColumns[f]!;
        table.put(row, c.col, v);
        if (!c.read) {
          c.read = true;
          sink.noteRead(header![i]!);
        }
        stored = true;
      } else if (figureCell(byteCells, f, step, l, line, table)) stored = true;
    }
    sizeCells(byteCells, step, l, table);
    if (stored) sink.usableRecords++;
    byteCells.parsed = null;
    csvLinesInOnePass.count++;
    return true;
  };

  const onRecord = (r: CsvRecord) => {
    if (runsTable) {
      rows++;
      return;
    }
    if (!header) {
      header = r.fields;
      if (isWandbRunsTable(header)) {
        runsTable = true;
        return;
      }
      plan = planColumns(header, sink);
      if (plan.byEpoch) sink.xAxis = 'epoch';
      if (plan.longForm) {
        const cols = plan.columns;
        figureAt = [];
        figureColumns = [];
        sizeAt = [];
        for (let i = 0; i < cols.length; i++) {
          const c = cols[i]!;
          if (c.kind === 'figure') {
            figureAt.push(i);
            figureColumns.push(c);
          } else if (c.kind === 'shape' || c.kind === 'numel') sizeAt.push(i);
        }
      }
      if (plan.stepIndex < 0) {
        throw new ReaderError(path, `no step column in the header (expected one of ${STEP_KEYS.join(', ')})`, { line: r.line });
      }
      return;
    }
    rows++;
    const p = plan!;
    if (r.fields.length !== header.length) {
      sink.issue('ragged', 'error', `line ${r.line} has ${r.fields.length} fields, header has ${header.length}; row skipped`, r.line);
      return;
    }
    const step = toStep(r.fields[p.stepIndex]);
    if (step === null) {
      const cell = r.fields[p.stepIndex];
      sink.issue(
        'bad-step',
        'warning',
        `line ${r.line}: ${p.byEpoch ? 'epoch' : 'step'} cell ${JSON.stringify(cell)} is not a non-negative integer; row skipped`,
        r.line,
      );
      return;
    }
    let stored = false;
    if (p.longForm) {
      textCells.fields = r.fields;
      const layerAt = layerColumn(textCells);
      if (layerAt < 0) {
        sink.issue('no-layer', 'warning', `line ${r.line}: empty layer cell; row skipped`, r.line);
        return;
      }
      const l = r.fields[layerAt]!;
      sink.noteLayer(l);
      stored = longFormRow(textCells, step, l, r.line, sink.layerTable(l));
    } else {
      p.columns.forEach((c, i) => {
        if (c.kind === 'tag' && sink.taggedValue(step, c.meaning, r.fields[i], r.line, header![i])) stored = true;
        else if (c.kind === 'wideNumel') {
          const n = toNumber(r.fields[i]);
          if (typeof n === 'number' && Number.isInteger(n) && n >= 0) sink.layerSize(step, c.layer, null, n);
        }
      });
    }
    if (stored) sink.usableRecords++;
  };
  const parser = new CsvParser(onRecord, (line, message) => sink.issue('csv-syntax', 'error', message, line), delimiter);
  parser.onLine = onLine;

  const { handle, size } = await openForStreaming(path);
  try {
    // Whole lines go to the parser as bytes (pushLine), or as text when not simple. The incomplete last
    // line of a chunk is carried to the front of the buffer; one longer than a chunk goes to the parser as
    // text, through a StringDecoder, up to its newline (the parser bounds what it holds).
    const work = Buffer.allocUnsafe(2 * CHUNK_BYTES);
    let have = 0; // bytes of an incomplete line at work[0, have)
    let longLine: StringDecoder | null = null;
    let pos = 0;
    let lastProgress = -1;
    while (pos < size) {
      options.signal?.throwIfAborted();
      const { bytesRead } = await handle.read(work, have, Math.min(CHUNK_BYTES, size - pos), pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      sink.data.scalars.progress.fraction = pos / size;
      const bytes = work.subarray(0, have + bytesRead);
      let from = 0;
      if (longLine !== null) {
        const nl = bytes.indexOf(0x0a);
        if (nl < 0) {
          parser.push(longLine.write(bytes));
          have = 0;
          continue;
        }
        parser.push(longLine.write(bytes.subarray(0, nl + 1)) + longLine.end());
        longLine = null;
        from = nl + 1;
      }
      for (let nl = bytes.indexOf(0x0a, from); nl >= 0; nl = bytes.indexOf(0x0a, from)) {
        if (!parser.pushLine(bytes, from, nl)) parser.push(bytes.toString('utf8', from, nl + 1));
        from = nl + 1;
      }
      const rest = bytes.length - from;
      if (rest > CHUNK_BYTES) {
        longLine = new StringDecoder('utf8');
        parser.push(longLine.write(bytes.subarray(from)));
        have = 0;
      } else {
        bytes.copy(work, 0, from);
        have = rest;
      }
      if (options.onProgress && size > 0) {
        const f = Math.floor((pos / size) * 100);
        if (f !== lastProgress) {
          lastProgress = f;
          options.onProgress(pos / size);
        }
      }
    }
    if (longLine !== null) parser.push(longLine.end());
    else if (have > 0) parser.push(work.toString('utf8', 0, have));
    parser.end();
  } finally {
    await handle.close().catch(() => undefined);
  }
  if (runsTable) return runsTableData(sink, rows);
  if (plan && (plan as ReturnType<typeof planColumns>).byEpoch) {
    const opt = ultralyticsOptimizer(path);
    const kind = opt ? optimizerKindFromName(opt.name) : null;
    if (kind) {
      sink.data.hyper.type = kind;
      sink.data.hyper.source = 'config';
    }
  }
  const data = sink.finish();
  if (!header) throw new ReaderError(path, 'empty file');
  if (sink.usableRecords === 0) {
    const first = data.issues.find((i) => i.severity === 'error');
    const why =
      rows === 0
        ? 'header only, no rows'
        : first
          ? `no usable row (first problem: ${first.message})`
          : 'no column holds a recognised figure or global (see README "Logs" for the column names read)';
    throw new ReaderError(path, why, first?.line !== undefined ? { line: first.line } : {});
  }
  return data;
}

/** A runs table holds no series: the input is listed with what it is, and nothing else is read. */
function runsTableData(sink: ScalarRecordSink, rows: number): RunData {
  const data = sink.finish();
  data.seen = [
    {
      path: sink.path,
      format: CSV_FORMAT,
      kind: 'wandb-runs-table',
      read: [],
      note: `W&B runs table: ${rows} run${rows === 1 ? '' : 's'}, one row each (config and summary values), not a training series; export a run's history (run.history() or a chart's CSV) to analyze it`,
    },
  ];
  return data;
}

export const csvReader: Reader = {
  format: CSV_FORMAT,
  detect(path: string): boolean {
    return /\.(csv|tsv)$/i.test(path);
  },
  read: readCsv,
};
