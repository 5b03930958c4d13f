// Shared record → observation logic of the scalar log readers (JSONL, CSV, trainer_state.json):
// tolerant JSON for Python's bare NaN/Infinity tokens, a bounded line splitter over a file handle,
// and a sink that turns (step, key, value) into the columnar run model (run/scalars.ts), non-finite
// observations (one per place and key, with a count) and issues (capped per kind).

import type { FigureName, InputSeen, NonFiniteObservation, ReadIssue, RunData } from '../run/types';
import { figureColumn, type LayerScalars, type ReadProgress, type ScalarStore } from '../run/scalars';
import { emptyRunData, MAX_SEEN_NAMES } from '../run/types';
import { IssueLimiter } from '../run/issueLimit';
import { classifyScalarTag, LAYER_METRICS, type TagMeaning } from '../run/scalarTags';
import { openForStreaming } from '../io/fileBytes';
import { optimizerKindFromName, type OptimizerKind } from '../../shared/optimizers';

// ---- tolerant JSON -------------------------------------------------------------------------------

const NONFINITE_PLACEHOLDER: Record<string, number> = {
  '\u0001OL:NaN': Number.NaN,
  '\u0001OL:Infinity': Number.POSITIVE_INFINITY,
  '\u0001OL:-Infinity': Number.NEGATIVE_INFINITY,
};

/**
 * JSON.parse that also accepts the bare `NaN`, `Infinity` and `-Infinity` tokens Python's json module
 * writes (RFC 8259 has none). They come back as JS NaN / ±Infinity numbers. Tokens inside strings are
 * left alone. Throws SyntaxError for anything else that is not JSON.
 */
export function parseJsonTolerant(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (first) {
    const rewritten = rewriteNonFiniteTokens(text);
    if (rewritten === null) throw first;
    return JSON.parse(rewritten, (_key, value) =>
      typeof value === 'string' && Object.prototype.hasOwnProperty.call(NONFINITE_PLACEHOLDER, value)
        ? NONFINITE_PLACEHOLDER[value]
        : value,
    );
  }
}

/** Replace bare NaN/Infinity/-Infinity value tokens outside strings by placeholder strings; null if none. */
function rewriteNonFiniteTokens(text: string): string | null {
  let out = '';
  let last = 0;
  let inString = false;
  let found = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped char
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
      continue;
    }
    let token: string | null = null;
    if (c === 0x4e /* N */ && text.startsWith('NaN', i)) token = 'NaN';
    else if (c === 0x49 /* I */ && text.startsWith('Infinity', i)) token = 'Infinity';
    else if (c === 0x2d /* - */ && text.startsWith('-Infinity', i)) token = '-Infinity';
    if (token === null) continue;
    // Must be a whole token in value position: next char is a delimiter.
    const next = text.charCodeAt(i + token.length);
    const delimiterNext = Number.isNaN(next) || next === 0x2c || next === 0x7d || next === 0x5d || isJsonSpace(next);
    if (!delimiterNext) continue;
    out += text.slice(last, i) + JSON.stringify(`\u0001OL:${token}`);
    i += token.length - 1;
    last = i + 1;
    found = true;
  }
  return found ? out + text.slice(last) : null;
}

function isJsonSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

// ---- bounded line splitting ------------------------------------------------------------------------

/** Longest line a text reader accepts; longer lines are reported and skipped (bounded memory). */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;
const CHUNK_BYTES = 1024 * 1024;

export interface TextLine {
  /** 1-based line number in the file. */
  line: number;
  /** The line's text without the line terminator (\n or \r\n). */
  text: string;
  /** Byte offset just past this line's terminator. */
  end: number;
}

export interface LineScanResult {
  /** Byte offset just past the last complete line (where a tail continues). */
  end: number;
  /** Number of complete lines seen (the next line number is firstLine + lines). */
  lines: number;
  /** Bytes after `end` that do not end with a newline yet. */
  partialBytes: number;
}

