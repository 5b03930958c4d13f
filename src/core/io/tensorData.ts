import { closeSync, fstatSync, openSync, readSync, createReadStream } from 'node:fs';
import { createInflateRaw, inflateRawSync } from 'node:zlib';
import { ReaderError, echo } from '../errors';
import type { Dtype, TensorBytes } from './tensorBytes';

// Streams a tensor's elements as float chunks, reading the file by offset with one reused buffer:
// peak memory is one chunk per open tensor whatever the tensor's size. F16 and BF16 are widened to
// float32 through 65,536-entry tables (exact); U8 (8-bit codes) to float32 (exact); F32 and F64 are returned as
// views, no conversion.

export type FloatChunk = Float32Array | Float64Array;

/**
 * A deflate stream whose declared decompressed size is at most this is inflated in one synchronous call
 * (most npz arrays); anything larger is streamed in 1 MiB chunks. Bounded by the output, not the input:
 * 240 KB of deflate can be 240 MB of zeros.
 */
export const INFLATE_WHOLE_MAX = 1 << 20;

export const DTYPE_BYTES: Record<Dtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, U8: 1 };

let f16Table: Float32Array | undefined;
let bf16Table: Float32Array | undefined;

function halfTable(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) {
      const sign = h & 0x8000 ? -1 : 1;
      const exp = (h >> 10) & 0x1f;
      const frac = h & 0x3ff;
      let v: number;
      if (exp === 0) v = frac * 2 ** -24;
      else if (exp === 31) v = frac ? NaN : Infinity;
      else v = (1 + frac / 1024) * 2 ** (exp - 15);
      f16Table[h] = sign * v;
    }
  }
  return f16Table;
}

function bfloat16Table(): Float32Array {
  if (!bf16Table) {
    bf16Table = new Float32Array(65536);
    const u32 = new Uint32Array(bf16Table.buffer);
    for (let h = 0; h < 65536; h++) u32[h] = h << 16;
  }
  return bf16Table;
}

/** Refuse layouts the streaming kernel cannot walk in order. */
function checkContiguous(ref: TensorBytes): void {
  if (!ref.strides) return;
  let expected = 1;
  for (let d = ref.shape.length - 1; d >= 0; d--) {
    if (ref.shape[d] !== 1 && ref.strides[d] !== expected) {
      throw new ReaderError(
        ref.source.path,
        `tensor '${echo(ref.key)}' is not contiguous (shape [${ref.shape}], strides [${ref.strides}]); save it with .contiguous() first`,
        { offset: ref.source.offset },
      );
    }
    expected *= ref.shape[d];
  }
}

/**
 * Sequential reader of one tensor's elements. `next()` returns the next chunk (at most `chunkElements`
 * elements) as floats, or null at the end. The returned array is a view over a reused buffer: it is valid
 * until the next call.
 */
export class TensorChunkReader {
  readonly ref: TensorBytes;
  private readonly itemSize: number;
  private readonly chunkElements: number;
  private position = 0; // elements delivered
  private fd: number | null = null;
  private readonly raw: Uint8Array;
  private readonly widened: Float32Array | null;
  private inflater: AsyncIterator<Buffer> | null = null;
  private inflated: Buffer = Buffer.alloc(0);
  private skipLeft = 0;

