// Live tail of a growing TensorBoard event file.

import type { RunData } from '../../run/types';
import type { ReadOptions } from '../reader';
import { GrowingFile } from '../../io/growingFile';
import { newStream, readStream, TFEVENTS_FORMAT } from './reader';
import { StepValues } from './runData';

/**
 * Follows a growing event file: each `readNew()` returns the events appended since the previous call,
 * resuming at the end of the last complete record (a half-written record is picked up next time); the
 * offset, truncation and replacement are the shared growing-file mechanism (io/growingFile.ts). Tag
 * plugins and meanings are remembered across calls. A bad length CRC stops following until the file is
 * rewritten.
 *
 * `holdPartialStep` (a followed file): a writer flushes its buffer wherever it fills, between two values of a
 * step. When the last step read has fewer values than the step before it, its records are left for the next
 * call (`held`), which reads them again with the rest, as JsonlTail does; a call that finds no byte appended
 * since the previous one returns the step as it is. Reading records again only re-learns what the decoder
 * knows (tag plugins, interned tags).
 */
export class TfeventsTail {
  private readonly file: GrowingFile;
  private readonly state = newStream();
  private stopped = false;
  /** Values of the last step returned whole. */
  private stepValues: number | null = null;
  private lastSize = -1;
  /** The last call left the records of its last step for the next one. */
  held = false;

  constructor(readonly path: string) {
    this.file = new GrowingFile(path);
  }

  /** File offset the next read starts at (end of the last complete record). */
  get position(): number {
    return this.file.position;
  }

  /** Events appended since the previous call. Calls are serialized (an overlapping call waits its turn). */
  readNew(options: ReadOptions & { holdPartialStep?: boolean } = {}): Promise<RunData> {
    return this.file.follow(async (w) => {
      const grew = w.size !== this.lastSize;
      this.lastSize = w.size;
      this.held = false;
      if (w.restart !== null) {
        this.stopped = false;
        this.stepValues = null;
      }
      const startRun = () => {
        const run = this.state.builder.startRun();
        run.inputs.push({ path: this.path, format: TFEVENTS_FORMAT });
        if (w.restart !== null) run.issues.push({ severity: 'warning', path: this.path, offset: 0, message: w.restart });
        return run;
      };
      const scan = async (end?: number) => {
        const run = startRun();
        const steps = new StepValues(this.stepValues);
        this.state.builder.steps = steps;
        try {
          const { scan } = await readStream(this.path, this.state, w.start, {
            signal: options.signal,
            onProgress: options.onProgress,
            reportTruncated: false,
            end,
          });
          return { run, scan, steps };
        } finally {
          this.state.builder.steps = null;
        }
      };
      if (!w.exists || this.stopped || w.size === w.start) return { result: startRun(), end: w.start };
      const r = await scan();
      if (r.scan.fatal) this.stopped = true;
      const { last, before } = r.steps;
      if (options.holdPartialStep === true && grew && !r.scan.fatal && last !== null && before !== null && last.values < before) {
        const kept = last.start > w.start ? (await scan(last.start)).run : startRun();
        this.stepValues = before;
        this.held = true;
        return { result: kept, end: last.start };
      }
      if (last !== null) this.stepValues = last.values;
      return { result: r.run, end: r.scan.endOffset };
    });
  }
}
