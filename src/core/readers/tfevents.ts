// TensorBoard event files (`events.out.tfevents.*`): TFRecord framing with masked CRC-32C, Event /
// Summary protobufs, scalars and histograms, streamed through a bounded buffer.
//
// Layers, bottom up:
//   scanRecords()   — TFRecord framing over a file handle, 4 MiB chunks; length CRC always checked
//                     (a bad one is fatal from there on), data CRC checked (a bad record is skipped
//                     with a warning), a short tail is "still being written" (warning, not error).
//   EventDecoder    — Event → Summary.Value → simple_value / histo / tensor, into a visitor; only the
//                     needed fields are decoded, everything else (graph_def, …) is skipped unread.
//   RunDataBuilder  — a visitor that maps tags (tags.ts) onto LayerObservation / GlobalObservation /
//                     HistogramObservation figures.
//   tfeventsReader  — the `Reader` (files and run folders); TfeventsTail — resumable live tail.

import { promises as fsp } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type {
  FigureName,
  HistogramObservation,
  LayerObservation,
  NonFiniteObservation,
  GlobalObservation,
  ReadIssue,
  RunData,
  TensorRole,
} from '../run/types';
import type { ReadOptions, Reader } from './reader';
import { issueFromError, ReaderError } from '../errors';
import { emptyRunData } from '../run/types';
import { classifyHistogramTag, classifyScalarTag } from '../run/scalarTags';
import { crc32c as crc32cImported, maskCrc32c as maskCrc32cImported } from '../io/crc32c';
import { fsError, openForStreaming } from '../io/fileBytes';
import { ProtoReader, ProtoWriter, ProtobufError } from './protobuf';

// Hot-loop names as module-local bindings: CommonJS transpilers (tsx, esbuild's cjs output) turn
// imported bindings into getter calls on the module object, which costs in a per-record loop.
const crc32c = crc32cImported;
const maskCrc32c = maskCrc32cImported;
const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

export const TFEVENTS_FORMAT = 'tfevents';
const NAME_MARK = 'events.out.tfevents.';

/** Bytes read from disk per call; a record larger than this grows the buffer (up to MAX_RECORD_BYTES). */
export const CHUNK_BYTES = 4 * 1024 * 1024;
/** Largest record decoded in memory; larger ones (huge graph_defs) are CRC-checked in a stream and skipped. */
export const MAX_RECORD_BYTES = 256 * 1024 * 1024;

