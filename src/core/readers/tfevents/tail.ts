// Live tail of a growing TensorBoard event file.

import type { RunData } from '../../run/types';
import type { ReadOptions } from '../reader';
import { GrowingFile, PartialStepHold } from '../../io/growingFile';
import { newStream, readStream, TFEVENTS_FORMAT } from './reader';

/**
 * Follows a growing event file: each `readNew()` returns the events appended since the previous call,
 * resuming at the end of the last complete record (a half-written record is picked up next time); the
 * offset, truncation and replacement are the shared growing-file mechanism (io/growingFile.ts). Tag
 * plugins and meanings are remembered across calls. A bad length CRC stops following until the file is
 * rewritten.
 *
 * `holdPartialStep` (a followed file, whose writer flushes wherever its buffer fills): a last step with fewer
 * values than the step before it waits for the next call, which reads its records again with the rest (`held`;
 * io/growingFile.ts PartialStepHold). Reading records again only re-learns what the decoder knows (tag
 * plugins, interned tags).
 */
export class TfeventsTail {
  private readonly file: GrowingFile;
  private readonly state = newStream();
  private stopped = false;
  private readonly hold = new PartialStepHold();

  constructor(readonly path: string) {
    this.file = new GrowingFile(path);
  }

  /** The last call left the records of its last step for the next one. */
  get held(): boolean {
    return this.hold.held;
  }

  /** File offset the next read starts at (end of the last complete record). */
  get position(): number {
    return this.file.position;
  }

  /** Events appended since the previous call. Calls are serialized (an overlapping call waits its turn). */
  readNew(options: ReadOptions & { holdPartialStep?: boolean } = {}): Promise<RunData> {
    return this.file.follow(async (w) => {
      this.hold.begin(w);
      if (w.restart !== null) this.stopped = false;
      const startRun = () => {
        const run = this.state.builder.startRun();
        run.inputs.push({ path: this.path, format: TFEVENTS_FORMAT });
        if (w.restart !== null) run.issues.push({ severity: 'warning', path: this.path, offset: 0, message: w.restart });
        return run;
      };
      const scan = async (end?: number) => {
        const run = startRun();
        const steps = this.hold.counter();
        this.state.builder.steps = steps;
        try {
          const { scan } = await readStream(this.path, this.state, w.start, {
            signal: options.signal,
            onProgress: options.onProgress,
            reportTruncated: false,
            // Never past the window (bytes appended since the poll wait for the next read; see JsonlTail).
            end: Math.min(end ?? w.size, w.size),
          });
          return { run, scan, steps };
        } finally {
          this.state.builder.steps = null;
        }
      };
      if (!w.exists || this.stopped || w.size === w.start) return { result: startRun(), end: w.start };
      const r = await scan();
      if (r.scan.fatal) this.stopped = true;
      const from = this.hold.holdFrom(r.steps, options.holdPartialStep === true && !r.scan.fatal);
      if (from !== null) return { result: from > w.start ? (await scan(from)).run : startRun(), end: from };
      return { result: r.run, end: r.scan.endOffset };
    });
  }
}