/**
 * Call `onLine` for every complete line of `path` from byte `start` (line number `firstLine`).
 * With `includeLastPartial`, a last line without a terminator counts as complete (whole-file reads);
 * otherwise it is left for later (live tail). Over-long lines are reported through `onTooLong`.
 */
export async function scanLines(path: string, opts: ScanOptions, onLine: (line: TextLine) => void): Promise<LineScanResult> {
  return scanLineBytes(path, opts, (bytes, start, end, line, endOffset) =>
    onLine({ line, text: stripCr(bytes.toString('utf8', start, end)), end: endOffset }),
  );
}

export interface ScanOptions {
  start?: number;
  /** Stop at this byte offset (a bounded step of a tail); lines past it are left for the next call. */
  end?: number;
  firstLine?: number;
  includeLastPartial: boolean;
  signal?: AbortSignal;
  onProgress?: (fraction: number) => void;
  onTooLong?: (line: number, bytes: number) => void;
  /** Told the fraction of the file read as each chunk is split (sizes the columnar store's growth). */
  progress?: ReadProgress;
  /** Limits (tests use small ones to cross chunk boundaries). */
  maxLineBytes?: number;
  chunkBytes?: number;
}

/**
 * `scanLines` without decoding: `onLine` gets the line's bytes as `bytes[start, end)` (without the \n; a
 * \r before it is left in), valid only during the call, its 1-based number and the offset past it.
 */
export async function scanLineBytes(
  path: string,
  opts: ScanOptions,
  onLine: (bytes: Buffer, start: number, end: number, line: number, endOffset: number) => void,
): Promise<LineScanResult> {
  const { handle, size: fileSize } = await openForStreaming(path);
  const size = opts.end !== undefined ? Math.min(fileSize, opts.end) : fileSize;
  try {
    let pos = opts.start ?? 0;
    let lineNo = opts.firstLine ?? 1;
    let lineStart = pos; // byte offset of the current (pending) line's first byte
    const pending: Buffer[] = [];
    let pendingBytes = 0;
    let tooLong = false;
    const maxLine = opts.maxLineBytes ?? MAX_LINE_BYTES;
    const chunk = opts.chunkBytes ?? CHUNK_BYTES;
    const buf = Buffer.allocUnsafe(chunk);
    let lastProgress = -1;
    while (pos < size) {
      opts.signal?.throwIfAborted();
      const { bytesRead } = await handle.read(buf, 0, Math.min(chunk, size - pos), pos);
      if (bytesRead === 0) break;
      if (opts.progress && size > 0) opts.progress.fraction = (pos + bytesRead) / size;
      let from = 0;
      for (;;) {
        const nl = buf.indexOf(0x0a, from);
        if (nl < 0 || nl >= bytesRead) break;
        const end = pos + nl + 1;
        if (tooLong || pendingBytes + (nl - from) > maxLine) {
          opts.onTooLong?.(lineNo, end - lineStart - 1);
        } else {
          if (pending.length) {
            const bytes = Buffer.concat([...pending, buf.subarray(from, nl)]);
            onLine(bytes, 0, bytes.length, lineNo, end);
          } else onLine(buf, from, nl, lineNo, end);
        }
        pending.length = 0;
        pendingBytes = 0;
        tooLong = false;
        lineNo++;
        lineStart = end;
        from = nl + 1;
      }
      if (from < bytesRead) {
        const rest = bytesRead - from;
        if (!tooLong && pendingBytes + rest <= maxLine) {
          pending.push(Buffer.from(buf.subarray(from, bytesRead)));
          pendingBytes += rest;
        } else {
          tooLong = true;
          pending.length = 0;
          pendingBytes = 0;
        }
      }
      pos += bytesRead;
      if (opts.onProgress && size > 0) {
        const f = Math.floor((pos / size) * 100);
        if (f !== lastProgress) {
          lastProgress = f;
          opts.onProgress(pos / size);
        }
      }
    }
    const completeEnd = lineStart;
    const partial = pos - lineStart;
    if (partial > 0 && opts.includeLastPartial) {
      if (tooLong) opts.onTooLong?.(lineNo, partial);
      else {
        const bytes = Buffer.concat(pending);
        onLine(bytes, 0, bytes.length, lineNo, pos);
      }
      return { end: pos, lines: lineNo - (opts.firstLine ?? 1) + 1, partialBytes: 0 };
    }
    return { end: completeEnd, lines: lineNo - (opts.firstLine ?? 1), partialBytes: partial };
  } finally {
    await handle.close().catch(() => undefined);
  }
}