  /**
   * `into`: where to read the bytes (e.g. a region of a WebAssembly memory, so a kernel reads them without a copy);
   * it must hold a chunk and be aligned to the element size. Default: a buffer of the reader's own.
   */
  constructor(ref: TensorBytes, chunkElements = 1 << 18, into?: Uint8Array) {
    checkContiguous(ref);
    this.ref = ref;
    this.itemSize = DTYPE_BYTES[ref.dtype];
    if (!this.itemSize) throw new ReaderError(ref.source.path, `unsupported dtype ${ref.dtype} for tensor '${echo(ref.key)}'`);
    this.chunkElements = Math.max(1, Math.min(chunkElements, ref.numel || 1));
    const bytes = this.chunkElements * this.itemSize;
    // An ArrayBuffer of our own keeps typed-array views aligned.
    this.raw =
      into && into.byteLength >= bytes && into.byteOffset % 8 === 0 ? into.subarray(0, bytes) : new Uint8Array(new ArrayBuffer(bytes));
    this.widened = this.itemSize < 4 ? new Float32Array(this.chunkElements) : null;
    const byteLength = ref.numel * this.itemSize;
    if (ref.source.compression === 'none') {
      const start = ref.source.offset + (ref.elementOffset ?? 0) * this.itemSize;
      const fd = this.open();
      const size = fstatSync(fd).size;
      if (start < 0 || start + byteLength > size) {
        this.close();
        throw new ReaderError(
          ref.source.path,
          `tensor '${echo(ref.key)}' needs bytes ${start}..${start + byteLength} but the file has ${size}`,
          {
            offset: start,
          },
        );
      }
    } else {
      this.skipLeft = ref.source.skipInflated ?? 0;
    }
  }

  private open(): number {
    if (this.fd === null) {
      try {
        this.fd = openSync(this.ref.source.path, 'r');
      } catch (e) {
        throw new ReaderError(this.ref.source.path, `cannot open: ${(e as Error).message}`);
      }
    }
    return this.fd;
  }

  get remaining(): number {
    return this.ref.numel - this.position;
  }

  /** The elements are read by offset (not inflated): `nextSync()` reads them without a promise per chunk. */
  get stored(): boolean {
    return this.ref.source.compression === 'none';
  }

  async next(): Promise<FloatChunk | null> {
    if (this.stored) return this.nextSync();
    const n = Math.min(this.chunkElements, this.ref.numel - this.position);
    if (n <= 0) {
      this.close();
      return null;
    }
    await this.readInflated(n * this.itemSize);
    this.position += n;
    return this.view(n);
  }

  /** Continue from element `element` (a stored tensor; the pool splits a large layer into element ranges). */
  seek(element: number): void {
    if (!this.stored) throw new Error(`tensor '${this.ref.key}' is compressed: it is read from the start`);
    this.position = Math.max(0, Math.min(element, this.ref.numel));
  }

  /** `next()` for a stored tensor (see `stored`), synchronously. */
  nextSync(): FloatChunk | null {
    if (!this.stored) throw new Error(`tensor '${this.ref.key}' is compressed: read it with next()`);
    const n = Math.min(this.chunkElements, this.ref.numel - this.position);
    if (n <= 0) {
      this.close();
      return null;
    }
    this.readStored(n * this.itemSize);
    this.position += n;
    return this.view(n);
  }

  private readStored(bytes: number): void {
    const fd = this.open();
    const start = this.ref.source.offset + ((this.ref.elementOffset ?? 0) + this.position) * this.itemSize;
    let got = 0;
    while (got < bytes) {
      const r = readSync(fd, this.raw, got, bytes - got, start + got);
      if (r <= 0) {
        throw new ReaderError(this.ref.source.path, `unexpected end of file in tensor '${echo(this.ref.key)}'`, {
          offset: start + got,
        });
      }
      got += r;
    }
  }

