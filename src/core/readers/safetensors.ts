import { promises as fsp } from 'node:fs';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { classifyTensorKey } from '../run/tensorKeys';
import { ReaderError, echo } from '../errors';
import { emptyRunData, type ReadIssue, type RunData, type TensorRef } from '../run/types';
import type { Dtype } from '../io/tensorBytes';
import type { ReadOptions, Reader } from './reader';
import { FileBytes, dataView, fsError, withFile } from '../io/fileBytes';
import { fillLayers } from '../run/tensorLayers';
import { stepFromFilePath } from '../run/stepNames';

// safetensors: u64 LE header length N, N bytes of UTF-8 JSON {name: {dtype, shape, data_offsets:
// [begin, end]}, "__metadata__": {str: str}}, then the byte buffer (offsets relative to its start).
// The length is checked against the file size and the 100 MB cap before anything is read.

export const SAFETENSORS_FORMAT = 'safetensors';
/** The reference implementation's header cap. */
export const MAX_SAFETENSORS_HEADER = 100_000_000;
/**
 * Tensors per file. A 100 MB header can describe 1.5M tensors, and parsing 1M of them took 1.1 GB and
 * 12–47 s; the largest real files hold tens of thousands (a consolidated DeepSeek-V3: ~90k). Counted on
 * the raw bytes before the JSON is parsed.
 */
export const MAX_SAFETENSORS_TENSORS = 250_000;

/** Bytes per element of every safetensors dtype (F64/F32/F16/BF16 become tensors; others are skipped). */
export const SAFETENSORS_DTYPE_BYTES: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
};
const TENSOR_DTYPES = new Set<string>(['F64', 'F32', 'F16', 'BF16']);

export interface SafetensorsHeader {
  /** Bytes before the buffer: 8 + N. */
  bufferOffset: number;
  bufferSize: number;
  /** Parsed JSON (an object). */
  json: Record<string, unknown>;
}

/** Read and parse the header; ReaderError for every structural problem (file and byte offset named). */
export async function readSafetensorsHeader(file: FileBytes): Promise<SafetensorsHeader> {
  const path = file.path;
  if (file.size < 8) {
    throw new ReaderError(path, `file of ${file.size} bytes is shorter than the 8-byte header-length prefix`, { offset: 0 });
  }
  const prefix = await file.read(0, 8);
  const n = dataView(prefix).getBigUint64(0, true);
  const after = file.size - 8;
  if (n > BigInt(after)) {
    throw new ReaderError(path, `header length ${n} exceeds the ${after} bytes after the 8-byte prefix`, { offset: 0 });
  }
  if (n > BigInt(MAX_SAFETENSORS_HEADER)) {
    throw new ReaderError(path, `header length ${n} exceeds the ${MAX_SAFETENSORS_HEADER}-byte limit`, { offset: 0 });
  }
  const len = Number(n);
  if (len < 2) throw new ReaderError(path, `header length ${len} is too short for a JSON object`, { offset: 0 });
  const raw = await file.read(8, len);
  if (raw[0] !== 0x7b) throw new ReaderError(path, `header does not start with '{' (found byte 0x${raw[0].toString(16)})`, { offset: 8 });
  const over = nthOccurrence(raw, DATA_OFFSETS, MAX_SAFETENSORS_TENSORS + 1);
  if (over >= 0) {
    throw new ReaderError(path, `header describes more than ${MAX_SAFETENSORS_TENSORS} tensors (budget)`, { offset: 8 + over });
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw new ReaderError(path, 'header is not valid UTF-8', { offset: 8 + firstBadUtf8(raw) });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    const m = /position (\d+)/.exec(msg);
    // JSON.parse positions are in UTF-16 code units; for the ASCII headers writers produce they are bytes.
    const pos = m ? Math.min(Number(m[1]), len) : 0;
    throw new ReaderError(path, `header is not valid JSON (${msg})`, { offset: 8 + pos });
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new ReaderError(path, 'header JSON is not an object', { offset: 8 });
  }
  return { bufferOffset: 8 + len, bufferSize: file.size - 8 - len, json: json as Record<string, unknown> };
}

const DATA_OFFSETS = Buffer.from('"data_offsets"');