function stripCr(s: string): string {
  return s.endsWith('\r') ? s.slice(0, -1) : s;
}

// ---- values ----------------------------------------------------------------------------------------

/** Figures that are ratios over the parameter RMS: +inf there means "divided by zero", i.e. undefined. */
export const RATIO_FIGURES: ReadonlySet<FigureName> = new Set<FigureName>(['relStep', 'relStepPredicted']);

/**
 * A cell or JSON value as a number: number → itself (NaN/±Infinity kept), numeric string → number,
 * 'nan'/'inf'/'Infinity'/… → NaN/±Infinity, null/''/undefined → undefined (absent), anything else → 'invalid'.
 */
export function toNumber(value: unknown): number | undefined | 'invalid' {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return 'invalid';
  if (typeof value !== 'string') return 'invalid';
  // Fast path for ordinary decimal numbers (most cells); hex/octal/binary forms are not numbers here.
  const c0 = value.charCodeAt(0);
  if ((c0 >= 0x30 && c0 <= 0x39) || c0 === 0x2d || c0 === 0x2e) {
    const c1 = value.charCodeAt(1);
    if (!(c0 === 0x30 && (c1 | 0x20) >= 0x62 && (c1 | 0x20) !== 0x65)) {
      const n = Number(value);
      if (Number.isFinite(n)) return n;
    }
  }
  const s = value.trim();
  if (s === '') return undefined;
  const lower = s.toLowerCase();
  if (lower === 'nan' || lower === '-nan' || lower === '+nan') return Number.NaN;
  if (lower === 'inf' || lower === '+inf' || lower === 'infinity' || lower === '+infinity') return Number.POSITIVE_INFINITY;
  if (lower === '-inf' || lower === '-infinity') return Number.NEGATIVE_INFINITY;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return 'invalid';
  return Number(s);
}

/** A step value: a non-negative integer (1.0 accepted), else null. */
export function toStep(value: unknown): number | null {
  const n = toNumber(value);
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0 || !Number.isInteger(n) || n > Number.MAX_SAFE_INTEGER) return null;
  return n;
}

/** A long-form record key's meaning: the figure it states (null: none) and its table column. */
interface LongKey {
  figure: FigureName | null;
  col: number;
  read: boolean;
}

/** What the keys of a run of flat records with the same keys mean (ScalarSink.keyPlanFor). */
interface KeyPlan {
  keys: string[];
  stepKeys: readonly string[];
  /** Indices of the step keys present, in the order they are looked for; likewise the layer keys. */
  stepCandidates: number[];
  layerCandidates: number[];
  /** Per key its long-form meaning; null for shape and numel. */
  longKeys: (LongKey | null)[];
}

/** Shapes by their text: a long-form CSV repeats a few shape strings on every row (a regex each cost 11%). */
const SHAPE_TEXT = new Map<string, number[] | null>();
const MAX_SHAPE_TEXTS = 4096;

/** A shape from a JSON array or a "[16, 32]" / "(16, 32)" string; null when it is not one. */
export function toShape(value: unknown): number[] | null {
  if (typeof value === 'string') {
    const known = SHAPE_TEXT.get(value);
    if (known !== undefined) return known && known.slice();
    const shape = shapeOf(value);
    if (SHAPE_TEXT.size < MAX_SHAPE_TEXTS && value.length <= 256) SHAPE_TEXT.set(value, shape && shape.slice());
    return shape;
  }
  return shapeOf(value);
}

