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