/** Where the `n`th occurrence of `needle` starts in `bytes`, or -1 (a linear scan, no decoding). */
function nthOccurrence(bytes: Uint8Array, needle: Uint8Array, n: number): number {
  const hay = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = -1;
  for (let k = 0; k < n; k++) {
    at = hay.indexOf(needle, at + 1);
    if (at < 0) return -1;
  }
  return at;
}

function firstBadUtf8(bytes: Uint8Array): number {
  // Binary search for the shortest prefix that fails to decode.
  const dec = new TextDecoder('utf-8', { fatal: true });
  let lo = 0;
  let hi = bytes.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    try {
      dec.decode(bytes.subarray(0, mid + 1), { stream: true });
      lo = mid + 1;
    } catch {
      hi = mid;
    }
  }
  return lo;
}

export async function readSafetensors(path: string, options: ReadOptions = {}): Promise<RunData> {
  options.signal?.throwIfAborted();
  return withFile(path, async (file) => {
    const header = await readSafetensorsHeader(file);
    const run = emptyRunData();
    run.inputs.push({ path, format: SAFETENSORS_FORMAT });
    const issues = run.issues;
    const at = { path, offset: 8 };

    // Metadata: strings that parse as numbers become snapshot scalars.
    const scalars: Record<string, number> = {};
    const meta = header.json.__metadata__;
    if (meta !== undefined) {
      if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) {
        issues.push({ severity: 'warning', ...at, message: '__metadata__ is not an object of strings; ignored' });
      } else {
        for (const [k, v] of Object.entries(meta as Record<string, unknown>)) {
          if (typeof v !== 'string') {
            issues.push({ severity: 'warning', ...at, message: `__metadata__ value of '${echo(k)}' is not a string; ignored` });
            continue;
          }
          const num = parseNumber(v);
          if (num !== null) scalars[k] = num;
        }
      }
    }

    const tensors: TensorRef[] = [];
    const skipped = new Map<string, string[]>();
    const spans: Span[] = [];
    const entries = Object.entries(header.json).filter(([k]) => k !== '__metadata__');
    // Per-tensor errors are listed up to MAX_TENSOR_ISSUES, then counted (a 100 MB header can describe
    // millions of bad tensors; one issue object each would cost more than the file).
    let listedTensorIssues = 0;
    let moreTensorIssues = 0;
    const tensorIssue = (key: string, message: string): void => {
      if (listedTensorIssues >= MAX_TENSOR_ISSUES) moreTensorIssues++;
      else {
        listedTensorIssues++;
        issues.push({ severity: 'error', ...at, tensor: key, message });
      }
    };
    for (const [key, info] of entries) {
      options.signal?.throwIfAborted();
      const problem = describeEntry(key, info, header, path, spans);
      if (problem) tensorIssue(key, `tensor '${echo(key)}' skipped: ${problem}`);
    }
    // Tensors whose bytes overlap another's are errors (the reference implementation refuses such files):
    // both are skipped, the rest is read.
    for (const [a, b] of overlaps(spans)) {
      for (const [x, y] of [
        [a, b],
        [b, a],
      ]) {
        if (x.overlapped) continue;
        x.overlapped = true;
        tensorIssue(
          x.key,
          `tensor '${echo(x.key)}' skipped: its data_offsets [${x.begin}, ${x.end}] overlap those of '${echo(y.key)}' [${y.begin}, ${y.end}]`,
        );
      }
    }
    if (moreTensorIssues > 0) issues.push({ severity: 'error', ...at, message: `… and ${moreTensorIssues} more tensors skipped` });
    for (const sp of spans) {
      if (sp.overlapped) continue;
      if (sp.ref) tensors.push(sp.ref);
      else {
        const list = skipped.get(sp.dtype) ?? [];
        list.push(sp.key);
        skipped.set(sp.dtype, list);
      }
    }
    if (skipped.size > 0) {
      const parts = [...skipped].map(
        ([dt, keys]) =>
          `${dt} (${keys.length}: ${keys
            .slice(0, 5)
            .map((k) => echo(k, 60))
            .join(', ')}${keys.length > 5 ? ', …' : ''})`,
      );
      issues.push({ severity: 'warning', ...at, message: `tensors of dtypes that are not float parameters skipped: ${parts.join('; ')}` });
    }
    if (tensors.length === 0 && entries.length > 0 && skipped.size === 0) {
      const first = issues.find((x) => x.severity === 'error');
      throw new ReaderError(path, `no readable tensors${first ? ` (${first.message})` : ''}`, { offset: 8 });
    }

    const metaStep = scalars.step ?? scalars.global_step;
    const step = metaStep !== undefined && Number.isInteger(metaStep) && metaStep >= 0 ? metaStep : stepFromFilePath(path);
    run.snapshots.push({ step, tensors, path, ...(Object.keys(scalars).length > 0 ? { scalars } : {}) });
    if (scalars.lr !== undefined && Number.isFinite(scalars.lr)) run.hyper.lr = scalars.lr;
    fillLayers(run, tensors);
    options.onProgress?.(1);
    return run;
  });
}

