// The TensorBoard `Reader`: one event file, a run folder of them, or bytes in memory — framing
// (framing.ts) → events (events.ts) → run data (runData.ts), with the whole-file checks.

import { dirname, join, relative } from 'node:path';
import { promises as fsp } from 'node:fs';
import type { RunData } from '../../run/types';
import type { ReadOptions, Reader } from '../reader';
import { issueFromError, ReaderError } from '../../errors';
import { emptyRunData, MAX_SEEN_NAMES } from '../../run/types';
import { crc32c, maskCrc32c } from '../../io/crc32c';
import { fsError, openForStreaming } from '../../io/fileBytes';
import { walkFiles } from '../../io/walk';
import { ProtobufError } from '../protobuf';
import { memoryReader, scanRecords, type PositionalReader, type RecordSink, type ScanOptions, type ScanResult } from './framing';
import { EventDecoder } from './events';
import { RunDataBuilder } from './runData';
import { IssueLimiter } from '../../run/issueLimit';

export const TFEVENTS_FORMAT = 'tfevents';
const NAME_MARK = 'events.out.tfevents.';

export interface StreamState {
  decoder: EventDecoder;
  builder: RunDataBuilder;
}

export function newStream(): StreamState {
  const builder = new RunDataBuilder();
  return { builder, decoder: new EventDecoder(builder) };
}

