// JSON Lines scalar logs: one JSON object per line, streamed (never read whole).
//   long form     {"step": 1, "layer": "embed.weight", "param_rms": …, "shape": [40, 32], "numel": 1280}
//   per-step form {"step": 1, "loss": …, "lr": …, "grad_norm_total": …}
//   wide form     {"_step": 1, "param_rms/embed.weight": …, "train/loss": …}
// Python's bare NaN / Infinity / -Infinity tokens are accepted and reported as non-finite values.
// A malformed line is a ReadIssue with its 1-based line number; reading continues.
// W&B's system-metrics stream (wandb-events.jsonl: `system.*` keys, `_runtime`, `_timestamp`, no step) is
// recognised and reported as what it is, not read as a series; wandb-history.jsonl is read with `_step`.

import type { ReadOptions, Reader } from './reader';
import type { RunData } from '../run/types';
import { ReaderError } from '../errors';
import { STEP_KEYS } from '../run/scalarTags';
import { GrowingFile, PartialStepHold, type GrowthWindow } from '../io/growingFile';
import { MAX_LINE_BYTES, parseJsonTolerant, ScalarRecordSink, scanLineBytes } from './scalarRecords';
import { FlatJsonParser } from './flatJson';

export const JSONL_FORMAT = 'jsonl';

/** A wandb-events.jsonl record: system metrics (GPU, CPU, memory, network) over wall time, no step. */
function isWandbSystemRecord(record: unknown): boolean {
  if (record === null || typeof record !== 'object' || Array.isArray(record)) return false;
  let system = 0;
  for (const k of Object.keys(record)) {
    if (k.startsWith('system.')) system++;
    else if (k !== '_runtime' && k !== '_timestamp' && k !== '_wandb') return false;
  }
  return system > 0;
}

interface LineCounts {
  system: number;
}

/**
 * A line handler: the flat-object parser on the bytes (the common case: no decoding of the line), else
 * JSON.parse on the decoded text, which also gives the error message.
 */
function lineHandler(sink: ScalarRecordSink, counts?: LineCounts): (b: Buffer, start: number, end: number, line: number) => void {
  const flat = new FlatJsonParser();
  const take = (record: unknown, line: number): void => {
    if (counts && isWandbSystemRecord(record)) {
      counts.system++;
      return;
    }
    sink.addJsonRecord(record, line, STEP_KEYS);
  };
  let fields = 0;
  const asObject = (): Record<string, unknown> => flat.object(fields);
  return (b, start, end, line) => {
    fields = flat.parseFields(b, start, end);
    if (fields >= 0) {
      // A long-form line (a step and a layer: never a W&B system record) from the keys and values as they
      // are; other flat lines as the object.
      if (sink.addFlatRecord(flat.keys, flat.values, fields, line, STEP_KEYS, asObject) === null) take(asObject(), line);
      return;
    }
    let text = b.toString('utf8', start, end);
    if (line === 1) text = text.replace(/^\uFEFF/, '');
    text = text.trim();
    if (text === '') return;
    let record: unknown;
    try {
      record = parseJsonTolerant(text);
    } catch (err) {
      sink.issue('parse', 'error', `line ${line}: invalid JSON (${(err as Error).message}); line skipped`, line);
      return;
    }
    take(record, line);
  };
}

function tooLong(sink: ScalarRecordSink) {
  return (line: number, bytes: number) =>
    sink.issue('too-long', 'error', `line ${line}: ${bytes} bytes, longer than the ${MAX_LINE_BYTES}-byte limit; line skipped`, line);
}

/** Read a whole JSONL file. Throws ReaderError when it cannot be opened or holds no usable record. */
export async function readJsonl(path: string, options: ReadOptions = {}): Promise<RunData> {
  const sink = new ScalarRecordSink(path, JSONL_FORMAT);
  const counts: LineCounts = { system: 0 };
  const scan = await scanLineBytes(
    path,
    {
      includeLastPartial: true,
      signal: options.signal,
      onProgress: options.onProgress,
      onTooLong: tooLong(sink),
      progress: sink.data.scalars.progress,
    },
    lineHandler(sink, counts),
  );
  const data = sink.finish();
  if (sink.usableRecords === 0 && counts.system > 0) {
    data.seen = [
      {
        path,
        format: JSONL_FORMAT,
        kind: 'wandb-system-metrics',
        read: [],
        note: `W&B system metrics (${counts.system} record${counts.system === 1 ? '' : 's'} of GPU/CPU/memory use over wall time), not a training series; the run's metrics are in wandb-history.jsonl or run.history()`,
      },
    ];
    return data;
  }
  // A log whose every value is NaN/inf (a run that diverged from the start) is a result, not an error: its
  // non-finite observations say so.
  if (sink.usableRecords === 0 && data.nonFinite.length === 0) {
    const first = data.issues.find((i) => i.severity === 'error') ?? data.issues[0];
    const why =
      scan.lines === 0
        ? 'empty file'
        : first
          ? `no usable record (first problem: ${first.message})`
          : 'no step/figure fields in any record';
    throw new ReaderError(path, why, first?.line !== undefined ? { line: first.line } : {});
  }
  return data;
}