/** A number written as a string ("0.0003", "1", "1e-8"); null for anything else. */
function parseNumber(s: string): number | null {
  const t = s.trim();
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return null;
  const v = Number(t);
  return Number.isFinite(v) ? v : null;
}

/** One header entry's byte range in the buffer, and its TensorRef (null: a dtype that is not a float tensor). */
interface Span {
  key: string;
  dtype: string;
  begin: number;
  end: number;
  ref: TensorRef | null;
  overlapped?: boolean;
}

/** Per-tensor issues listed per file before one line counts the rest (as the torch reader does). */
const MAX_TENSOR_ISSUES = 20;

/** Pairs of spans whose byte ranges share a byte (empty ranges share none); O(n log n). */
function overlaps(spans: Span[]): [Span, Span][] {
  const sorted = spans.filter((s) => s.end > s.begin).sort((a, b) => a.begin - b.begin || a.end - b.end);
  const out: [Span, Span][] = [];
  let reach: Span | null = null; // the span reaching furthest so far
  for (const s of sorted) {
    if (reach && s.begin < reach.end) out.push([reach, s]);
    if (!reach || s.end > reach.end) reach = s;
  }
  return out;
}

/** Validate one header entry; add its span (with a TensorRef for float dtypes). Returns a problem or null. */
function describeEntry(key: string, info: unknown, header: SafetensorsHeader, path: string, spans: Span[]): string | null {
  if (info === null || typeof info !== 'object' || Array.isArray(info)) return 'entry is not an object';
  const { dtype, shape, data_offsets: offsets } = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof dtype !== 'string') return 'dtype missing';
  if (!Array.isArray(shape)) return 'shape missing';
  if (shape.length > 64) return `shape of ${shape.length} dimensions`;
  let numel = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0)
      return `shape entry ${echo(JSON.stringify(d), 40)} is not a non-negative integer`;
    numel *= d;
  }
  if (!Number.isSafeInteger(numel)) return `shape [${shape.join(', ')}] has too many elements`;
  if (!Array.isArray(offsets) || offsets.length !== 2) return 'data_offsets is not [begin, end]';
  const [begin, end] = offsets as unknown[];
  if (
    typeof begin !== 'number' ||
    typeof end !== 'number' ||
    !Number.isSafeInteger(begin) ||
    !Number.isSafeInteger(end) ||
    begin < 0 ||
    end < begin
  ) {
    return `data_offsets ${echo(JSON.stringify(offsets), 60)} are not increasing non-negative integers`;
  }
  if (end > header.bufferSize) return `data_offsets [${begin}, ${end}] lie outside the ${header.bufferSize}-byte buffer`;
  const itemSize = SAFETENSORS_DTYPE_BYTES[dtype];
  if (itemSize === undefined) return `unknown dtype ${echo(JSON.stringify(dtype), 40)}`;
  if (end - begin !== numel * itemSize) {
    return `data_offsets [${begin}, ${end}] span ${end - begin} bytes, shape [${shape.join(', ')}] of ${dtype} needs ${numel * itemSize}`;
  }
  if (!TENSOR_DTYPES.has(dtype)) {
    spans.push({ key, dtype, begin, end, ref: null });
    return null;
  }
  const { layer, role } = classifyTensorKey(key);
  spans.push({
    key,
    dtype,
    begin,
    end,
    ref: {
      layer,
      role,
      key,
      dtype: dtype as Dtype,
      shape: shape as number[],
      numel,
      source: { path, offset: header.bufferOffset + begin, storedLength: end - begin, compression: 'none' },
    },
  });
  return null;
}

