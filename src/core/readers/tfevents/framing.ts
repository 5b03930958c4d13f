// TFRecord framing of TensorBoard event files, over any positional byte source, through a bounded buffer:
// `u64 length`, `u32 masked_crc32c(length)`, `data[length]`, `u32 masked_crc32c(data)` (FORMATS.md).
// The length CRC is always checked (a bad one is fatal from there on: framing is lost), the data CRC too
// (a bad record is skipped with a warning), and a short tail is "still being written" (a warning, not an
// error). Records larger than the decode limit are CRC-checked in a stream and skipped, never held whole.

import type { IssueLimiter } from '../../run/issueLimit';
import { crc32c as crc32cImported, maskCrc32c as maskCrc32cImported } from '../../io/crc32c';

// Hot-loop names as module-local bindings: CommonJS transpilers (tsx, esbuild's cjs output) turn
// imported bindings into getter calls on the module object, which costs in a per-record loop.
const crc32c = crc32cImported;
const maskCrc32c = maskCrc32cImported;

/** Bytes read from disk per call; a record larger than this grows the buffer (up to MAX_RECORD_BYTES). */
export const CHUNK_BYTES = 4 * 1024 * 1024;
/** Largest record decoded in memory; larger ones (huge graph_defs) are CRC-checked in a stream and skipped. */
export const MAX_RECORD_BYTES = 256 * 1024 * 1024;

export interface ScanResult {
  /** File offset just past the last complete record (where a tail resumes). */
  endOffset: number;
  /** Offset of an incomplete last record (file still being written), or null. */
  truncatedAt: number | null;
  /** True when a bad length CRC stopped the scan. */
  fatal: boolean;
  /** Complete records whose data CRC matched. */
  records: number;
  /** Records skipped for a data CRC mismatch or because they were too large. */
  skipped: number;
}

export interface ScanOptions {
  signal?: AbortSignal;
  onProgress?: (fraction: number) => void;
  /** Bytes per read (tests use small chunks to exercise records that straddle reads). */
  chunkBytes?: number;
  /** Report a truncated tail as a warning (default true; the live tail keeps it quiet). */
  reportTruncated?: boolean;
  /** Largest record decoded in memory (default MAX_RECORD_BYTES); larger ones are CRC-checked in a stream and skipped. */
  maxRecordBytes?: number;
}

/** Where the bytes come from: an fs FileHandle, or anything with the same positional `read`. */
export interface PositionalReader {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
}

/** A PositionalReader over bytes in memory (tests, fuzzing, data that arrived over a message channel). */
export function memoryReader(bytes: Uint8Array): PositionalReader {
  return {
    async read(buffer, offset, length, position) {
      const n = Math.max(0, Math.min(length, bytes.length - position));
      buffer.set(bytes.subarray(position, position + n), offset);
      return { bytesRead: n };
    },
  };
}

/** A record's payload is bytes[start, end) of `buf`; `offset` is the record's file offset. */
export type RecordSink = (buf: Buffer, start: number, end: number, offset: number) => void;

/**
 * Walk the TFRecord records of bytes [startOffset, fileSize) of an open file, handing each payload whose
 * CRCs match to `sink`. Problems go to `issues`; nothing is thrown for bad data (fs errors excepted).
 */