function shapeOf(value: unknown): number[] | null {
  let arr: unknown = value;
  if (typeof value === 'string') {
    const m = /^\s*[[(]\s*([\d\s,]*)[\])]\s*$/.exec(value);
    if (!m) return null;
    arr = m[1]
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x !== '')
      .map(Number);
  }
  if (!Array.isArray(arr)) return null;
  const out: number[] = [];
  for (const d of arr) {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) return null;
    out.push(d);
  }
  return out;
}

// ---- the sink ----------------------------------------------------------------------------------------

/** Fields of a long-form record that name the layer. */
export const LAYER_KEYS: readonly string[] = ['layer', 'layer_name', 'param_name', 'parameter'];

/** What each kind of problem is called in the "… and N more" line past the per-kind cap (run/issueLimit.ts). */
const KIND_LABEL: Record<string, string> = {
  parse: 'invalid JSON lines',
  'not-object': 'lines that are not JSON objects',
  'no-step': 'records without a step',
  'bad-step': 'records with an invalid step',
  'no-layer': 'records without a layer',
  'invalid-value': 'values that are not numbers',
  'shape-change': 'shape changes',
  'too-long': 'over-long lines',
  'csv-syntax': 'CSV syntax errors',
  ragged: 'rows with the wrong number of fields',
};

/**
 * Collects one input's logged values into the columnar run model. Values of one (step, layer) that arrive
 * together share a row (see run/scalars.ts); issues are capped per kind.
 */
export class ScalarRecordSink {
  readonly data: RunData;
  private readonly store: ScalarStore;
  private readonly layersSeen = new Set<string>();
  private lastNoted: string | null = null;
  private readonly issues: IssueLimiter;
  private readonly nonFiniteByKey = new Map<string, NonFiniteObservation>();
  private infRatio = { count: 0, firstLine: 0 };
  /** Count of records that produced at least one value. */
  usableRecords = 0;
  /** The step of the last record given that states a valid one (a live tail groups its lines by step). */
  recordStep: number | null = null;
  /** Names (keys, columns) that gave a value, for the "what was read" report. */
  private readonly namesRead = new Set<string>();
  private lastRead: string | null = null;
  /** Set by a reader whose x-axis is the epoch (no step column). */
  xAxis: InputSeen['xAxis'];

  constructor(
    readonly path: string,
    format: string,
  ) {
    this.data = emptyRunData();
    this.store = this.data.scalars;
    this.issues = new IssueLimiter(this.data.issues);
    this.data.inputs.push({ path, format });
  }

  /** Record a problem; at most MAX_ISSUES_PER_KIND per kind are listed, the rest counted in one line. */
  issue(kind: string, severity: ReadIssue['severity'], message: string, line?: number): void {
    const issue: ReadIssue = { severity, path: this.path, message };
    if (line !== undefined) issue.line = line;
    this.issues.push(KIND_LABEL[kind] ?? kind, issue);
  }

  /** A logged value as a number: undefined when absent, or when not a number (then reported). */
  private parsed(raw: unknown, line: number, what: string): number | undefined {
    const v = toNumber(raw);
    if (v !== 'invalid') return v;
    this.issue('invalid-value', 'warning', `${at(line)}${what} is not a number (${short(raw)}); ignored`, line > 0 ? line : undefined);
    return undefined;
  }

  /**
   * One per-layer figure value. Non-finite values become NonFiniteObservations (never figures), except
   * +inf in a ratio figure, which is a division by a zero parameter RMS and is left absent.
   * Returns true when the value was stored.
   */
  layerValue(step: number, layer: string, figure: FigureName, raw: unknown, line: number, what: string): boolean {
    const v = this.parsed(raw, line, what);
    if (v === undefined) return false;
    if (!Number.isFinite(v)) {
      if (v === Number.POSITIVE_INFINITY && RATIO_FIGURES.has(figure)) {
        if (this.infRatio.count++ === 0) this.infRatio.firstLine = line;
        return false;
      }
      this.nonFinite(step, layer, what, v, line);
      return false;
    }
    this.noteLayer(layer);
    this.store.setLayer(step, layer, figure, v);
    this.noteRead(what);
    return true;
  }

