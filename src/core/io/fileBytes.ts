import { closeSync, fstatSync, openSync, promises as fsp, readSync, statSync } from 'node:fs';
import { ReaderError } from '../errors';

// Small helpers for the binary readers: exact byte ranges (a short read is a ReaderError naming the
// offset), the file size, and a handle that is always closed. Nothing here reads a whole file; callers
// ask for bounded ranges. The API is async, the reads are synchronous positional reads (pread): the
// readers ask for many small ranges (headers, directories), where a thread-pool round trip per read
// costs ~100x the read itself. Heavy work runs in a worker thread, so the event loop is not the UI's.

/** Largest single range a reader may ask for in one call (protects against absurd length fields). */
export const MAX_RANGE_BYTES = 512 * 1024 * 1024;

/** Turn an fs error (ENOENT, EISDIR, EACCES, …) into a ReaderError naming the file. */
export function fsError(path: string, err: unknown): ReaderError {
  if (err instanceof ReaderError) return err;
  const e = err as NodeJS.ErrnoException;
  const what = e instanceof Error ? e.message : String(err);
  return new ReaderError(path, `cannot read file (${what})`);
}

/**
 * Open a regular file for streamed reading (the text readers and the TensorBoard reader): the handle and
 * its size, or a ReaderError naming the file. The caller closes the handle.
 */
export async function openForStreaming(path: string): Promise<{ handle: fsp.FileHandle; size: number }> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(path, 'r');
  } catch (err) {
    throw fsError(path, err);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new ReaderError(path, 'not a regular file');
    return { handle, size: st.size };
  } catch (err) {
    await handle.close().catch(() => undefined);
    throw fsError(path, err);
  }
}

/** An open file: exact reads by offset, size known. Close it (or use `withFile`). */
export class FileBytes {
  private constructor(
    readonly path: string,
    private fd: number | null,
    readonly size: number,
  ) {}

  static async open(path: string): Promise<FileBytes> {
    let fd: number | null = null;
    try {
      fd = openSync(path, 'r');
      const st = fstatSync(fd);
      if (!st.isFile()) throw new ReaderError(path, 'not a regular file');
      return new FileBytes(path, fd, st.size);
    } catch (err) {
      if (fd !== null) closeSync(fd);
      throw fsError(path, err);
    }
  }

  /** Exactly `length` bytes at `offset`; ReaderError (with the offset) if the file is shorter. */
  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this.path, offset, length, this.size);
    const buf = new Uint8Array(length);
    let done = 0;
    if (this.fd === null) throw new ReaderError(this.path, 'file already closed', { offset });
    try {
      while (done < length) {
        const bytesRead = readSync(this.fd, buf, done, length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
    } catch (err) {
      throw fsError(this.path, err);
    }
    if (done < length) {
      throw new ReaderError(this.path, `short read: wanted ${length} bytes, file ended after ${done}`, { offset: offset + done });
    }
    return buf;
  }

  /** Up to `length` bytes at `offset` (fewer at the end of the file; never past it). */
  async readUpTo(offset: number, length: number): Promise<Uint8Array> {
    if (offset >= this.size) return new Uint8Array(0);
    return this.read(offset, Math.min(length, this.size - offset));
  }

  async close(): Promise<void> {
    if (this.fd !== null) {
      const fd = this.fd;
      this.fd = null;
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    }
  }
}

function checkRange(path: string, offset: number, length: number, size: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new ReaderError(path, `invalid byte offset ${offset}`);
  }
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new ReaderError(path, `invalid byte length ${length}`, { offset });
  }
  if (length > MAX_RANGE_BYTES) {
    throw new ReaderError(path, `refusing to read ${length} bytes at once (limit ${MAX_RANGE_BYTES})`, { offset });
  }
  if (offset + length > size) {
    throw new ReaderError(path, `range of ${length} bytes runs past the end of the file (${size} bytes)`, { offset });
  }
}

/** Open, run `fn`, always close. */
export async function withFile<T>(path: string, fn: (file: FileBytes) => Promise<T>): Promise<T> {
  const file = await FileBytes.open(path);
  try {
    return await fn(file);
  } finally {
    await file.close();
  }
}

/** File size in bytes (ReaderError if missing or not a regular file). */
export async function fileSize(path: string): Promise<number> {
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new ReaderError(path, 'not a regular file');
    return st.size;
  } catch (err) {
    throw fsError(path, err);
  }
}

/** Exactly `length` bytes at `offset` of `path`. */
export async function readRange(path: string, offset: number, length: number): Promise<Uint8Array> {
  return withFile(path, (f) => f.read(offset, length));
}

/** The first `length` bytes (fewer if the file is shorter), e.g. for detection. */
export async function readHead(path: string, length = 64): Promise<Uint8Array> {
  return withFile(path, (f) => f.readUpTo(0, length));
}

/** Little-endian readers over a byte array, for header parsing. */
export function dataView(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** u64 little-endian as a JS number; values above 2^53 come back as Infinity (callers reject them). */
export function readU64(view: DataView, at: number): number {
  const lo = view.getUint32(at, true);
  const hi = view.getUint32(at + 4, true);
  if (hi >= 0x200000) return Infinity;
  return hi * 0x100000000 + lo;
}