export async function scanRecords(
  fh: PositionalReader,
  path: string,
  startOffset: number,
  fileSize: number,
  sink: RecordSink,
  issues: IssueLimiter,
  options: ScanOptions = {},
): Promise<ScanResult> {
  const chunk = Math.max(64, options.chunkBytes ?? CHUNK_BYTES);
  let buf = Buffer.allocUnsafe(Math.min(chunk, Math.max(64, fileSize - startOffset)));
  let dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let bufStart = startOffset; // file offset of buf[0]
  let have = 0; // valid bytes in buf
  let p = 0; // parse position in buf
  let records = 0;
  let skipped = 0;
  const reportTruncated = options.reportTruncated ?? true;
  const maxRecord = options.maxRecordBytes ?? MAX_RECORD_BYTES;
  const total = Math.max(1, fileSize - startOffset);
  let lastProgress = 0;

  /** Make at least `need` bytes available at buf[p...]; returns the bytes available (< need at EOF). */
  const ensure = async (need: number): Promise<number> => {
    if (have - p >= need) return have - p;
    if (p > 0) {
      buf.copy(buf, 0, p, have);
      bufStart += p;
      have -= p;
      p = 0;
    }
    if (need > buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, Math.min(buf.length * 2, maxRecord + 16)));
      buf.copy(grown, 0, 0, have);
      buf = grown;
      dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    while (have < need) {
      const filePos = bufStart + have;
      const want = Math.min(buf.length - have, fileSize - filePos);
      if (want <= 0) break;
      const { bytesRead } = await fh.read(buf, have, want, filePos);
      if (bytesRead === 0) break;
      have += bytesRead;
    }
    options.signal?.throwIfAborted();
    if (options.onProgress) {
      const f = (bufStart + have - startOffset) / total;
      if (f - lastProgress >= 0.01 || f >= 1) {
        lastProgress = f;
        options.onProgress(Math.min(1, f));
      }
    }
    return have - p;
  };

  for (;;) {
    // Awaiting only when the buffer runs dry: an await per record would cost more than the record.
    const avail = have - p >= 12 ? have - p : await ensure(12);
    const offset = bufStart + p;
    if (avail === 0) return { endOffset: offset, truncatedAt: null, fatal: false, records, skipped };
    if (avail < 12) {
      if (reportTruncated) {
        issues.push('truncated record (file still being written?)', {
          severity: 'warning',
          path,
          offset,
          message: `truncated record at offset ${offset}: ${avail} of the 12 header bytes present (file still being written?)`,
        });
      }
      return { endOffset: offset, truncatedAt: offset, fatal: false, records, skipped };
    }
    const lenLo = dv.getUint32(p, true);
    const lenHi = dv.getUint32(p + 4, true);
    const lenCrc = dv.getUint32(p + 8, true);
    if (maskCrc32c(crc32c(buf, p, p + 8)) !== lenCrc) {
      issues.push('length CRC mismatch (framing lost)', {
        severity: 'error',
        path,
        offset,
        message: `length CRC mismatch in this record: framing lost, the remaining ${fileSize - offset} bytes are not read`,
      });
      return { endOffset: offset, truncatedAt: null, fatal: true, records, skipped };
    }
    const remaining = fileSize - offset;
    // Lengths ≥ 2^32 cannot fit in any file we read; compare in float to avoid overflow.
    const len = lenHi * 4294967296 + lenLo;
    const recordBytes = len + 16;
    if (recordBytes > remaining) {
      if (reportTruncated) {
        issues.push('truncated record (file still being written?)', {
          severity: 'warning',
          path,
          offset,
          message: `truncated record at offset ${offset}: its length field says ${len} bytes of data but the file ends ${remaining} bytes after the record start (file still being written?)`,
        });
      }
      return { endOffset: offset, truncatedAt: offset, fatal: false, records, skipped };
    }
    if (len > maxRecord) {
      // Stream the data through the CRC in chunks; never hold it whole.
      p += 12;
      let crc = 0;
      let left = len;
      while (left > 0) {
        const a = await ensure(Math.min(left, buf.length));
        const n = Math.min(a, left);
        if (n <= 0) break;
        crc = crc32c(buf, p, p + n, crc);
        p += n;
        left -= n;
      }
      await ensure(4);
      const stored = buf.readUInt32LE(p);
      p += 4;
      skipped++;
      issues.push('over-long records (skipped)', {
        severity: 'warning',
        path,
        offset,
        message: `record holds ${len} bytes (more than ${maxRecord}): skipped${maskCrc32c(crc) !== stored ? ' (and its data CRC does not match)' : ''}`,
      });
      continue;
    }
    if (have - p < recordBytes) await ensure(recordBytes);
    const dataStart = p + 12;
    const dataEnd = dataStart + len;
    const dataCrc = dv.getUint32(dataEnd, true);
    if (maskCrc32c(crc32c(buf, dataStart, dataEnd)) !== dataCrc) {
      skipped++;
      issues.push('data CRC mismatches (records skipped)', {
        severity: 'warning',
        path,
        offset,
        message: `data CRC mismatch in this record: record skipped`,
      });
    } else {
      records++;
      sink(buf, dataStart, dataEnd, offset);
    }
    p += recordBytes;
  }
}