  /** One whole-model value (loss, lr, gradNorm, …). */
  globalValue(step: number, key: string, raw: unknown, line: number, what: string): boolean {
    const v = this.parsed(raw, line, what);
    if (v === undefined) return false;
    if (!Number.isFinite(v)) {
      this.nonFinite(step, null, what, v, line);
      return false;
    }
    this.store.setGlobal(step, key, v);
    this.noteRead(what);
    return true;
  }

  /** A layer's table (long-form readers store finite values straight into it; see layerValue for the rest). */
  layerTable(layer: string): LayerScalars {
    return this.store.layer(layer);
  }

  /** Note a name (key, column) that gave a value, for the "what was read" report. */
  noteRead(name: string): void {
    // CSV headers may be space-padded (Ultralytics right-aligns them). Names repeat on every record: the
    // last one answers without a Set lookup.
    if (name === this.lastRead) return;
    this.lastRead = name;
    if (this.namesRead.size < MAX_SEEN_NAMES) this.namesRead.add(name.trim());
  }

  /** Apply a classified tag's value; returns true when something was stored. */
  taggedValue(step: number, meaning: TagMeaning, raw: unknown, line: number, what: string): boolean {
    if (!meaning) return false;
    if (meaning.kind === 'layer') return this.layerValue(step, meaning.layer, meaning.figure, raw, line, what);
    if (meaning.kind === 'global') {
      const key = meaning.key === 'lr' && meaning.paramGroup ? `lr/pg${meaning.paramGroup}` : meaning.key;
      return this.globalValue(step, key, raw, line, what);
    }
    return false;
  }

  /** State the shape / numel of a layer (long-form logs carry them). */
  layerSize(step: number, layer: string, shape: number[] | null, numel: number | undefined): void {
    this.noteLayer(layer);
    if (shape) {
      const prev = this.data.layerShapes[layer];
      if (!prev) this.data.layerShapes[layer] = shape;
      else if (prev.length !== shape.length || prev.some((d, i) => d !== shape[i])) {
        this.issue('shape-change', 'warning', `layer ${layer}: shape [${shape}] at step ${step} differs from [${prev}]`);
      }
    }
    if (numel !== undefined) {
      const t = this.store.layer(layer);
      if (t.numel === null) t.numel = numel;
    }
  }

  /** What a long-form record's key means, resolved once per key (JSONL lines repeat a few keys). */
  private readonly longKeys = new Map<string, LongKey>();

  private longKey(k: string): LongKey {
    let key = this.longKeys.get(k);
    if (key === undefined) {
      const figure = Object.prototype.hasOwnProperty.call(LAYER_METRICS, k) ? LAYER_METRICS[k]! : null;
      key = { figure, col: figure !== null ? figureColumn(figure) : -1, read: false };
      // Bounded: a log of ever new keys resolves them each time instead.
      if (this.longKeys.size < 4096) this.longKeys.set(k, key);
    }
    return key;
  }