export async function readStream(
  path: string,
  state: StreamState,
  startOffset: number,
  options: ScanOptions & { end?: number },
): Promise<{ scan: ScanResult; fileSize: number; malformed: number }> {
  const { handle: fh, size } = await openForStreaming(path);
  try {
    // `end`: stop there (a record boundary), as if the file ended (a live tail holding its last step back).
    return await scanStream(fh, options.end !== undefined ? Math.min(size, options.end) : size, path, state, startOffset, options);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** Scan records of a source into the stream's builder; malformed events become warnings. */
async function scanStream(
  source: PositionalReader,
  size: number,
  path: string,
  state: StreamState,
  startOffset: number,
  options: ScanOptions,
): Promise<{ scan: ScanResult; fileSize: number; malformed: number }> {
  // Bounded per kind (run/issueLimit.ts): a file of a million bad records gives a few issues and a count.
  const issues = new IssueLimiter(state.builder.run.issues);
  state.builder.issues = issues;
  const decoder = state.decoder;
  let malformed = 0;
  state.builder.path = path;
  const progress = state.builder.run.scalars.progress;
  const sink: RecordSink = (buf, start, end, offset) => {
    progress.fraction = end > start ? (offset + 16 + end - start) / size : 0;
    try {
      decoder.decode(buf, start, end, offset);
    } catch (err) {
      if (!(err instanceof ProtobufError)) throw err;
      malformed++;
      issues.push('malformed events (records skipped)', {
        severity: 'warning',
        path,
        offset,
        message: `malformed event in this record (${err.message} at payload byte ${err.at - start}): record skipped`,
      });
    }
  };
  let scan: ScanResult;
  try {
    scan = await scanRecords(source, path, Math.min(startOffset, size), size, sink, issues, options);
  } catch (err) {
    // fs errors (EIO, …) become ReaderErrors; an abort and anything else (a bug) propagate as they are.
    if (err && typeof err === 'object' && 'code' in err && typeof (err as NodeJS.ErrnoException).syscall === 'string') {
      throw fsError(path, err);
    }
    throw err;
  } finally {
    issues.finish();
  }
  return { scan, fileSize: size, malformed };
}

/** Read one event file into RunData. Throws ReaderError only when nothing at all is usable. */
export async function readTfeventsFile(path: string, options: ReadOptions & { chunkBytes?: number } = {}): Promise<RunData> {
  const state = newStream();
  const run = state.builder.startRun();
  run.inputs.push({ path, format: TFEVENTS_FORMAT });
  const r = await readStream(path, state, 0, {
    signal: options.signal,
    onProgress: options.onProgress,
    chunkBytes: options.chunkBytes,
  });
  return finishRun(path, state, r.scan, r.malformed);
}

/**
 * Read an event file that is already in memory (`path` only names it in messages). Same framing,
 * decoding and error reporting as readTfeventsFile.
 */
export async function readTfeventsBytes(
  bytes: Uint8Array,
  path: string,
  options: ReadOptions & { chunkBytes?: number; maxRecordBytes?: number } = {},
): Promise<RunData> {
  const state = newStream();
  const run = state.builder.startRun();
  run.inputs.push({ path, format: TFEVENTS_FORMAT });
  const r = await scanStream(memoryReader(bytes), bytes.length, path, state, 0, {
    signal: options.signal,
    onProgress: options.onProgress,
    chunkBytes: options.chunkBytes,
    maxRecordBytes: options.maxRecordBytes,
  });
  return finishRun(path, state, r.scan, r.malformed);
}

/** Whole-file checks after a scan: nothing usable → ReaderError; an empty file → a warning. */
function finishRun(path: string, state: StreamState, scan: ScanResult, malformed: number): RunData {
  const run = state.builder.run;
  if (scan.records - malformed <= 0) {
    const first = run.issues.find((i) => i.severity === 'error') ?? run.issues[0];
    if (first && (scan.fatal || scan.skipped > 0 || malformed > 0)) {
      throw new ReaderError(path, `no readable event records: ${first.message}`, { offset: first.offset });
    }
    if (scan.endOffset === 0 && scan.truncatedAt === null && run.issues.length === 0) {
      run.issues.push({ severity: 'warning', path, offset: 0, message: 'empty event file (no records yet)' });
    }
  }
  run.seen = [{ path, format: TFEVENTS_FORMAT, read: state.builder.tagsRead(MAX_SEEN_NAMES) }];
  const fv = state.decoder.fileVersion;
  if (fv !== null && !fv.startsWith('brain.Event:')) {
    run.issues.push({ severity: 'warning', path, offset: 0, message: `unexpected file_version "${fv.slice(0, 40)}"` });
  }
  return run;
}

/** All `events.out.tfevents.*` files under `dir` (8 folder levels deep), sorted by path. */
export function findEventFiles(dir: string): string[] {
  return walkFiles(dir, { maxDepth: 8, strictRoot: true, include: (_p, name) => name.includes(NAME_MARK) }).files;
}

/**
 * Read a run folder: its event files, in name order, merged into one RunData (TensorBoard writes a new
 * file per restart; their steps continue). Sub-folders are separate runs to TensorBoard (`add_scalars`,
 * one folder per experiment), so they are read only when the folder itself holds no event file — then
 * all of them are merged, with a warning naming them. A file that is unreadable as a whole becomes an
 * error issue; the folder throws only when no file gave anything.
 */
export async function readTfeventsFolder(dir: string, options: ReadOptions = {}): Promise<RunData> {
  const all = findEventFiles(dir);
  if (all.length === 0) throw new ReaderError(dir, `no ${NAME_MARK}* files in this folder`);
  const own = all.filter((f) => dirname(f) === join(dir));
  const files = own.length > 0 ? own : all;
  const merged = emptyRunData();
  const folders = [...new Set(files.map((f) => dirname(f)))];
  if (folders.length > 1) {
    merged.issues.push({
      severity: 'warning',
      path: dir,
      message: `merged the event files of ${folders.length} sub-folders (${folders
        .slice(0, 5)
        .map((f) => relative(dir, f))
        .join(', ')}${folders.length > 5 ? ', …' : ''}); TensorBoard shows each as a separate run: open one of them to see it alone`,
    });
  }
  const layers = new Set<string>();
  let usable = 0;
  for (let i = 0; i < files.length; i++) {
    const f = files[i]!;
    let r: RunData;
    try {
      r = await readTfeventsFile(f, {
        signal: options.signal,
        onProgress: options.onProgress ? (x) => options.onProgress!((i + x) / files.length) : undefined,
      });
    } catch (err) {
      if (!(err instanceof ReaderError)) throw err;
      merged.inputs.push({ path: f, format: TFEVENTS_FORMAT });
      merged.issues.push(issueFromError(err));
      continue;
    }
    usable++;
    merged.inputs.push(...r.inputs);
    for (const l of r.layerOrder) {
      if (!layers.has(l)) {
        layers.add(l);
        merged.layerOrder.push(l);
      }
    }
    merged.scalars.append(r.scalars);
    for (const h of r.histograms) merged.histograms.push(h);
    for (const n of r.nonFinite) merged.nonFinite.push(n);
    for (const x of r.issues) merged.issues.push(x);
    if (r.seen) (merged.seen ??= []).push(...r.seen);
  }
  if (usable === 0) throw new ReaderError(dir, `no readable event file: ${merged.issues[0]?.message ?? ''}`);
  return merged;
}

export function isTfeventsName(path: string): boolean {
  const base = path.split(/[\\/]/).pop() ?? path;
  return base.includes(NAME_MARK);
}

/** The `Reader` for TensorBoard event files and folders of them. */
export const tfeventsReader: Reader = {
  format: TFEVENTS_FORMAT,
  detect(path: string, head: Uint8Array): boolean {
    if (!isTfeventsName(path)) return false;
    // A file shorter than one record header may still be being written: the name decides. Otherwise
    // the first record's length CRC must match (cheap and makes a mis-named file fail early).
    if (head.length < 12) return true;
    return maskCrc32c(crc32c(head, 0, 8)) === (head[8]! | (head[9]! << 8) | (head[10]! << 16) | (head[11]! << 24)) >>> 0;
  },
  async read(path: string, options?: ReadOptions): Promise<RunData> {
    let isDir = false;
    try {
      isDir = (await fsp.stat(path)).isDirectory();
    } catch (err) {
      throw fsError(path, err);
    }
    return isDir ? readTfeventsFolder(path, options) : readTfeventsFile(path, options);
  },
};