// ---- Sharded checkpoints: model.safetensors.index.json ------------------------------------------

export interface SafetensorsIndex {
  /** Shard files (absolute or relative like the index path), in order of first appearance. */
  shards: string[];
  /** Tensor name → shard file (as resolved in `shards`). */
  weightMap: Record<string, string>;
  /** The index's own metadata (e.g. total_size), as stored. */
  metadata: Record<string, unknown> | null;
  issues: ReadIssue[];
}

/** True for `*.safetensors.index.json`. */
export function isSafetensorsIndexName(path: string): boolean {
  return /\.safetensors\.index\.json$/i.test(path);
}

/**
 * Read a sharded checkpoint's index and return its shard files, resolved next to the index. Shard
 * names that are absolute or leave the index's folder are refused (reported in `issues`).
 */
export async function readSafetensorsIndex(indexPath: string): Promise<SafetensorsIndex> {
  let text: string;
  try {
    const st = await fsp.stat(indexPath);
    if (st.size > MAX_SAFETENSORS_HEADER) throw new ReaderError(indexPath, `index of ${st.size} bytes is too large`, { offset: 0 });
    text = await fsp.readFile(indexPath, 'utf8');
  } catch (err) {
    throw fsError(indexPath, err);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    const m = /position (\d+)/.exec(msg);
    const line = m ? text.slice(0, Number(m[1])).split('\n').length : 1;
    throw new ReaderError(indexPath, `not valid JSON (${msg})`, { line });
  }
  const map = json && typeof json === 'object' && !Array.isArray(json) ? (json as Record<string, unknown>).weight_map : undefined;
  if (!map || typeof map !== 'object' || Array.isArray(map)) {
    throw new ReaderError(indexPath, 'no "weight_map" object (not a safetensors index)', { line: 1 });
  }
  const dir = dirname(indexPath);
  const shards: string[] = [];
  const weightMap: Record<string, string> = {};
  const issues: ReadIssue[] = [];
  const refused = new Set<string>();
  // Linear in the number of entries (indexes of 80,000 shards exist): each distinct shard name resolved
  // once (a Map), never a list search; entries that are not file names counted into one issue.
  const resolvedByName = new Map<string, string | null>();
  const shardSet = new Set<string>();
  const notNames: string[] = [];
  let notNameCount = 0;
  for (const [name, file] of Object.entries(map as Record<string, unknown>)) {
    if (typeof file !== 'string' || file === '') {
      if (notNames.length < 5) notNames.push(echo(name, 60));
      notNameCount++;
      continue;
    }
    let resolved = resolvedByName.get(file);
    if (resolved === undefined) {
      const norm = normalize(file);
      if (isAbsolute(file) || norm === '..' || norm.startsWith('..' + sep) || norm.startsWith('../')) {
        resolved = null;
        if (refused.size < 20)
          issues.push({ severity: 'error', path: indexPath, message: `shard '${echo(file)}' lies outside the index's folder; refused` });
        refused.add(file);
      } else {
        resolved = join(dir, norm);
        if (!shardSet.has(resolved)) {
          shardSet.add(resolved);
          shards.push(resolved);
        }
      }
      resolvedByName.set(file, resolved);
    }
    if (resolved !== null) weightMap[name] = resolved;
  }
  if (refused.size > 20) {
    issues.push({
      severity: 'error',
      path: indexPath,
      message: `… and ${refused.size - 20} more shards outside the index's folder; refused`,
    });
  }
  if (notNameCount > 0) {
    issues.push({
      severity: 'warning',
      path: indexPath,
      message: `${notNameCount} weight_map entries are not file names (${notNames.join(', ')}${notNameCount > 5 ? ', …' : ''}); ignored`,
    });
  }
  const meta = (json as Record<string, unknown>).metadata;
  return {
    shards,
    weightMap,
    metadata: meta && typeof meta === 'object' && !Array.isArray(meta) ? (meta as Record<string, unknown>) : null,
    issues,
  };
}

export const safetensorsReader: Reader = {
  format: SAFETENSORS_FORMAT,
  // By name: a .safetensors file whose first bytes are wrong is read, and the reader names the byte offset.
  detect(path: string): boolean {
    return /\.safetensors$/i.test(path);
  },
  read: readSafetensors,
};