  /**
   * One JSON object (a JSONL line): long form (a `layer` field), or per-step / wide form (`<metric>/<layer>`
   * keys and global names). Returns true when the record gave at least one value.
   */
  addJsonRecord(record: unknown, line: number, stepKeys: readonly string[]): boolean {
    if (record === null || typeof record !== 'object' || Array.isArray(record)) {
      this.issue('not-object', 'error', `line ${line}: not a JSON object; skipped`, line);
      return false;
    }
    const rec = record as Record<string, unknown>;
    let step: number | null = null;
    let stepKey: string | null = null;
    for (const k of stepKeys) {
      if (k in rec && rec[k] !== null && rec[k] !== undefined) {
        step = toStep(rec[k]);
        stepKey = k;
        break;
      }
    }
    if (stepKey === null) {
      this.issue('no-step', 'warning', `line ${line}: no step field (${stepKeys.join(', ')}); record skipped`, line);
      return false;
    }
    if (step === null) {
      this.issue(
        'bad-step',
        'warning',
        `line ${line}: ${stepKey} is not a non-negative integer (${short(rec[stepKey])}); record skipped`,
        line,
      );
      return false;
    }
    this.recordStep = step;
    let layer: string | null = null;
    let layerKey: string | null = null;
    for (const k of LAYER_KEYS) {
      if (typeof rec[k] === 'string' && (rec[k] as string) !== '') {
        layer = rec[k] as string;
        layerKey = k;
        break;
      }
    }
    let stored: boolean;
    if (layer !== null) {
      const keys = Object.keys(rec);
      const values = keys.map((k) => rec[k]);
      const { longKeys } = this.keyPlanFor(keys, keys.length, stepKeys);
      stored = this.longForm(
        step,
        layer,
        line,
        keys,
        values,
        keys.length,
        keys.indexOf(stepKey),
        keys.indexOf(layerKey!),
        () => rec,
        longKeys,
      );
    } else {
      stored = this.addWideEntries(step, rec, '', stepKey, line, 0);
    }
    if (stored) this.usableRecords++;
    return stored;
  }

  /**
   * A flat record given as keys and values (FlatJsonParser.parseFields: no object built) when it is a
   * long-form one — a step and a layer — else null, and the caller passes the object to addJsonRecord
   * (which also reports a missing or bad step). Same result as addJsonRecord on the object.
   */
  addFlatRecord(
    keys: readonly string[],
    values: readonly unknown[],
    n: number,
    line: number,
    stepKeys: readonly string[],
    asObject: () => Record<string, unknown>,
  ): boolean | null {
    const plan = this.keyPlanFor(keys, n, stepKeys);
    let stepAt = -1;
    for (const i of plan.stepCandidates) {
      if (values[i] !== null) {
        stepAt = i;
        break;
      }
    }
    if (stepAt < 0) return null;
    let layerAt = -1;
    for (const i of plan.layerCandidates) {
      if (typeof values[i] === 'string' && values[i] !== '') {
        layerAt = i;
        break;
      }
    }
    if (layerAt < 0) return null;
    const step = toStep(values[stepAt]);
    if (step === null) return null;
    this.recordStep = step;
    const stored = this.longForm(step, values[layerAt] as string, line, keys, values, n, stepAt, layerAt, asObject, plan.longKeys);
    if (stored) this.usableRecords++;
    return stored;
  }

  /**
   * What each key of a flat record means, worked out once for a run of records with the same keys in the same
   * order (a log's lines; the parser hands the same interned strings): the step and layer keys present, in
   * the order they are looked for, and each key's long-form meaning.
   */
  private keyPlan: KeyPlan | null = null;

  private keyPlanFor(keys: readonly string[], n: number, stepKeys: readonly string[]): KeyPlan {
    const last = this.keyPlan;
    if (last !== null && last.keys.length === n && last.stepKeys === stepKeys) {
      let same = true;
      for (let i = 0; i < n; i++) {
        if (keys[i] !== last.keys[i]) {
          same = false;
          break;
        }
      }
      if (same) return last;
    }
    const own = keys.slice(0, n);
    const candidates = (names: readonly string[]): number[] => {
      const out: number[] = [];
      for (const k of names) {
        const i = own.indexOf(k);
        if (i >= 0) out.push(i);
      }
      return out;
    };
    const plan: KeyPlan = {
      keys: own,
      stepKeys,
      stepCandidates: candidates(stepKeys),
      layerCandidates: candidates(LAYER_KEYS),
      longKeys: own.map((k) => (k === 'shape' || k === 'numel' ? null : this.longKey(k))),
    };
    this.keyPlan = plan;
    return plan;
  }