  private async readInflated(bytes: number): Promise<void> {
    const src = this.ref.source;
    const want = (src.skipInflated ?? 0) + this.ref.numel * this.itemSize;
    const declared = src.inflatedLength;
    if (declared !== undefined && want > declared) {
      throw new ReaderError(src.path, `tensor '${echo(this.ref.key)}' needs ${want} inflated bytes, the stream declares ${declared}`, {
        offset: src.offset,
      });
    }
    const whole = declared ?? want;
    if (!this.inflater && this.position === 0 && this.inflated.length === 0 && whole <= INFLATE_WHOLE_MAX) {
      // Small members (most npz arrays): one synchronous inflate of at most INFLATE_WHOLE_MAX bytes.
      const compressed = new Uint8Array(src.storedLength);
      const fd = this.open();
      if (readSync(fd, compressed, 0, src.storedLength, src.offset) !== src.storedLength) {
        throw new ReaderError(src.path, `unexpected end of file in the deflate stream of '${echo(this.ref.key)}'`, { offset: src.offset });
      }
      try {
        this.inflated = inflateRawSync(compressed, { maxOutputLength: Math.max(1, whole), finishFlush: 2 /* Z_SYNC_FLUSH */ });
      } catch (e) {
        const tooLarge = (e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
        throw new ReaderError(
          src.path,
          tooLarge
            ? `the deflate stream of '${echo(this.ref.key)}' inflates to more than the ${whole} bytes it declares`
            : `corrupt deflate stream in '${echo(this.ref.key)}': ${(e as Error).message}`,
          { offset: src.offset },
        );
      }
      this.inflater = (async function* () {})();
    }
    if (!this.inflater) {
      if (src.storedLength <= 0)
        throw new ReaderError(src.path, `empty deflate stream for '${echo(this.ref.key)}'`, { offset: src.offset });
      const stream = createReadStream(src.path, { start: src.offset, end: src.offset + src.storedLength - 1, highWaterMark: 1 << 20 });
      const inflate = createInflateRaw({ chunkSize: 1 << 20 });
      stream.on('error', (e) => inflate.destroy(e));
      this.inflater = stream.pipe(inflate)[Symbol.asyncIterator]();
    }
    let filled = 0;
    const take = (): void => {
      if (this.skipLeft > 0) {
        const s = Math.min(this.skipLeft, this.inflated.length);
        this.inflated = this.inflated.subarray(s);
        this.skipLeft -= s;
      }
      const t = Math.min(bytes - filled, this.inflated.length);
      if (t > 0) {
        this.raw.set(this.inflated.subarray(0, t), filled);
        this.inflated = this.inflated.subarray(t);
        filled += t;
      }
    };
    take();
    while (filled < bytes) {
      let r: IteratorResult<Buffer>;
      try {
        r = await this.inflater.next();
      } catch (e) {
        throw new ReaderError(src.path, `corrupt deflate stream in '${echo(this.ref.key)}': ${(e as Error).message}`, {
          offset: src.offset,
        });
      }
      if (r.done) {
        throw new ReaderError(src.path, `deflate stream of '${echo(this.ref.key)}' ended early`, { offset: src.offset });
      }
      this.inflated = r.value;
      take();
    }
  }

  private view(n: number): FloatChunk {
    const buf = this.raw.buffer;
    const at = this.raw.byteOffset;
    switch (this.ref.dtype) {
      case 'F32':
        return new Float32Array(buf, at, n);
      case 'F64':
        return new Float64Array(buf, at, n);
      case 'F16':
      case 'BF16': {
        const table = this.ref.dtype === 'F16' ? halfTable() : bfloat16Table();
        const src = new Uint16Array(buf, at, n);
        const out = this.widened!;
        for (let i = 0; i < n; i++) out[i] = table[src[i]];
        return out.subarray(0, n);
      }
      case 'U8': {
        const out = this.widened!.subarray(0, n);
        out.set(new Uint8Array(buf, at, n));
        return out;
      }
    }
  }

  close(): void {
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
    if (this.inflater) {
      void this.inflater.return?.();
      this.inflater = null;
    }
  }
}

/** Read a whole tensor as float64 (for small tensors, tests and scalars). */
export async function readTensorValues(ref: TensorBytes): Promise<Float64Array> {
  if (ref.numel > 256 * 1024 * 1024) {
    throw new ReaderError(
      ref.source.path,
      `tensor '${echo(ref.key)}' has ${ref.numel} elements: too large to read whole; use TensorChunkReader`,
    );
  }
  const out = new Float64Array(ref.numel);
  const reader = new TensorChunkReader(ref);
  try {
    let at = 0;
    for (let chunk = await reader.next(); chunk; chunk = await reader.next()) {
      out.set(chunk, at);
      at += chunk.length;
    }
  } finally {
    reader.close();
  }
  return out;
}
