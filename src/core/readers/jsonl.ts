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
import { GrowingFile, type GrowthWindow } from '../io/growingFile';
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
 * `holdPartialStep` (a followed log): a step is written as many lines (one per tensor), and a read can end
 * between them — a writer's buffered flush, or a read racing an append. When the last step read has fewer
 * lines than the step before it, its lines are left for the next call (`held`), which reads them again with
 * the rest: what is returned is whole steps, so appending it extends what was shown (a partial step had made
 * the follower analyze the whole run again, seconds on a 291-tensor log). A step is held only while the file
 * grows: a call that finds no byte appended since the previous one returns it as it is.
 */
export class JsonlTail {
  private readonly file: GrowingFile;
  private nextLine = 1;
  /** Lines of the last step returned whole (what a partial last step is measured against). */
  private stepLines: number | null = null;
  /** The file's size at the previous call. */
  private lastSize = -1;
  /** The last call left the lines of its last step for the next one. */
  held = false;

  constructor(readonly path: string) {
    this.file = new GrowingFile(path);
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
      const grew = w.size !== this.lastSize;
      this.lastSize = w.size;
      this.held = false;
      if (w.restart !== null) {
        this.nextLine = 1;
        this.stepLines = null;
      }
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
      const { last, before } = r.steps;
      // A read cut short by maxBytes ends mid-step as a matter of course: the next read goes on from there, and
      // the reads are merged (holding would parse the step's bytes twice per read of a large log).
      const cutShort = step !== undefined && w.start + step < w.size;
      const partial = options.holdPartialStep === true && grew && !cutShort && last !== null && before !== null && last.lines < before;
      if (partial) {
        const kept = last.start > w.start ? await read(last.start) : { ...(await read(w.start)), lines: 0 };
        this.nextLine += kept.lines;
        this.stepLines = before;
        this.held = true;
        return { result: kept.data, end: last.start };
      }
      this.nextLine += r.lines;
      if (last !== null) this.stepLines = last.lines;
      return { result: r.data, end: r.end };
    });
  }

  /** The complete lines of [w.start, end) into a new sink, with the lines of each step counted. */
  private async scan(w: GrowthWindow, end: number | undefined, options: ReadOptions) {
    const sink = new ScalarRecordSink(this.path, JSONL_FORMAT);
    if (w.restart !== null) sink.issue('restart', 'warning', w.restart);
    const steps = new StepLines(sink, w.start, this.stepLines);
    if (end === w.start) return { data: sink.finish(), end: w.start, lines: 0, steps };
    const onLine = lineHandler(sink);
    const scan = await scanLineBytes(
      this.path,
      {
        start: w.start,
        end,
        firstLine: this.nextLine,
        includeLastPartial: false,
        signal: options.signal,
        onTooLong: tooLong(sink),
      },
      (b, start, stop, line, endOffset) => {
        sink.recordStep = null;
        onLine(b, start, stop, line);
        steps.line(endOffset);
      },
    );
    return { data: sink.finish(), end: scan.end, lines: scan.lines, steps };
  }
}

/** The lines of each step as a tail reads them: where the last step's lines begin, how many lines the step before had. */
class StepLines {
  /** The last step read: its first line's byte offset and its line count. */
  last: { step: number; start: number; lines: number } | null = null;
  /** Lines of the step before the last (carried over from the previous read until this one has one). */
  before: number | null;
  private lineStart: number;

  constructor(
    private readonly sink: ScalarRecordSink,
    start: number,
    before: number | null,
  ) {
    this.lineStart = start;
    this.before = before;
  }

  /** A line ended at byte `end` (the sink took it: its step, if it states one, is the sink's recordStep). */
  line(end: number): void {
    const step = this.sink.recordStep;
    if (step !== null) {
      if (this.last !== null && this.last.step === step) this.last.lines++;
      else {
        if (this.last !== null) this.before = this.last.lines;
        this.last = { step, start: this.lineStart, lines: 1 };
      }
    }
    this.lineStart = end;
  }
}