  /** A long-form record's figures, shape, numel and optimizer settings into `layer`'s table. */
  private longForm(
    step: number,
    layer: string,
    line: number,
    keys: readonly string[],
    values: readonly unknown[],
    n: number,
    stepAt: number,
    layerAt: number,
    asObject: () => Record<string, unknown>,
    /** Each key's meaning (keyPlanFor), null for shape and numel. */
    longKeys: readonly (LongKey | null)[],
  ): boolean {
    let stored = false;
    this.noteLayer(layer);
    const table = this.store.layer(layer);
    let shapeRaw: unknown;
    let numelRaw: unknown;
    let row = -1;
    for (let i = 0; i < n; i++) {
      if (i === stepAt || i === layerAt) continue;
      const k = keys[i]!;
      const key = longKeys[i] ?? null;
      if (key === null) {
        if (k === 'shape') shapeRaw = values[i];
        else numelRaw = values[i];
        continue;
      }
      if (key.figure === null) continue;
      const raw = values[i];
      // The common case (a finite number) straight into the layer's table; the rest through layerValue.
      if (typeof raw === 'number' && raw - raw === 0) {
        if (row < 0) row = table.rowFor(step);
        table.put(row, key.col, raw);
        if (!key.read) {
          key.read = true;
          this.noteRead(k);
        }
        stored = true;
      } else if (this.layerValue(step, layer, key.figure, raw, line, k)) stored = true;
    }
    // A long-form log restates the layer's shape on every line: the same array is checked, not rebuilt.
    const known = this.data.layerShapes[layer];
    const shape = shapeRaw !== undefined && !sameShape(known, shapeRaw) ? toShape(shapeRaw) : null;
    const numelN = toNumber(numelRaw);
    const numel = typeof numelN === 'number' && Number.isInteger(numelN) && numelN >= 0 ? numelN : undefined;
    // (a numel is kept once: a line restating it has nothing to add)
    if (shape || (numel !== undefined && table.numel === null)) this.layerSize(step, layer, shape, numel);
    if (!this.hyperByLayer.has(layer)) this.noteHyper(layer, asObject());
    return stored;
  }

  /**
   * Wide / per-step keys. Nested objects are flattened with '/' ({"train": {"loss": 1}} → train/loss);
   * W&B media and histogram objects ({"_type": "histogram", …}) are not scalars and are skipped.
   */
  private addWideEntries(
    step: number,
    rec: Record<string, unknown>,
    prefix: string,
    stepKey: string,
    line: number,
    depth: number,
  ): boolean {
    let stored = false;
    for (const [k0, raw] of Object.entries(rec)) {
      if (depth === 0 && k0 === stepKey) continue;
      const k = prefix + k0;
      if (raw !== null && typeof raw === 'object') {
        if (Array.isArray(raw) || '_type' in raw || depth >= 4) continue;
        if (this.addWideEntries(step, raw as Record<string, unknown>, `${k}/`, stepKey, line, depth + 1)) stored = true;
        continue;
      }
      const numelLayer = wideNumelLayer(k);
      if (numelLayer !== null) {
        const n = toNumber(raw);
        if (typeof n === 'number' && Number.isInteger(n) && n >= 0) this.layerSize(step, numelLayer, null, n);
        continue;
      }
      const meaning = classifyScalarTag(k);
      if (!meaning) continue;
      if (meaning.kind === 'layer') this.noteLayer(meaning.layer);
      if (this.taggedValue(step, meaning, raw, line, k)) stored = true;
    }
    return stored;
  }

  private readonly hyperByLayer = new Map<
    string,
    { type: OptimizerKind | null; betas: [number, number] | null; eps: number | null; weightDecay: number | null }
  >();