export const jsonlReader: Reader = {
  format: JSONL_FORMAT,
  detect(path: string, head: Uint8Array): boolean {
    if (/\.(jsonl|ndjson|jsonlines)$/i.test(path)) return true;
    // stats.log / metrics.txt written as JSON lines: first non-space byte is '{' and the name says log/txt.
    if (/\.(log|txt)$/i.test(path)) {
      for (const b of head) {
        if (b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d) continue;
        return b === 0x7b;
      }
    }
    return false;
  },
  read: readJsonl,
};

/**
 * Live tail of a growing JSONL file: each `readNew()` returns only the complete lines appended since the
 * previous call (a last line without its newline waits for the next call). The offset, truncation and
 * replacement are the shared growing-file mechanism (io/growingFile.ts): a file that shrank or was replaced
 * is read again from the start, and `issues` say so.
 *
 * `holdPartialStep` (a followed log): a last step with fewer lines than the step before it waits for the next
 * call, which reads its lines again with the rest (`held`; io/growingFile.ts PartialStepHold says why and when).
 */
export class JsonlTail {
  private readonly file: GrowingFile;
  private nextLine = 1;
  private readonly hold = new PartialStepHold();

  constructor(readonly path: string) {
    this.file = new GrowingFile(path);
  }

  /** The last call left the lines of its last step for the next one. */
  get held(): boolean {
    return this.hold.held;
  }

  /** Byte offset just past the last complete line consumed so far. */
  get position(): number {
    return this.file.position;
  }

  /**
   * `maxBytes` bounds one call (complete lines up to that many bytes past the position; the rest waits for
   * the next call), so a large file can be read in steps and analyzed as it arrives.
   */
  readNew(options: ReadOptions & { maxBytes?: number; holdPartialStep?: boolean } = {}): Promise<RunData> {
    return this.file.follow(async (w) => {
      this.hold.begin(w);
      if (w.restart !== null) this.nextLine = 1;
      const read = (end: number | undefined) => this.scan(w, end, options);
      if (!w.exists || w.size === w.start) return { result: (await read(w.start)).data, end: w.start };
      // A line longer than the step: widen the step until it holds the line (a pass without one reads nothing).
      let step = options.maxBytes;
      let r;
      for (;;) {
        r = await read(step !== undefined ? w.start + step : undefined);
        if (step === undefined || r.end > w.start || w.start + step >= w.size) break;
        step *= 2;
      }
      // A read cut short by maxBytes ends mid-step as a matter of course: the next read goes on from there, and
      // the reads are merged (holding would parse the step's bytes twice per read of a large log).
      const cutShort = step !== undefined && w.start + step < w.size;
      const from = this.hold.holdFrom(r.steps, options.holdPartialStep === true && !cutShort);
      if (from !== null) {
        const kept = await read(from);
        this.nextLine += kept.lines;
        return { result: kept.data, end: from };
      }
      this.nextLine += r.lines;
      return { result: r.data, end: r.end };
    });
  }

  /** The complete lines of [w.start, end) into a new sink, with the lines of each step counted. */
  private async scan(w: GrowthWindow, end: number | undefined, options: ReadOptions) {
    const sink = new ScalarRecordSink(this.path, JSONL_FORMAT);
    if (w.restart !== null) sink.issue('restart', 'warning', w.restart);
    const steps = this.hold.counter();
    if (end === w.start) return { data: sink.finish(), end: w.start, lines: 0, steps };
    const onLine = lineHandler(sink);
    let lineStart = w.start;
    const scan = await scanLineBytes(
      this.path,
      {
        start: w.start,
        // Never past the window: a scan that read bytes appended since the poll would end past w.size, where
        // the file's offset is clamped (mid-line: the next read began with half a line and read lines again).
        end: Math.min(end ?? w.size, w.size),
        firstLine: this.nextLine,
        includeLastPartial: false,
        signal: options.signal,
        onTooLong: tooLong(sink),
      },
      (b, start, stop, line, endOffset) => {
        sink.recordStep = null;
        onLine(b, start, stop, line);
        if (sink.recordStep !== null) steps.record(sink.recordStep, lineStart);
        lineStart = endOffset;
      },
    );
    return { data: sink.finish(), end: scan.end, lines: scan.lines, steps };
  }
}
