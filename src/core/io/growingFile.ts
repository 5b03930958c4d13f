// A file that grows while it is read (a training log, a TensorBoard event file): the one mechanism both
// live tails use. It remembers how far the complete records went (the offset), hands out the range of
// bytes appended since, and notices when the file is no longer the one it was reading — shrunk
// (truncated, rewritten in place) or replaced (a new inode: rotated, rewritten by rename) — and then starts
// over from byte 0. A half-written last record stays after the offset and is read on the next call. Calls
// are serialized: an overlapping poll waits for the previous one to finish.

import { promises as fsp } from 'node:fs';
import { fsError } from './fileBytes';

/** What a poll found: the bytes to read, [start, size), and why reading starts over (null when it doesn't). */
export interface GrowthWindow {
  start: number;
  size: number;
  /** Set when the file shrank or was replaced: reading restarts at 0 and the reader says so. */
  restart: string | null;
  /** False when the file does not exist (yet): nothing to read. */
  exists: boolean;
}

export class GrowingFile {
  private offset = 0;
  private ino: number | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly path: string) {}

  /** Byte offset just past the last complete record consumed. */
  get position(): number {
    return this.offset;
  }

  /**
   * Run `read` on the window of bytes appended since the last call; it returns the offset just past its last
   * complete record (where the next call starts). Calls are serialized.
   */
  follow<T>(read: (window: GrowthWindow) => Promise<{ result: T; end: number }>): Promise<T> {
    const next = this.queue.then(async () => {
      const window = await this.poll();
      const { result, end } = await read(window);
      this.offset = Math.max(window.start, Math.min(end, window.size));
      return result;
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async poll(): Promise<GrowthWindow> {
    let size: number;
    let ino: number;
    try {
      const st = await fsp.stat(this.path);
      size = st.size;
      ino = st.ino;
    } catch (err) {
      if ((err as NodeJS.ErrnoException)?.code === 'ENOENT') return { start: this.offset, size: this.offset, restart: null, exists: false };
      throw fsError(this.path, err);
    }
    let restart: string | null = null;
    if (this.ino !== null && ino !== this.ino && this.offset > 0)
      restart = 'the file was replaced by another one: reading it again from the start';
    else if (size < this.offset) restart = `the file shrank from ${this.offset} to ${size} bytes: reading it again from the start`;
    if (restart !== null) this.offset = 0;
    this.ino = ino;
    return { start: this.offset, size, restart, exists: true };
  }
}

/**
 * A tail's records counted by step as they are read (records in file order): where the last step's records
 * begin, and how many records the step before it had.
 */
export class StepCounter {
  last: { step: number; start: number; records: number } | null = null;

  constructor(
    /** Records of the step before the last (carried over from the previous read until this one has one). */
    public before: number | null,
  ) {}

  /** A record of `step` that begins at byte `start`. */
  record(step: number, start: number): void {
    if (this.last !== null && this.last.step === step) this.last.records++;
    else {
      if (this.last !== null) this.before = this.last.records;
      this.last = { step, start, records: 1 };
    }
  }
}

/**
 * Holding a followed log's partial last step (both live tails, `holdPartialStep`): a step is written as many
 * records (a JSONL line or a TensorBoard value per tensor), and a read can end between them — a writer's
 * buffered flush, or a read racing an append. When the last step read has fewer records than the step before
 * it, its records are left for the next read, which reads them again with the rest: a tail returns whole
 * steps, so appending them extends what was shown (a partial step had made the follower analyze the whole run
 * again). A step is held only while the file grows: a read that finds no byte appended since the previous one
 * returns it as it is.
 */
export class PartialStepHold {
  /** The last read left the records of its last step for the next one. */
  held = false;
  /** Records of the last step returned whole (what a partial last step is measured against). */
  private records: number | null = null;
  private lastSize = -1;
  private grew = false;

  /** A read of `w` begins. */
  begin(w: GrowthWindow): void {
    this.grew = w.size !== this.lastSize;
    this.lastSize = w.size;
    this.held = false;
    if (w.restart !== null) this.records = null;
  }

  /** A counter for a scan of the read. */
  counter(): StepCounter {
    return new StepCounter(this.records);
  }

  /**
   * After the read's scan counted by `c`: the offset its last step begins at when that step is held (the read
   * returns only what comes before it), else null. `allowed`: the caller holds at all (the option is set, the
   * read reached the end of the file and is usable).
   */
  holdFrom(c: StepCounter, allowed: boolean): number | null {
    const { last, before } = c;
    if (allowed && this.grew && last !== null && before !== null && last.records < before) {
      this.records = before;
      this.held = true;
      return last.start;
    }
    if (last !== null) this.records = last.records;
    return null;
  }
}