  /** Optimizer hyper-parameters stated per line (our logging snippet writes optimizer, betas, eps, weight_decay). */
  private noteHyper(layer: string, rec: Record<string, unknown>): void {
    const name = typeof rec.optimizer === 'string' ? rec.optimizer.toLowerCase() : null;
    const type = optimizerKindFromName(name);
    const b = rec.betas;
    const betas =
      Array.isArray(b) && b.length === 2 && b.every((x) => typeof x === 'number' && Number.isFinite(x))
        ? ([b[0], b[1]] as [number, number])
        : null;
    const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);
    const h = { type, betas, eps: num(rec.eps), weightDecay: num(rec.weight_decay) };
    if (h.type !== null || h.betas !== null || h.eps !== null || h.weightDecay !== null) this.hyperByLayer.set(layer, h);
  }

  /** Hyper-parameters common to every layer go to `hyper`; per-layer differences become parameter groups. */
  private finishHyper(): void {
    if (this.hyperByLayer.size === 0) return;
    const all = [...this.hyperByLayer.values()];
    const same = <T>(f: (h: (typeof all)[number]) => T): T | null => {
      const first = JSON.stringify(f(all[0]));
      return all.every((h) => JSON.stringify(f(h)) === first) ? f(all[0]) : null;
    };
    const hyper = this.data.hyper;
    const type = same((h) => h.type);
    if (type) hyper.type = type;
    const betas = same((h) => h.betas);
    if (betas) hyper.betas = betas;
    const eps = same((h) => h.eps);
    if (eps !== null) hyper.eps = eps;
    const wd = same((h) => h.weightDecay);
    if (wd !== null) hyper.weightDecay = wd;
    hyper.source = 'log';
    const groups = new Map<
      string,
      { layers: string[]; lr: null; betas: [number, number] | null; eps: number | null; weightDecay: number | null }
    >();
    for (const [layer, h] of this.hyperByLayer) {
      const key = JSON.stringify([h.betas, h.eps, h.weightDecay]);
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { layers: [], lr: null, betas: h.betas, eps: h.eps, weightDecay: h.weightDecay }));
      g.layers.push(layer);
    }
    if (groups.size > 1) this.data.paramGroups = [...groups.values()];
  }

  noteLayer(layer: string): void {
    // Values of one layer come in runs: the last noted name answers without hashing a fresh string.
    if (layer === this.lastNoted) return;
    this.lastNoted = layer;
    if (!this.layersSeen.has(layer)) {
      this.layersSeen.add(layer);
      this.data.layerOrder.push(layer);
    }
  }

  /** Final summaries (suppressed issues, ratio infinities); returns the RunData. */
  finish(): RunData {
    this.finishHyper();
    const seen: InputSeen = { path: this.path, format: this.data.inputs[0]?.format ?? '', read: [...this.namesRead] };
    if (this.xAxis) seen.xAxis = this.xAxis;
    this.data.seen = [seen];
    if (this.infRatio.count > 0) {
      const first = this.infRatio.firstLine;
      const issue: ReadIssue = {
        severity: 'warning',
        path: this.path,
        message: `${this.infRatio.count} ratio value(s) (rel_step) are inf, a division by a zero parameter RMS; treated as undefined${first > 0 ? ` (first at line ${first})` : ''}`,
      };
      if (first > 0) issue.line = first;
      this.data.issues.push(issue);
    }
    this.issues.finish();
    return this.data;
  }

  /** One non-finite observation per (layer, key) with a count and the first place: never one per value. */
  private nonFinite(step: number, layer: string | null, what: string, _v: number, line: number): void {
    const key = `${layer ?? ''}\u0000${what}`;
    const seen = this.nonFiniteByKey.get(key);
    if (seen) {
      seen.count++;
      return;
    }
    const nf: NonFiniteObservation = { path: this.path, step, layer, what, count: 1 };
    if (line > 0) nf.line = line;
    this.nonFiniteByKey.set(key, nf);
    this.data.nonFinite.push(nf);
  }
}

/** True when `raw` is an array of exactly the dimensions of `known`. */
export function sameShape(known: number[] | undefined, raw: unknown): boolean {
  if (known === undefined || !Array.isArray(raw) || raw.length !== known.length) return false;
  for (let i = 0; i < known.length; i++) if (raw[i] !== known[i]) return false;
  return true;
}

/** `numel/<layer>` (a wide log stating a layer's element count) → the layer, else null. */
export function wideNumelLayer(key: string): string | null {
  return key.startsWith('numel/') && key.length > 6 ? key.slice(6) : null;
}

function at(line: number): string {
  return line > 0 ? `line ${line}: ` : '';
}

function short(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : String(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}
