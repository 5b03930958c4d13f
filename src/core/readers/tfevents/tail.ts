// Live tail of a growing TensorBoard event file.

import type { RunData } from '../../run/types';
import type { ReadOptions } from '../reader';
import { GrowingFile } from '../../io/growingFile';
import { newStream, readStream, TFEVENTS_FORMAT } from './reader';

/**
 * Follows a growing event file: each `readNew()` returns the events appended since the previous call,
 * resuming at the end of the last complete record (a half-written record is picked up next time); the
 * offset, truncation and replacement are the shared growing-file mechanism (io/growingFile.ts). Tag
 * plugins and meanings are remembered across calls. A bad length CRC stops following until the file is
 * rewritten.
 */
export class TfeventsTail {
  private readonly file: GrowingFile;
  private readonly state = newStream();
  private stopped = false;

  constructor(readonly path: string) {
    this.file = new GrowingFile(path);
  }

  /** File offset the next read starts at (end of the last complete record). */
  get position(): number {
    return this.file.position;
  }

  /** Events appended since the previous call. Calls are serialized (an overlapping call waits its turn). */
  readNew(options: ReadOptions = {}): Promise<RunData> {
    return this.file.follow(async (w) => {
      const run = this.state.builder.startRun();
      run.inputs.push({ path: this.path, format: TFEVENTS_FORMAT });
      if (w.restart !== null) {
        run.issues.push({ severity: 'warning', path: this.path, offset: 0, message: w.restart });
        this.stopped = false;
      }
      if (!w.exists || this.stopped || w.size === w.start) return { result: run, end: w.start };
      const { scan } = await readStream(this.path, this.state, w.start, {
        signal: options.signal,
        onProgress: options.onProgress,
        reportTruncated: false,
      });
      if (scan.fatal) this.stopped = true;
      return { result: run, end: scan.endOffset };
    });
  }
}