// ---- TFRecord framing ------------------------------------------------------------------------

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
  issues: ReadIssue[],
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
        issues.push({
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
      issues.push({
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
        issues.push({
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
      issues.push({
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
      issues.push({
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

// ---- Event decoding ----------------------------------------------------------------------------

/** A histogram as decoded (HistogramProto, or a TF2 [k,3] tensor turned into buckets). */
export type DecodedHistogram = Pick<
  HistogramObservation,
  'num' | 'sum' | 'sumSquares' | 'min' | 'max' | 'bucketLimits' | 'bucketCounts' | 'approximate'
>;

/** What the event decoder hands out, in file order. */
export interface EventVisitor {
  /** `tagId`: the decoder's small integer id of the tag (stable for a stream), or -1 when not interned. */
  scalar(tag: string, step: number, value: number, offset: number, tagId: number): void;
  histogram(tag: string, step: number, histogram: DecodedHistogram, offset: number): void;
}

// TensorProto dtypes (FORMATS.md).
const DT_FLOAT = 1;
const DT_DOUBLE = 2;
const DT_BFLOAT16 = 14;
const DT_HALF = 19;

const TAG_DECODER = new TextDecoder('utf-8');
const MAX_INTERNED = 200_000;

const HALF_TABLE = buildHalfTable();
function buildHalfTable(): Float64Array {
  const t = new Float64Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >>> 10) & 0x1f;
    const f = h & 0x3ff;
    t[h] = e === 0 ? s * f * 2 ** -24 : e === 31 ? (f ? NaN : s * Infinity) : s * (1 + f / 1024) * 2 ** (e - 15);
  }
  return t;
}
const BF16_VIEW = new DataView(new ArrayBuffer(4));
function bf16ToNumber(bits: number): number {
  BF16_VIEW.setUint32(0, (bits & 0xffff) << 16, false);
  return BF16_VIEW.getFloat32(0, false);
}

/**
 * Decodes Event records into an EventVisitor. One instance per stream: it remembers each tag's plugin
 * (TensorBoard writes SummaryMetadata only with a tag's first value) and caches tag strings.
 */
export class EventDecoder {
  private readonly pr = new ProtoReader();
  /** plugin_name by tag, from the first value that carried metadata. */
  readonly pluginByTag = new Map<string, string>();
  /** file_version of the stream (first record), when seen. */
  fileVersion: string | null = null;
  events = 0;

  // Per-record staging, so a malformed record emits nothing (reused arrays: no per-record churn).
  private stTags: string[] = [];
  private stTagIds: number[] = [];
  private stValues: number[] = [];
  private stHists: (DecodedHistogram | null)[] = [];
  private stCount = 0;
  private readonly tensorShape: number[] = [];
  private readonly tensorVals: number[] = [];

  // Tag interning: a file repeats a few thousand tags millions of times. A tag gets a small integer id
  // (handed to the visitor, which can keep per-tag state in an array); a repeated tag costs a byte
  // comparison, no string allocation or UTF-8 decoding. Logs repeat tags in a fixed cycle, so the tag
  // that followed the previous one last time is tried first; otherwise a hash of the bytes finds it.
  // Bounded: past MAX_INTERNED distinct tags, new ones get id -1 and are decoded each time.
  private readonly tagBytes: Uint8Array[] = [];
  private readonly tagViews: DataView[] = [];
  /** Tag strings by id. */
  readonly tagStrings: string[] = [];
  private readonly tagsByHash = new Map<number, number[]>();
  private readonly nextTag: number[] = [];
  private prevTag = -1;
  private uninternedTag = '';

  constructor(private readonly visitor: EventVisitor) {}

  private sameBytes(id: number, b: Uint8Array, start: number, n: number): boolean {
    const cb = this.tagBytes[id]!;
    if (cb.length !== n) return false;
    // Four bytes at a time through DataViews (unaligned reads are fine), then the rest.
    const cv = this.tagViews[id]!;
    let i = 0;
    if (b === this.pr.buf) {
      const bv = this.pr.dataView; // a view of exactly `b`
      for (; i + 4 <= n; i += 4) if (cv.getInt32(i) !== bv.getInt32(start + i)) return false;
    }
    for (; i < n; i++) if (cb[i] !== b[start + i]) return false;
    return true;
  }

  /** Id of the tag in b[start, end) (its string is tagStrings[id]), or -1 with the string in uninternedTag. */
  private internTag(b: Uint8Array, start: number, end: number): number {
    const n = end - start;
    const prev = this.prevTag;
    const guess = prev >= 0 ? this.nextTag[prev]! : -1;
    if (guess >= 0 && this.sameBytes(guess, b, start, n)) return (this.prevTag = guess);
    let h = 0x811c9dc5 ^ n;
    for (let i = start; i < end; i++) h = Math.imul(h ^ b[i]!, 16777619);
    let ids = this.tagsByHash.get(h);
    let id = -1;
    if (ids !== undefined) {
      for (let k = 0; k < ids.length; k++) {
        if (this.sameBytes(ids[k]!, b, start, n)) {
          id = ids[k]!;
          break;
        }
      }
    }
    if (id < 0) {
      const str = TAG_DECODER.decode(b.subarray(start, end));
      if (this.tagStrings.length >= MAX_INTERNED) {
        this.uninternedTag = str;
        this.prevTag = -1;
        return -1;
      }
      id = this.tagStrings.length;
      this.tagStrings.push(str);
      // A copy: the read buffer is reused (and Buffer#slice would only be a view of it).
      const copy = Uint8Array.prototype.slice.call(b, start, end);
      this.tagBytes.push(copy);
      this.tagViews.push(new DataView(copy.buffer, copy.byteOffset, copy.byteLength));
      this.nextTag.push(-1);
      if (ids === undefined) this.tagsByHash.set(h, (ids = []));
      ids.push(id);
    }
    if (prev >= 0) this.nextTag[prev] = id;
    return (this.prevTag = id);
  }

  /** Decode one record payload; throws ProtobufError for malformed protobuf (the caller skips the record). */
  decode(buf: Uint8Array, start: number, end: number, offset: number): void {
    const pr = this.pr;
    pr.reset(buf, start, end);
    let step = 0;
    let sumStart = -1;
    let sumEnd = -1;
    while (pr.next()) {
      switch (pr.field) {
        case 2: // step
          pr.expect(WIRE_VARINT);
          step = pr.varint();
          break;
        case 5: // summary
          pr.expect(WIRE_LEN);
          sumEnd = pr.lengthDelimited();
          sumStart = pr.pos;
          pr.pos = sumEnd;
          break;
        case 3: // file_version
          pr.expect(WIRE_LEN);
          this.fileVersion = pr.string();
          break;
        default: // wall_time, graph_def, log_message, session_log, …: not needed
          pr.skip();
      }
    }
    this.events++;
    if (sumStart < 0) return;
    this.stCount = 0;
    pr.pos = sumStart;
    pr.end = sumEnd;
    while (pr.next()) {
      if (pr.is(1, WIRE_LEN)) {
        const outer = pr.enter();
        this.decodeValue();
        pr.leave(outer);
      } else pr.skip();
    }
    const v = this.visitor;
    for (let i = 0; i < this.stCount; i++) {
      const h = this.stHists[i]!;
      if (h) v.histogram(this.stTags[i]!, step, h, offset);
      else v.scalar(this.stTags[i]!, step, this.stValues[i]!, offset, this.stTagIds[i]!);
    }
  }

  private stage(tag: string, tagId: number, value: number, hist: DecodedHistogram | null): void {
    const i = this.stCount++;
    this.stTags[i] = tag;
    this.stTagIds[i] = tagId;
    this.stValues[i] = value;
    this.stHists[i] = hist;
  }

  /** Summary.Value: tag 1, simple_value 2, histo 5, tensor 8, metadata 9. */
  private decodeValue(): void {
    const pr = this.pr;
    let tag: string | null = null;
    let tagId = -1;
    let simple = 0;
    let hasSimple = false;
    let histoStart = -1;
    let histoEnd = -1;
    let tensorStart = -1;
    let tensorEnd = -1;
    let plugin: string | null = null;
    while (pr.next()) {
      switch (pr.field) {
        case 1: {
          pr.expect(WIRE_LEN);
          const e = pr.lengthDelimited();
          tagId = this.internTag(pr.buf, pr.pos, e);
          tag = tagId >= 0 ? this.tagStrings[tagId]! : this.uninternedTag;
          pr.pos = e;
          break;
        }
        case 2:
          pr.expect(WIRE_FIXED32);
          simple = pr.float();
          hasSimple = true;
          break;
        case 5:
          pr.expect(WIRE_LEN);
          histoEnd = pr.lengthDelimited();
          histoStart = pr.pos;
          pr.pos = histoEnd;
          break;
        case 8:
          pr.expect(WIRE_LEN);
          tensorEnd = pr.lengthDelimited();
          tensorStart = pr.pos;
          pr.pos = tensorEnd;
          break;
        case 9: {
          pr.expect(WIRE_LEN);
          const outer = pr.enter();
          plugin = this.decodePluginName();
          pr.leave(outer);
          break;
        }
        default:
          pr.skip();
      }
    }
    if (tag === null) return;
    if (plugin !== null) this.pluginByTag.set(tag, plugin);
    const valueEnd = pr.end;
    if (histoStart >= 0) {
      pr.pos = histoStart;
      pr.end = histoEnd;
      this.stage(tag, tagId, 0, this.decodeHistogram());
    } else if (hasSimple) {
      this.stage(tag, tagId, simple, null);
    } else if (tensorStart >= 0) {
      pr.pos = tensorStart;
      pr.end = tensorEnd;
      this.decodeTensorValue(tag, tagId);
    }
    pr.pos = valueEnd;
    pr.end = valueEnd;
  }

  /** SummaryMetadata.plugin_data(1).plugin_name(1). */
  private decodePluginName(): string | null {
    const pr = this.pr;
    let name: string | null = null;
    while (pr.next()) {
      if (pr.is(1, WIRE_LEN)) {
        const outer = pr.enter();
        while (pr.next()) {
          if (pr.is(1, WIRE_LEN)) name = pr.string();
          else pr.skip();
        }
        pr.leave(outer);
      } else pr.skip();
    }
    return name;
  }

  /** HistogramProto: min 1, max 2, num 3, sum 4, sum_squares 5 (doubles), bucket_limit 6, bucket 7. */
  private decodeHistogram(): DecodedHistogram {
    const pr = this.pr;
    const h: DecodedHistogram = {
      num: 0,
      sum: 0,
      sumSquares: 0,
      min: 0,
      max: 0,
      bucketLimits: [],
      bucketCounts: [],
      approximate: false,
    };
    while (pr.next()) {
      switch (pr.field) {
        case 1:
          pr.expect(WIRE_FIXED64);
          h.min = pr.double();
          break;
        case 2:
          pr.expect(WIRE_FIXED64);
          h.max = pr.double();
          break;
        case 3:
          pr.expect(WIRE_FIXED64);
          h.num = pr.double();
          break;
        case 4:
          pr.expect(WIRE_FIXED64);
          h.sum = pr.double();
          break;
        case 5:
          pr.expect(WIRE_FIXED64);
          h.sumSquares = pr.double();
          break;
        case 6:
          pr.repeatedDouble(h.bucketLimits);
          break;
        case 7:
          pr.repeatedDouble(h.bucketCounts);
          break;
        default:
          pr.skip();
      }
    }
    if (h.bucketLimits.length !== h.bucketCounts.length) {
      throw new ProtobufError(`histogram with ${h.bucketLimits.length} bucket limits but ${h.bucketCounts.length} counts`, pr.pos);
    }
    return h;
  }

  /**
   * TensorProto (dtype 1, tensor_shape 2, tensor_content 4, float_val 5, double_val 6, half_val 13):
   * a rank-0 / one-element float tensor is a scalar (TF2 `scalars` plugin); a [k,3] tensor with plugin
   * `histograms` (or no plugin) is a TF2 histogram (left edge, right edge, count). Others are ignored.
   */
  private decodeTensorValue(tag: string, tagId: number): void {
    const pr = this.pr;
    const shape = this.tensorShape;
    const vals = this.tensorVals;
    shape.length = 0;
    vals.length = 0;
    let dtype = 0;
    let contentStart = -1;
    let contentEnd = -1;
    let halfBits: number[] | null = null;
    while (pr.next()) {
      switch (pr.field) {
        case 1:
          pr.expect(WIRE_VARINT);
          dtype = pr.varint32();
          break;
        case 2: {
          pr.expect(WIRE_LEN);
          const outer = pr.enter();
          while (pr.next()) {
            if (pr.is(2, WIRE_LEN)) {
              const o2 = pr.enter();
              let size = 0;
              while (pr.next()) {
                if (pr.is(1, WIRE_VARINT)) size = pr.varint();
                else pr.skip();
              }
              pr.leave(o2);
              shape.push(size);
            } else pr.skip();
          }
          pr.leave(outer);
          break;
        }
        case 4:
          pr.expect(WIRE_LEN);
          contentEnd = pr.lengthDelimited();
          contentStart = pr.pos;
          pr.pos = contentEnd;
          break;
        case 5:
          pr.repeatedFloat(vals);
          break;
        case 6:
          pr.repeatedDouble(vals);
          break;
        case 13:
          halfBits ??= [];
          pr.repeatedVarint(halfBits);
          break;
        default:
          pr.skip();
      }
    }
    if (dtype !== DT_FLOAT && dtype !== DT_DOUBLE && dtype !== DT_HALF && dtype !== DT_BFLOAT16) return;
    let numel = 1;
    for (const d of shape) numel *= d;
    const plugin = this.pluginByTag.get(tag);
    const isScalar = numel === 1 && (plugin === undefined || plugin === 'scalars');
    const isHist = shape.length === 2 && shape[1] === 3 && (plugin === undefined || plugin === 'histograms');
    if (!isScalar && !isHist) return;
    // Gather the elements (at most 3k for a histogram: bounded by the record, already in memory).
    if (contentStart >= 0) {
      const width = dtype === DT_DOUBLE ? 8 : dtype === DT_FLOAT ? 4 : 2;
      if (contentEnd - contentStart !== numel * width) {
        throw new ProtobufError(
          `tensor_content of ${contentEnd - contentStart} bytes for ${numel} elements of ${width} bytes`,
          contentStart,
        );
      }
      vals.length = 0;
      const dv = pr.dataView;
      for (let q = contentStart; q < contentEnd; q += width) {
        vals.push(
          width === 8
            ? dv.getFloat64(q, true)
            : width === 4
              ? dv.getFloat32(q, true)
              : dtype === DT_HALF
                ? HALF_TABLE[dv.getUint16(q, true)]!
                : bf16ToNumber(dv.getUint16(q, true)),
        );
      }
    } else if (halfBits && vals.length === 0) {
      for (const b of halfBits) vals.push(dtype === DT_HALF ? HALF_TABLE[b & 0xffff]! : bf16ToNumber(b));
    }
    if (isScalar) {
      // TensorFlow fills a one-element tensor from a single stored value; none stored means 0.
      this.stage(tag, tagId, vals.length > 0 ? vals[0]! : 0, null);
      return;
    }
    const k = shape[0]!;
    if (vals.length !== k * 3) {
      if (vals.length === 0 && k === 0) {
        // empty histogram
      } else {
        throw new ProtobufError(`histogram tensor [${k},3] with ${vals.length} values`, pr.pos);
      }
    }
    const h: DecodedHistogram = {
      num: 0,
      sum: 0,
      sumSquares: 0,
      min: k > 0 ? vals[0]! : 0,
      max: k > 0 ? vals[(k - 1) * 3 + 1]! : 0,
      bucketLimits: [],
      bucketCounts: [],
      approximate: true,
    };
    for (let i = 0; i < k; i++) {
      const left = vals[i * 3]!;
      const right = vals[i * 3 + 1]!;
      const count = vals[i * 3 + 2]!;
      const centre = (left + right) / 2;
      h.num += count;
      h.sum += centre * count;
      h.sumSquares += centre * centre * count;
      h.bucketLimits.push(right);
      h.bucketCounts.push(count);
    }
    this.stage(tag, tagId, 0, h);
  }
}

// ---- RunData from events -----------------------------------------------------------------------

/** Per-layer state of the builder; `gen` tells whether it belongs to the current RunData. */
interface LayerSlot {
  layer: string;
  gen: number;
  /** The observation the layer's figures of the current step go into. */
  last: LayerObservation | null;
  /** Figures already set in `last` (bit per figure, see figureBit). */
  mask: number;
}

const FIGURE_BITS = new Map<string, number>();
/** A bit per figure name (31 figures at most share bits; more fall back to bit 0 and a property check). */
function figureBit(figure: string): number {
  let b = FIGURE_BITS.get(figure);
  if (b === undefined) {
    b = FIGURE_BITS.size < 30 ? 1 << (FIGURE_BITS.size + 1) : 1;
    FIGURE_BITS.set(figure, b);
  }
  return b;
}

type ScalarMeaning =
  { kind: 'layer'; slot: LayerSlot; figure: FigureName; bit: number } | { kind: 'global'; key: string } | { kind: 'none' };

type HistogramMeaning = { kind: 'histogram'; layer: string; role: TensorRole | null; quantity: string } | { kind: 'none' };

/** Ratio figures: +inf is a division by a zero parameter RMS (zero-initialised layer), i.e. undefined. */
const RATIO_FIGURES: ReadonlySet<FigureName> = new Set<FigureName>(['relStep', 'relStepPredicted']);

/** Builds RunData from decoded events; merges a layer's figures of one step into one observation. */
export class RunDataBuilder implements EventVisitor {
  run: RunData = emptyRunData();
  path = '';
  private readonly scalarMeaning = new Map<string, ScalarMeaning>();
  /** Scalar meaning by the decoder's tag id: an array index instead of a string-keyed lookup per value. */
  private readonly meaningById: (ScalarMeaning | undefined)[] = [];
  private readonly histMeaning = new Map<string, HistogramMeaning>();
  private readonly slots = new Map<string, LayerSlot>();
  private gen = 0;
  private lastGlobal: GlobalObservation | null = null;
  private globalByStep = new Map<number, GlobalObservation>();
  private nonFiniteByTag = new Map<string, NonFiniteObservation>();

  /** Start a fresh RunData (tag caches are kept: they hold no per-run data). */
  startRun(): RunData {
    this.run = emptyRunData();
    this.gen++;
    this.lastGlobal = null;
    this.globalByStep = new Map();
    this.nonFiniteByTag = new Map();
    return this.run;
  }

  private slotOf(layer: string): LayerSlot {
    let slot = this.slots.get(layer);
    if (slot === undefined) {
      slot = { layer, gen: -1, last: null, mask: 0 };
      this.slots.set(layer, slot);
    }
    return slot;
  }

  /** Make the slot current for this RunData (first appearance: layer order). */
  private touch(slot: LayerSlot): void {
    if (slot.gen !== this.gen) {
      slot.gen = this.gen;
      slot.last = null;
      this.run.layerOrder.push(slot.layer);
    }
  }

  private meaningOf(tag: string): ScalarMeaning {
    let m = this.scalarMeaning.get(tag);
    if (m === undefined) {
      const c = classifyScalarTag(tag);
      if (c !== null && c.kind === 'layer') m = { kind: 'layer', slot: this.slotOf(c.layer), figure: c.figure, bit: figureBit(c.figure) };
      else if (c !== null && c.kind === 'global') {
        // Same key scheme as the JSONL/CSV readers: a learning rate of parameter group k > 0 is lr/pg<k>.
        m = { kind: 'global', key: c.key === 'lr' && c.paramGroup ? `lr/pg${c.paramGroup}` : c.key };
      } else m = { kind: 'none' };
      this.scalarMeaning.set(tag, m);
    }
    return m;
  }

  private noteNonFinite(tag: string, step: number, layer: string | null): void {
    // One observation per tag (first step, count of values), not one per value.
    const key = `${this.path}\u0000${tag}`;
    const seen = this.nonFiniteByTag.get(key);
    if (seen) {
      seen.count++;
      return;
    }
    const rec: NonFiniteObservation = { path: this.path, step, layer, what: tag, count: 1 };
    this.nonFiniteByTag.set(key, rec);
    this.run.nonFinite.push(rec);
  }

  scalar(tag: string, step: number, value: number, _offset = 0, tagId = -1): void {
    let m = tagId >= 0 ? this.meaningById[tagId] : undefined;
    if (m === undefined) {
      m = this.meaningOf(tag);
      if (tagId >= 0) this.meaningById[tagId] = m;
    }
    if (m.kind === 'none') return;
    if (m.kind === 'global') {
      if (!Number.isFinite(value)) {
        this.noteNonFinite(tag, step, null);
        return;
      }
      let g = this.lastGlobal;
      if (g === null || g.step !== step) g = this.globalByStep.get(step) ?? null;
      if (g === null || m.key in g.values) {
        g = { step, values: {} };
        this.globalByStep.set(step, g);
        this.run.globals.push(g);
      }
      this.lastGlobal = g;
      g.values[m.key] = value;
      return;
    }
    const slot = m.slot;
    const layer = slot.layer;
    const figure = m.figure;
    let v: number | null = value;
    this.touch(slot);
    if (!Number.isFinite(value)) {
      // rel_step = |Δp| / |p| is +inf exactly when the parameter was all zeros: undefined (null), not a
      // blow-up. Any other NaN/inf is reported as non-finite and not stored as a figure.
      if (value === Infinity && RATIO_FIGURES.has(figure)) v = null;
      else {
        this.noteNonFinite(tag, step, layer);
        return;
      }
    }
    let o = slot.last;
    const bit = m.bit;
    if (o === null || o.step !== step || ((slot.mask & bit) !== 0 && (bit !== 1 || figure in o.figures))) {
      o = { step, layer, figures: {} };
      slot.last = o;
      slot.mask = 0;
      this.run.observations.push(o);
    }
    slot.mask |= bit;
    (o.figures as Record<string, number | null>)[figure] = v;
  }

  histogram(tag: string, step: number, h: DecodedHistogram, offset = 0): void {
    let m = this.histMeaning.get(tag);
    if (m === undefined) {
      const c = classifyHistogramTag(tag);
      m =
        c !== null && c.kind === 'histogram' ? { kind: 'histogram', layer: c.layer, role: c.role, quantity: c.quantity } : { kind: 'none' };
      this.histMeaning.set(tag, m);
    }
    if (m.kind === 'none') return;
    this.touch(this.slotOf(m.layer));
    // A tensor with NaN/inf elements gives NaN/inf sums: reported as non-finite, not turned into an RMS.
    if (!Number.isFinite(h.sumSquares) || !Number.isFinite(h.sum) || !Number.isFinite(h.num)) {
      this.noteNonFinite(tag, step, m.layer);
      return;
    }
    if (h.num < 0 || h.sumSquares < 0) {
      this.run.issues.push({
        severity: 'warning',
        path: this.path,
        offset,
        message: `histogram ${tag} at step ${step} has num ${h.num} and sum_squares ${h.sumSquares}: ignored`,
      });
      return;
    }
    const obs: HistogramObservation = {
      step,
      layer: m.layer,
      // adam_u/<L>, updates/<L> are not tensor roles: role null (types.ts says TensorRole; the engine
      // reads `quantity` for them), never a made-up role that would pass for a parameter.
      role: m.role as TensorRole,
      num: h.num,
      sum: h.sum,
      sumSquares: h.sumSquares,
      min: h.min,
      max: h.max,
      bucketLimits: h.bucketLimits,
      bucketCounts: h.bucketCounts,
      approximate: h.approximate,
    };
    obs.quantity = m.quantity;
    this.run.histograms.push(obs);
  }
}

/** RMS of a histogram (exact for `histo` summaries; approximate when `approximate`); null when empty. */
export function histogramRms(h: Pick<HistogramObservation, 'num' | 'sumSquares'>): number | null {
  return h.num > 0 ? Math.sqrt(h.sumSquares / h.num) : null;
}

// ---- One stream: a file read from an offset ------------------------------------------------------

interface StreamState {
  decoder: EventDecoder;
  builder: RunDataBuilder;
}

function newStream(): StreamState {
  const builder = new RunDataBuilder();
  return { builder, decoder: new EventDecoder(builder) };
}

async function readStream(
  path: string,
  state: StreamState,
  startOffset: number,
  options: ScanOptions,
): Promise<{ scan: ScanResult; fileSize: number; malformed: number }> {
  const { handle: fh, size } = await openForStreaming(path);
  try {
    return await scanStream(fh, size, path, state, startOffset, options);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** Scan records of a source into the stream's builder; malformed events become warnings. */
async function scanStream(
  source: PositionalReader,
  size: number,
  path: string,
  state: StreamState,
  startOffset: number,
  options: ScanOptions,
): Promise<{ scan: ScanResult; fileSize: number; malformed: number }> {
  const issues = state.builder.run.issues;
  const decoder = state.decoder;
  let malformed = 0;
  state.builder.path = path;
  const sink: RecordSink = (buf, start, end, offset) => {
    try {
      decoder.decode(buf, start, end, offset);
    } catch (err) {
      if (!(err instanceof ProtobufError)) throw err;
      malformed++;
      issues.push({
        severity: 'warning',
        path,
        offset,
        message: `malformed event in this record (${err.message} at payload byte ${err.at - start}): record skipped`,
      });
    }
  };
  let scan: ScanResult;
  try {
    scan = await scanRecords(source, path, Math.min(startOffset, size), size, sink, issues, options);
  } catch (err) {
    // fs errors (EIO, …) become ReaderErrors; an abort and anything else (a bug) propagate as they are.
    if (err && typeof err === 'object' && 'code' in err && typeof (err as NodeJS.ErrnoException).syscall === 'string') {
      throw fsError(path, err);
    }
    throw err;
  }
  return { scan, fileSize: size, malformed };
}

/** Read one event file into RunData. Throws ReaderError only when nothing at all is usable. */
export async function readTfeventsFile(path: string, options: ReadOptions & { chunkBytes?: number } = {}): Promise<RunData> {
  const state = newStream();
  const run = state.builder.startRun();
  run.inputs.push({ path, format: TFEVENTS_FORMAT });
  const r = await readStream(path, state, 0, {
    signal: options.signal,
    onProgress: options.onProgress,
    chunkBytes: options.chunkBytes,
  });
  return finishRun(path, state, r.scan, r.malformed);
}

/**
 * Read an event file that is already in memory (`path` only names it in messages). Same framing,
 * decoding and error reporting as readTfeventsFile.
 */
export async function readTfeventsBytes(
  bytes: Uint8Array,
  path: string,
  options: ReadOptions & { chunkBytes?: number; maxRecordBytes?: number } = {},
): Promise<RunData> {
  const state = newStream();
  const run = state.builder.startRun();
  run.inputs.push({ path, format: TFEVENTS_FORMAT });
  const r = await scanStream(memoryReader(bytes), bytes.length, path, state, 0, {
    signal: options.signal,
    onProgress: options.onProgress,
    chunkBytes: options.chunkBytes,
    maxRecordBytes: options.maxRecordBytes,
  });
  return finishRun(path, state, r.scan, r.malformed);
}

/** Whole-file checks after a scan: nothing usable → ReaderError; an empty file → a warning. */
function finishRun(path: string, state: StreamState, scan: ScanResult, malformed: number): RunData {
  const run = state.builder.run;
  if (scan.records - malformed <= 0) {
    const first = run.issues.find((i) => i.severity === 'error') ?? run.issues[0];
    if (first && (scan.fatal || scan.skipped > 0 || malformed > 0)) {
      throw new ReaderError(path, `no readable event records: ${first.message}`, { offset: first.offset });
    }
    if (scan.endOffset === 0 && scan.truncatedAt === null && run.issues.length === 0) {
      run.issues.push({ severity: 'warning', path, offset: 0, message: 'empty event file (no records yet)' });
    }
  }
  const fv = state.decoder.fileVersion;
  if (fv !== null && !fv.startsWith('brain.Event:')) {
    run.issues.push({ severity: 'warning', path, offset: 0, message: `unexpected file_version "${fv.slice(0, 40)}"` });
  }
  return run;
}

/** All `events.out.tfevents.*` files under `dir` (recursively), sorted by relative path. */
export async function findEventFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, depth: number): Promise<void> => {
    if (depth > 8) return;
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fsp.readdir(d, { withFileTypes: true });
    } catch (err) {
      throw fsError(d, err);
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p, depth + 1);
      else if (e.isFile() && e.name.includes(NAME_MARK)) out.push(p);
    }
  };
  await walk(dir, 0);
  return out;
}

/**
 * Read a run folder: its event files, in name order, merged into one RunData (TensorBoard writes a new
 * file per restart; their steps continue). Sub-folders are separate runs to TensorBoard (`add_scalars`,
 * one folder per experiment), so they are read only when the folder itself holds no event file — then
 * all of them are merged, with a warning naming them. A file that is unreadable as a whole becomes an
 * error issue; the folder throws only when no file gave anything.
 */
export async function readTfeventsFolder(dir: string, options: ReadOptions = {}): Promise<RunData> {
  const all = await findEventFiles(dir);
  if (all.length === 0) throw new ReaderError(dir, `no ${NAME_MARK}* files in this folder`);
  const own = all.filter((f) => dirname(f) === join(dir));
  const files = own.length > 0 ? own : all;
  const merged = emptyRunData();
  const folders = [...new Set(files.map((f) => dirname(f)))];
  if (folders.length > 1) {
    merged.issues.push({
      severity: 'warning',
      path: dir,
      message: `merged the event files of ${folders.length} sub-folders (${folders
        .slice(0, 5)
        .map((f) => relative(dir, f))
        .join(', ')}${folders.length > 5 ? ', …' : ''}); TensorBoard shows each as a separate run: open one of them to see it alone`,
    });
  }
  const layers = new Set<string>();
  let usable = 0;
  for (let i = 0; i < files.length; i++) {
    const f = files[i]!;
    let r: RunData;
    try {
      r = await readTfeventsFile(f, {
        signal: options.signal,
        onProgress: options.onProgress ? (x) => options.onProgress!((i + x) / files.length) : undefined,
      });
    } catch (err) {
      if (!(err instanceof ReaderError)) throw err;
      merged.inputs.push({ path: f, format: TFEVENTS_FORMAT });
      merged.issues.push(issueFromError(err));
      continue;
    }
    usable++;
    merged.inputs.push(...r.inputs);
    for (const l of r.layerOrder) {
      if (!layers.has(l)) {
        layers.add(l);
        merged.layerOrder.push(l);
      }
    }
    for (const o of r.observations) merged.observations.push(o);
    for (const g of r.globals) merged.globals.push(g);
    for (const h of r.histograms) merged.histograms.push(h);
    for (const n of r.nonFinite) merged.nonFinite.push(n);
    for (const x of r.issues) merged.issues.push(x);
  }
  if (usable === 0) throw new ReaderError(dir, `no readable event file: ${merged.issues[0]?.message ?? ''}`);
  return merged;
}

export function isTfeventsName(path: string): boolean {
  const base = path.split(/[\\/]/).pop() ?? path;
  return base.includes(NAME_MARK);
}

/** The `Reader` for TensorBoard event files and folders of them. */
export const tfeventsReader: Reader = {
  format: TFEVENTS_FORMAT,
  detect(path: string, head: Uint8Array): boolean {
    if (!isTfeventsName(path)) return false;
    // A file shorter than one record header may still be being written: the name decides. Otherwise
    // the first record's length CRC must match (cheap and makes a mis-named file fail early).
    if (head.length < 12) return true;
    return maskCrc32c(crc32c(head, 0, 8)) === (head[8]! | (head[9]! << 8) | (head[10]! << 16) | (head[11]! << 24)) >>> 0;
  },
  async read(path: string, options?: ReadOptions): Promise<RunData> {
    let isDir = false;
    try {
      isDir = (await fsp.stat(path)).isDirectory();
    } catch (err) {
      throw fsError(path, err);
    }
    return isDir ? readTfeventsFolder(path, options) : readTfeventsFile(path, options);
  },
};

// ---- Live tail ---------------------------------------------------------------------------------

/**
 * Follows a growing event file: each `readNew()` returns the events appended since the previous call,
 * resuming at the end of the last complete record (a half-written record is picked up next time).
 * Tag plugins and meanings are remembered across calls. If the file shrinks (rewritten), reading
 * restarts from 0 with a warning.
 */
export class TfeventsTail {
  private offset = 0;
  private readonly state = newStream();
  private stopped = false;
  private ino: number | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly path: string) {}

  /** File offset the next read starts at (end of the last complete record). */
  get position(): number {
    return this.offset;
  }

  /** Events appended since the previous call. Calls are serialized (an overlapping call waits its turn). */
  readNew(options: ReadOptions = {}): Promise<RunData> {
    const next = this.queue.then(() => this.readNewNow(options));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async readNewNow(options: ReadOptions): Promise<RunData> {
    const run = this.state.builder.startRun();
    run.inputs.push({ path: this.path, format: TFEVENTS_FORMAT });
    let size: number;
    let ino: number;
    try {
      const st = await fsp.stat(this.path);
      size = st.size;
      ino = st.ino;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e && e.code === 'ENOENT') return run; // not created yet
      throw fsError(this.path, err);
    }
    const replaced = this.ino !== null && ino !== this.ino && this.offset > 0;
    if (size < this.offset || replaced) {
      run.issues.push({
        severity: 'warning',
        path: this.path,
        offset: 0,
        message: replaced
          ? 'the file was replaced by another one: reading it again from the start'
          : `file shrank from ${this.offset} to ${size} bytes: reading it again from the start`,
      });
      this.offset = 0;
      this.stopped = false;
    }
    this.ino = ino;
    if (this.stopped || size === this.offset) return run;
    const { scan } = await readStream(this.path, this.state, this.offset, {
      signal: options.signal,
      onProgress: options.onProgress,
      reportTruncated: false,
    });
    this.offset = scan.endOffset;
    if (scan.fatal) this.stopped = true;
    return run;
  }
}

// ---- Writing (tests, fuzz seeds, the bench) --------------------------------------------------------

/** Frame a payload as one TFRecord: u64 length, masked CRC of the length, data, masked CRC of the data. */
export function frameRecord(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.length + 16);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, payload.length >>> 0, true);
  dv.setUint32(4, Math.floor(payload.length / 4294967296), true);
  dv.setUint32(8, maskCrc32c(crc32c(out, 0, 8)), true);
  out.set(payload, 12);
  dv.setUint32(12 + payload.length, maskCrc32c(crc32c(payload)), true);
  return out;
}

/** The first event of every file: file_version "brain.Event:2". */
export function encodeFileVersionEvent(wallTime = 0): Uint8Array {
  return new ProtoWriter().double(1, wallTime).string(3, 'brain.Event:2').finish();
}

function pluginMetadata(w: ProtoWriter, plugin: string): void {
  w.message(9, (m) => m.message(1, (pd) => pd.string(1, plugin)));
}

/** A tensorboardX / TF1 scalar: Summary.Value.simple_value (float32). */
export function encodeScalarEvent(step: number, tag: string, value: number, wallTime = 0): Uint8Array {
  return new ProtoWriter()
    .double(1, wallTime)
    .varint(2, step)
    .message(5, (s) => s.message(1, (v) => v.string(1, tag).float(2, value)))
    .finish();
}

/** A HistogramProto (`add_histogram`): exact num, sum, sum_squares. */
export function encodeHistogramEvent(
  step: number,
  tag: string,
  h: { min: number; max: number; num: number; sum: number; sumSquares: number; bucketLimits: number[]; bucketCounts: number[] },
  wallTime = 0,
): Uint8Array {
  return new ProtoWriter()
    .double(1, wallTime)
    .varint(2, step)
    .message(5, (s) =>
      s.message(1, (v) =>
        v
          .string(1, tag)
          .message(5, (hp) =>
            hp
              .double(1, h.min)
              .double(2, h.max)
              .double(3, h.num)
              .double(4, h.sum)
              .double(5, h.sumSquares)
              .packedDoubles(6, h.bucketLimits)
              .packedDoubles(7, h.bucketCounts),
          ),
      ),
    )
    .finish();
}

/** A TF2 scalar: rank-0 tensor (DT_FLOAT float_val, or DT_DOUBLE double_val), plugin `scalars` on request. */
export function encodeTensorScalarEvent(
  step: number,
  tag: string,
  value: number,
  opts: { dtype?: 'float' | 'double'; metadata?: boolean; wallTime?: number } = {},
): Uint8Array {
  const dbl = opts.dtype === 'double';
  return new ProtoWriter()
    .double(1, opts.wallTime ?? 0)
    .varint(2, step)
    .message(5, (s) =>
      s.message(1, (v) => {
        v.string(1, tag);
        v.message(8, (t) => {
          t.varint(1, dbl ? DT_DOUBLE : DT_FLOAT).message(2, () => undefined);
          if (dbl) t.packedDoubles(6, [value]);
          else t.packedFloats(5, [value]);
        });
        if (opts.metadata) pluginMetadata(v, 'scalars');
      }),
    )
    .finish();
}

/** A TF2 histogram: [k,3] DT_DOUBLE tensor of (left edge, right edge, count) in tensor_content. */
export function encodeTf2HistogramEvent(
  step: number,
  tag: string,
  buckets: [number, number, number][],
  opts: { metadata?: boolean; wallTime?: number } = {},
): Uint8Array {
  const content = new Uint8Array(buckets.length * 24);
  const dv = new DataView(content.buffer);
  buckets.forEach((b, i) => b.forEach((x, j) => dv.setFloat64((i * 3 + j) * 8, x, true)));
  return new ProtoWriter()
    .double(1, opts.wallTime ?? 0)
    .varint(2, step)
    .message(5, (s) =>
      s.message(1, (v) => {
        v.string(1, tag);
        v.message(8, (t) =>
          t
            .varint(1, DT_DOUBLE)
            .message(2, (sh) => sh.message(2, (d) => d.varint(1, buckets.length)).message(2, (d) => d.varint(1, 3)))
            .bytesField(4, content),
        );
        if (opts.metadata) pluginMetadata(v, 'histograms');
      }),
    )
    .finish();
}
